/** The dashboard's CSS, inlined into the page (no stylesheet to fetch). */
export const STYLE = `
:root { --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#f6f8fa; --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; --rx:#0969da; --tx:#8250df; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; flex-wrap:wrap; gap:10px; align-items:center; padding:10px 20px; background:#fff; border-bottom:1px solid var(--line); }
header h1 { font-size:18px; margin:0 12px 0 0; }
main { padding:12px 20px; max-width:1480px; }
.pill { display:inline-block; padding:0 8px; border-radius:999px; font-size:12px; font-weight:600; border:1px solid currentColor; white-space:nowrap; }
.ok { color:var(--ok); } .warn { color:var(--warn); } .bad { color:var(--bad); } .muted { color:var(--muted); }
.meta { color:var(--muted); font-size:12px; }
#workers { display:flex; flex-wrap:wrap; gap:6px; width:100%; }
#workers:empty { display:none; }
#reload-errors { display:none; margin-bottom:12px; padding:10px 14px; border:1px solid var(--bad); border-radius:6px; background:#ffebe9; }
#cluster-outage { display:none; margin-bottom:12px; padding:8px 14px; border:1px solid var(--warn); border-radius:6px; background:#fff8c5; color:var(--warn); font-weight:600; }
#reload-errors h2 { margin:0 0 6px; font-size:15px; color:var(--bad); }
#reload-errors pre { margin:0; white-space:pre-wrap; font:12px/1.5 ui-monospace, monospace; }
.service { background:#fff; border:1px solid var(--line); border-radius:6px; margin-bottom:8px; }
.service > h2 { margin:0; padding:5px 12px; font-size:14px; border-bottom:1px solid var(--line); background:#fbfcfd; border-radius:6px 6px 0 0; }
.port { padding:5px 12px; border-bottom:1px solid #eaeef2; }
.port:last-child { border-bottom:0; }
.port-head { display:flex; flex-wrap:wrap; gap:4px 14px; align-items:center; }
.port-name { font-weight:600; min-width:190px; }
.stat { min-width:64px; } .stat b { display:block; font-size:15px; font-variant-numeric:tabular-nums; line-height:1.2; } .stat span { color:var(--muted); font-size:10px; text-transform:uppercase; }
.spark-box { display:flex; align-items:center; gap:6px; }
.peak { font-size:11px; color:var(--muted); min-width:84px; font-variant-numeric:tabular-nums; }
.spark-text { display:flex; flex-direction:column; line-height:1.2; } .spark-text .legend i { margin-left:0; } .legend i.rx { background:var(--rx); } .legend i.tx { background:var(--tx); margin-left:8px; }
.sub { display:flex; flex-wrap:wrap; gap:2px 14px; font-size:12px; margin-top:2px; }
.sub > span { white-space:nowrap; }
details > summary { cursor:pointer; font-size:12px; color:var(--muted); }
table { border-collapse:collapse; width:100%; margin-top:4px; font-size:13px; table-layout:fixed; }
th:nth-child(1) { width:24%; } th:nth-child(2) { width:26%; } th:nth-child(3) { width:26%; }
th, td { text-align:left; padding:2px 8px 2px 0; border-top:1px solid #eaeef2; font-variant-numeric:tabular-nums; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
th { color:var(--muted); font-weight:500; font-size:11px; text-transform:uppercase; }
svg.spark { display:block; background:#fbfcfd; border:1px solid #eaeef2; border-radius:4px; }
.legend { font-size:11px; color:var(--muted); } .legend i { display:inline-block; width:10px; height:2px; vertical-align:middle; margin:0 4px 0 8px; }
#events { font:12px/1.5 ui-monospace, monospace; background:#fff; border:1px solid var(--line); border-radius:6px; padding:8px 12px; max-height:200px; overflow:auto; }
.compact .port { padding:3px 10px; }
.compact .port-head { gap:2px 12px; }
.compact .port-name { min-width:300px; font-weight:500; }
.compact .stat { min-width:0; } .compact .stat b { display:inline; font-size:13px; } .compact .stat span { margin-left:3px; }
.compact .sub { margin-top:0; }
.toxics { margin:6px 0; font-size:12px; color:var(--bad); }
.toxics .pill { margin-right:6px; font-weight:500; } .toxics .idle { color:var(--muted); }
table.pods th:nth-child(1) { width:26%; } table.pods th:nth-child(2) { width:15%; } table.pods th:nth-child(3) { width:10%; } table.pods th:nth-child(4) { width:13%; } table.pods th:nth-child(5) { width:8%; }
table.pods td:nth-child(6) { white-space:normal; overflow-wrap:anywhere; }
#pods-box { background:#fff; border:1px solid var(--line); border-radius:6px; padding:6px 12px; margin-bottom:8px; }
.empty { padding:24px; text-align:center; color:var(--muted); background:#fff; border:1px dashed var(--line); border-radius:6px; }
`;
