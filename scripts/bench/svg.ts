/**
 * A hand-written SVG bar chart of the results: one panel per figure, one bar
 * per target, each panel scaled to its own largest value. No dependency.
 */
import { FIGURES, formatRatio, formatValue, type BenchResults, type FigureKey } from './report.js';
import { TARGET_NAMES, type TargetName } from './options.js';

const COLORS: Record<TargetName, string> = {
  direct: '#8c8c8c',
  svcproxy: '#2b6cb0',
  'svcproxy-js': '#63b3ed',
  'node-pipe': '#805ad5',
  haproxy: '#dd6b20',
  nginx: '#2f855a',
};

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** svcproxy's ratio to HAProxy (or, without it, to nginx), as " (0.57x haproxy)". */
function against(results: BenchResults, key: FigureKey): string {
  for (const peer of ['haproxy', 'nginx'] as const) {
    const r = results.ratios.svcproxy?.[peer]?.[key];
    if (r !== undefined) return ` (${formatRatio(r)} ${peer})`;
  }
  return '';
}

const PANEL_W = 460;
const LABEL_W = 70;
const BAR_H = 16;
const GAP = 4;
const COLS = 2;

function panel(results: BenchResults, index: number, present: readonly TargetName[], x: number, y: number): string {
  const f = FIGURES[index];
  if (f === undefined) return '';
  const values = present.map((t) => results.figures[t]?.[f.key]);
  const max = Math.max(0, ...values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
  const barMax = PANEL_W - LABEL_W - 140;
  const title = `${f.label} (${f.unit}, ${f.better} is better)`;
  const parts = [`<text x="${x}" y="${y + 12}" class="t">${escapeXml(title)}</text>`];
  present.forEach((t, i) => {
    const v = values[i];
    const by = y + 20 + i * (BAR_H + GAP);
    const w = v === undefined || max === 0 ? 0 : Math.max(1, (v / max) * barMax);
    parts.push(
      `<text x="${x + LABEL_W - 6}" y="${by + 12}" class="l">${t}</text>`,
      `<rect x="${x + LABEL_W}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${COLORS[t]}"/>`,
      `<text x="${x + LABEL_W + w + 4}" y="${by + 12}" class="v">${escapeXml(v === undefined ? 'n/a' : `${formatValue(v, f.unit)}${t === 'svcproxy' ? against(results, f.key) : ''}`)}</text>`,
    );
  });
  return parts.join('\n');
}

export function renderSvg(results: BenchResults): string {
  const present = TARGET_NAMES.filter((t) => results.figures[t] !== undefined);
  const panelH = 20 + present.length * (BAR_H + GAP) + 18;
  const rows = Math.ceil(FIGURES.length / COLS);
  const width = COLS * PANEL_W + 20;
  const height = 50 + rows * panelH;
  const m = results.machine;
  const subtitle = `${results.date.slice(0, 16).replace('T', ' ')} UTC · ${m.cpu}, ${m.cores} cores · Linux ${m.kernel} · Node ${m.node} · generator: ${results.generator.impl}${results.smoke ? ' · SMOKE RUN (tiny sizes)' : ''}`;
  const panels = FIGURES.map((_, i) => panel(results, i, present, 10 + (i % COLS) * PANEL_W, 46 + Math.floor(i / COLS) * panelH));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<style>.h{font-size:15px;font-weight:bold}.s{font-size:11px;fill:#555}.t{font-size:12px;font-weight:bold}.l{font-size:11px;text-anchor:end}.v{font-size:11px}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="20" class="h">svcproxy bench: direct vs svcproxy (native, js) vs Node pipe vs HAProxy vs nginx (loopback)</text>
<text x="10" y="36" class="s">${escapeXml(subtitle)}</text>
${panels.join('\n')}
</svg>
`;
}
