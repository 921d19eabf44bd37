/**
 * GET /: the dashboard, one self-contained page (inline CSS and JS, no CDN,
 * nothing to build). It is a TypeScript string so that `tsc` ships it in
 * dist/ with the rest; the Dockerfile copies only dist/.
 *
 * The first paint comes from the snapshot the page is served with (inlined
 * as JSON: no zeros or "Loading..." until a round trip). The page then
 * follows /api/events: stats ticks update the live numbers, the per-endpoint
 * counts and the sparklines in place; reload, listener and readiness events
 * re-fetch the structure (/api/services, /api/config). Rates show "-" until
 * the first tick has measured them. Each sparkline is labelled with its peak
 * (its scale). With many Service ports the endpoint tables fold away behind a
 * one-line summary, so 30 ports fit in about two screens. With --workers the
 * header lists the workers and each port says how its connections split.
 * When the socket closes (svcproxy restarting) the page says so and
 * reconnects with a growing delay (0.5 s to 5 s). Below the Services, the
 * Pods table says where each Pod's process is expected and whether it is
 * ready (re-read on readiness and pods events).
 *
 * The script is written without template literals (this file is one) and
 * builds the DOM with textContent only: names come from user config.
 */

const STYLE = `
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
table.pods th:nth-child(1) { width:28%; } table.pods th:nth-child(2) { width:18%; } table.pods th:nth-child(3) { width:12%; } table.pods th:nth-child(4) { width:16%; } table.pods th:nth-child(5) { width:10%; }
#pods-box { background:#fff; border:1px solid var(--line); border-radius:6px; padding:6px 12px; margin-bottom:8px; }
.empty { padding:24px; text-align:center; color:var(--muted); background:#fff; border:1px dashed var(--line); border-radius:6px; }
`;

const SCRIPT = `
'use strict';
var HISTORY = 60;
var SPARK_W = 180;
var SPARK_H = 30;
/** Up to this many Service ports, endpoint tables are unfolded; beyond, each folds behind a summary line. */
var UNFOLD_UP_TO = 6;
/** Up to this many Pods, the Pods table is unfolded. */
var PODS_UNFOLD_UP_TO = 20;
var state = { pods: [], services: [], serviceInfo: {}, config: null, workers: null, history: {}, live: {}, retryMs: 500, refreshTimer: 0, open: {} };

function el(tag, attrs) {
  var node = document.createElement(tag);
  for (var k in attrs || {}) {
    if (k === 'text') node.textContent = attrs[k]; else node.setAttribute(k, attrs[k]);
  }
  for (var i = 2; i < arguments.length; i++) if (arguments[i]) node.appendChild(arguments[i]);
  return node;
}
function svgEl(tag, attrs) {
  var node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (var k in attrs) node.setAttribute(k, attrs[k]);
  return node;
}
function bytes(n) {
  var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  var i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(Math.round(n)) : n.toFixed(1)) + ' ' + units[i];
}
function time(iso) { return iso ? new Date(iso).toLocaleTimeString() : 'never'; }
function sum(obj) { var n = 0; for (var k in obj) n += obj[k]; return n; }

function setStatus(text, cls) {
  var s = document.getElementById('conn-status');
  s.textContent = text;
  s.className = 'pill ' + cls;
}

function renderHeader() {
  var c = state.config;
  var ready = document.getElementById('ready');
  ready.textContent = c.ready ? 'ready' : 'not ready: ' + c.reason;
  ready.className = 'pill ' + (c.ready ? 'ok' : 'bad');
  document.getElementById('config-meta').textContent = c.config + ' \\u00b7 ' + (c.hash ? c.hash.slice(0, 12) : 'no config') +
    ' \\u00b7 loaded ' + time(c.loadedAt) + ' \\u00b7 reloads ' + c.reloads.success + ' ok, ' + c.reloads.failure + ' failed';
  var box = document.getElementById('reload-errors');
  if (c.lastReload.result === 'failure') {
    box.style.display = 'block';
    box.replaceChildren(
      el('h2', { text: 'Last reload failed at ' + time(c.lastReload.at) + '; still serving the config loaded at ' + time(c.loadedAt) }),
      el('pre', { text: c.lastReload.errors.join('\\n') }));
  } else {
    box.style.display = 'none';
    box.replaceChildren();
  }
  var workers = document.getElementById('workers');
  workers.replaceChildren.apply(workers, (state.workers || []).map(function (w) {
    var cls = w.ready ? 'ok' : (w.state === 'running' ? 'bad' : 'warn');
    return el('span', { class: 'pill ' + cls, 'data-worker': String(w.worker),
      text: 'worker ' + w.worker + ' \\u00b7 pid ' + w.pid + ' \\u00b7 ' + (w.ready ? 'ready' : w.reason) + ' \\u00b7 ' + bytes(w.residentBytes) +
        (w.restarts > 0 ? ' \\u00b7 restarted ' + w.restarts + '\\u00d7' : '') + (w.stale ? ' \\u00b7 not answering' : '') });
  }));
}

function conditionOf(e) {
  if (e.terminating) return { text: e.serving ? 'terminating (serving)' : 'terminating', cls: 'warn' };
  if (!e.ready) return { text: 'not ready', cls: 'bad' };
  if (e.ejected) return { text: 'ready, skipped after failed dials', cls: 'warn' };
  return { text: 'ready', cls: 'ok' };
}

function stat(label, field) {
  return el('div', { class: 'stat' }, el('b', { 'data-field': field, text: '-' }), el('span', { text: label }));
}

function toxicText(x) {
  var attrs = Object.keys(x.attributes).map(function (k) { return k + '=' + x.attributes[k]; }).join(' ');
  return x.type + ' ' + x.stream + (attrs ? ' ' + attrs : '') + (x.toxicity < 1 ? ' toxicity=' + x.toxicity : '') +
    ' (' + (x.source === 'api' ? 'API' : x.owner) + ')' + (x.active ? '' : ' waiting/ended');
}

function toxicPills(list) {
  var box = el('span', { 'data-field': 'toxics' });
  list.forEach(function (x) { box.appendChild(el('span', { class: 'pill' + (x.active ? '' : ' idle'), title: x.name, text: toxicText(x) })); });
  return box;
}

function endpointSummary(endpoints) {
  var counts = {};
  endpoints.forEach(function (e) { var c = conditionOf(e).text; counts[c] = (counts[c] || 0) + 1; });
  return Object.keys(counts).map(function (k) { return counts[k] + ' ' + k; }).join(', ');
}

function renderEndpoints(p, live, unfold) {
  if (p.endpoints.length === 0) return el('div', { class: 'sub muted', text: 'no endpoints: connections are reset' });
  var rows = el('tbody');
  p.endpoints.forEach(function (e) {
    var cond = conditionOf(e);
    var active = el('td', { 'data-field': 'active', text: String(e.activeConnections) });
    var total = el('td', { 'data-field': 'connections', text: String(e.connections) });
    live.endpoints[e.id] = { active: active, total: total };
    rows.appendChild(el('tr', { 'data-endpoint': e.id },
      el('td', { text: e.id }), el('td', null, el('span', { class: 'pill ' + cond.cls, 'data-field': 'state', text: cond.text })),
      el('td', null, document.createTextNode(e.source + (e.pod ? ' ' + e.pod : '')), (e.toxics || []).length ? el('div', { class: 'toxics' }, toxicPills(e.toxics)) : null),
      active, total));
  });
  var table = el('table', null, el('thead', null, el('tr', null, el('th', { text: 'endpoint' }), el('th', { text: 'condition' }),
    el('th', { text: 'source' }), el('th', { text: 'active' }), el('th', { text: 'connections' }))), rows);
  var details = el('details', null, el('summary', { 'data-field': 'endpoints', text: p.endpoints.length + ' endpoint' + (p.endpoints.length === 1 ? '' : 's') + ': ' + endpointSummary(p.endpoints) }), table);
  // A fold the user opened or closed stays that way across re-renders.
  var open = state.open[p.key];
  if (open === undefined ? unfold : open) details.setAttribute('open', '');
  details.addEventListener('toggle', function () { state.open[p.key] = details.open; });
  return details;
}

function renderPort(p, unfold, compact) {
  var live = { endpoints: {}, byWorker: null };
  var name = (p.portName === '' ? 'port ' : p.portName + ' \\u00b7 ') + p.port + ' \\u2192 ' + p.targetPort + '/' + p.protocol;
  var head = el('div', { class: 'port-head' },
    el('div', { class: 'port-name', text: compact ? p.namespace + '/' + p.service + '  ' + name : name }),
    stat('active', 'active'), stat('conn/s', 'cps'), stat('connections', 'connections'),
    stat('in/s', 'rx'), stat('out/s', 'tx'), stat('reset', 'rejected'), stat('dial failures', 'failures'));
  var sparkH = compact ? 18 : SPARK_H;
  var svg = svgEl('svg', { class: 'spark', width: String(SPARK_W), height: String(sparkH), viewBox: '0 0 ' + SPARK_W + ' ' + SPARK_H, preserveAspectRatio: 'none' });
  var peak = el('span', { class: 'peak', 'data-field': 'peak', text: 'peak -' });
  head.appendChild(el('div', { class: 'spark-box', title: 'bytes per second over the last minute: blue from clients, purple from endpoints; the top of the chart is the peak' }, svg, peak));
  var sub = el('div', { class: 'sub' });
  head.firstChild.setAttribute('title', p.listeners.map(function (l) { return l.address + ' ' + l.state; }).join('\\n'));
  p.listeners.forEach(function (l) {
    // A compact line names only the listeners that are not listening.
    if (compact && l.state === 'listening') return;
    var cls = l.state === 'listening' ? 'ok' : (l.state === 'binding' ? 'warn' : 'bad');
    sub.appendChild(el('span', null, el('span', { text: l.address + ' ' }),
      el('span', { class: 'pill ' + cls, 'data-field': 'listener', text: l.state + (l.error ? ': ' + l.error : '') })));
  });
  if (p.workers) {
    live.byWorker = el('span', { class: 'muted', 'data-field': 'by-worker' });
    sub.appendChild(live.byWorker);
  }
  var toxics = (p.toxics || []).length ? el('div', { class: 'toxics' }, document.createTextNode('toxics: '), toxicPills(p.toxics)) : null;
  var section = el('div', { class: 'port', 'data-key': p.key }, head, sub.firstChild ? sub : null, toxics, renderEndpoints(p, live, unfold));
  live.head = head;
  live.svg = svg;
  live.peak = peak;
  state.live[p.key] = live;
  updatePort(p.key, {
    activeConnections: p.totals.activeConnections, connections: p.totals.connections, connectionsPerSecond: null,
    rejectedConnections: sum(p.totals.rejected), connectFailures: p.totals.connectFailures,
    downstreamRxBytesPerSecond: null, upstreamRxBytesPerSecond: null, upstreams: null, upstreamConnections: null });
  if (live.byWorker) live.byWorker.textContent = 'connections by worker: ' + p.workers.map(function (w) { return 'w' + w.worker + ' ' + w.totals.connections; }).join(' \\u00b7 ');
  return section;
}

function serviceMeta(info) {
  if (!info) return null;
  var parts = [];
  if (info.addresses.length > 0) parts.push(info.addresses.join(', '));
  else if (info.headless) parts.push('headless');
  if (info.externalName) parts.push('CNAME ' + info.externalName);
  if (info.names.length > 0) parts.push(info.names[0]);
  if (info.mappedFrom.length > 0) parts.push('manifest clusterIP ' + info.mappedFrom.join(', ') + ' mapped');
  if (info.source && info.source.indexOf('cluster:') === 0) parts.push('from ' + info.source.replace(/\\[0\\]$/, ''));
  return el('span', { class: 'meta', 'data-field': 'addresses', text: '  ' + parts.join(' \\u00b7 ') });
}

function renderServices() {
  var root = document.getElementById('services');
  state.live = {};
  var byService = {};
  var order = [];
  state.services.forEach(function (p) {
    var name = p.namespace + '/' + p.service;
    if (!byService[name]) { byService[name] = []; order.push(name); }
    byService[name].push(p);
  });
  // Services without a port that is proxied (ExternalName, headless) are listed too, for their names.
  Object.keys(state.serviceInfo).sort().forEach(function (name) {
    if (!byService[name]) { byService[name] = []; order.push(name); }
  });
  // Few ports: a card per Service, endpoint tables unfolded. Many: one line per port in a single list,
  // endpoint tables folded behind their summary, so 30 ports fit in about two screens.
  var compact = state.services.length > UNFOLD_UP_TO;
  var cards;
  if (compact) {
    var list = el('section', { class: 'service compact' });
    order.forEach(function (name) {
      if (byService[name].length === 0) list.appendChild(el('div', { class: 'port', 'data-service': name }, el('span', { class: 'port-name', text: name }), serviceMeta(state.serviceInfo[name])));
      byService[name].forEach(function (p) {
        var row = renderPort(p, false, true);
        row.setAttribute('data-service', name);
        var meta = serviceMeta(state.serviceInfo[name]);
        if (meta) row.firstChild.firstChild.appendChild(meta);
        list.appendChild(row);
      });
    });
    cards = [list];
  } else {
    cards = order.map(function (name) {
      var card = el('section', { class: 'service', 'data-service': name }, el('h2', { text: name }, serviceMeta(state.serviceInfo[name])));
      byService[name].forEach(function (p) { card.appendChild(renderPort(p, true, false)); });
      return card;
    });
  }
  if (cards.length === 0) cards = [el('div', { class: 'empty', text: 'No Service ports are configured.' })];
  root.replaceChildren.apply(root, cards);
}

function podState(p) {
  if (p.terminating) return { text: 'terminating', cls: 'warn' };
  return p.ready ? { text: 'ready', cls: 'ok' } : { text: 'not ready', cls: 'bad' };
}

function renderPods() {
  var root = document.getElementById('pods');
  var pods = state.pods || [];
  if (pods.length === 0) { root.replaceChildren(el('div', { class: 'muted', text: 'No Pods.' })); return; }
  var rows = el('tbody');
  pods.forEach(function (p) {
    var st = podState(p);
    var ports = p.ports.map(function (x) { return (x.name ? x.name + ' ' : '') + x.port + '/' + x.protocol + (x.servedAt !== p.address + ':' + x.port ? ' at ' + x.servedAt : ''); }).join(', ');
    var workload = p.workload ? p.workload.kind + ' ' + p.workload.name + (p.binding ? ' (bound by ' + p.binding + ')' : '') : 'Pod (as written)';
    rows.appendChild(el('tr', { 'data-pod': p.key },
      el('td', { text: p.key, title: p.services.length ? 'backs ' + p.services.join(', ') : 'no Service selects it' }),
      el('td', { text: workload }),
      el('td', { 'data-field': 'address', text: p.address }),
      el('td', { text: ports || '-' }),
      el('td', null, el('span', { class: 'pill ' + st.cls, 'data-field': 'state', title: p.reason, text: st.text })),
      el('td', { text: p.readinessProbe, title: p.reason })));
  });
  var table = el('table', { class: 'pods' }, el('thead', null, el('tr', null, el('th', { text: 'pod' }), el('th', { text: 'workload' }),
    el('th', { text: 'address' }), el('th', { text: 'ports' }), el('th', { text: 'state' }), el('th', { text: 'readiness probe' }))), rows);
  var ready = pods.filter(function (p) { return p.ready && !p.terminating; }).length;
  var details = el('details', null, el('summary', { 'data-field': 'pods', text: pods.length + ' Pod' + (pods.length === 1 ? '' : 's') + ', ' + ready + ' ready' }), table);
  var open = state.open['pods'];
  if (open === undefined ? pods.length <= PODS_UNFOLD_UP_TO : open) details.setAttribute('open', '');
  details.addEventListener('toggle', function () { state.open['pods'] = details.open; });
  root.replaceChildren(details);
}

function sparkline(live, points) {
  var max = 0;
  points.forEach(function (p) { max = Math.max(max, p.rx, p.tx); });
  var scale = Math.max(1, max);
  // Until HISTORY ticks have come, the points we have are spread over the whole width.
  var step = SPARK_W / Math.max(1, points.length - 1);
  var line = function (field) {
    return points.map(function (p, i) {
      return (i * step).toFixed(1) + ',' + (SPARK_H - 2 - (p[field] / scale) * (SPARK_H - 5)).toFixed(1);
    }).join(' ');
  };
  live.svg.replaceChildren(
    svgEl('polyline', { points: line('rx'), fill: 'none', stroke: 'var(--rx)', 'stroke-width': '1.5' }),
    svgEl('polyline', { points: line('tx'), fill: 'none', stroke: 'var(--tx)', 'stroke-width': '1.5' }));
  live.svg.setAttribute('data-points', String(points.length));
  live.peak.textContent = points.length === 0 ? 'peak -' : 'peak ' + bytes(max) + '/s';
}

function updatePort(key, t) {
  var live = state.live[key];
  if (!live) return;
  var set = function (field, text) { var n = live.head.querySelector('[data-field="' + field + '"]'); if (n) n.textContent = text; };
  set('active', String(t.activeConnections));
  set('connections', String(t.connections));
  set('rejected', String(t.rejectedConnections));
  set('failures', String(t.connectFailures));
  var h = state.history[key] || (state.history[key] = []);
  if (t.connectionsPerSecond !== null) {
    set('cps', String(t.connectionsPerSecond));
    set('rx', bytes(t.downstreamRxBytesPerSecond) + '/s');
    set('tx', bytes(t.upstreamRxBytesPerSecond) + '/s');
    h.push({ rx: t.downstreamRxBytesPerSecond, tx: t.upstreamRxBytesPerSecond });
    if (h.length > HISTORY) h.shift();
  } else if (h.length > 0) {
    // A re-render between ticks keeps the last measured rates rather than going back to "-".
    var last = h[h.length - 1];
    set('rx', bytes(last.rx) + '/s');
    set('tx', bytes(last.tx) + '/s');
  }
  sparkline(live, h);
  var id;
  if (t.upstreams) for (id in t.upstreams) if (live.endpoints[id]) live.endpoints[id].active.textContent = String(t.upstreams[id]);
  if (t.upstreamConnections) for (id in t.upstreamConnections) if (live.endpoints[id]) live.endpoints[id].total.textContent = String(t.upstreamConnections[id]);
}

function logEvent(m) {
  var text;
  if (m.type === 'reload') text = 'reload (' + m.trigger + '): ' + m.result + (m.result === 'success' ? ', ' + m.changes + ' changes' : ', ' + m.errors.length + ' problems');
  else if (m.type === 'listener') text = 'listener ' + m.listener + ' (' + m.servicePort + '): ' + m.state + (m.error ? ': ' + m.error : '');
  else if (m.type === 'readiness') text = 'pod ' + m.pod + ' ' + (m.ready ? 'ready' : 'not ready') + ': ' + m.reason;
  else if (m.type === 'toxics') text = 'toxics changed';
  else if (m.type === 'pods') text = 'pods changed';
  else return;
  if (m.worker !== undefined) text += ' (worker ' + m.worker + ')';
  var log = document.getElementById('events');
  var placeholder = log.querySelector('.muted');
  if (placeholder) placeholder.remove();
  log.insertBefore(el('div', { text: new Date(m.time).toLocaleTimeString() + '  ' + text }), log.firstChild);
  while (log.childNodes.length > 50) log.removeChild(log.lastChild);
}

function show(services, config, pods) {
  state.services = services.servicePorts;
  if (pods) state.pods = pods;
  state.serviceInfo = {};
  (services.services || []).forEach(function (info) { state.serviceInfo[info.key] = info; });
  state.workers = services.workers || null;
  state.config = config;
  renderHeader();
  renderServices();
  renderPods();
}

function refresh() {
  return Promise.all([fetch('api/services'), fetch('api/config'), fetch('api/pods')]).then(function (r) {
    return Promise.all([r[0].json(), r[1].json(), r[2].json()]);
  }).then(function (data) {
    show(data[0], data[1], data[2].pods);
  }).catch(function () { /* the socket's close handler reports the outage */ });
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refresh, 100);
}

function connect() {
  var ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + location.pathname.replace(/[^/]*$/, '') + 'api/events');
  ws.onopen = function () {
    state.retryMs = 500;
    setStatus('live', 'ok');
    refresh();
  };
  ws.onmessage = function (event) {
    var m = JSON.parse(event.data);
    if (m.type === 'hello') { document.getElementById('version').textContent = 'v' + m.version; return; }
    if (m.type === 'stats') { m.servicePorts.forEach(function (t) { updatePort(t.key, t); }); return; }
    logEvent(m);
    scheduleRefresh();
  };
  ws.onclose = function () {
    var wait = state.retryMs;
    state.retryMs = Math.min(5000, state.retryMs * 2);
    setStatus('disconnected; reconnecting in ' + (wait / 1000) + ' s', 'bad');
    setTimeout(connect, wait);
  };
}

var initial = JSON.parse(document.getElementById('initial').textContent);
show(initial.services, initial.config, initial.pods);
connect();
`;

/** What the page is served with, for its first paint. */
export interface DashboardSnapshot {
  readonly services: unknown;
  readonly config: unknown;
  readonly pods: unknown;
}

/** JSON that is safe inside a <script> element: no `<` (so no `</script>`), no U+2028/2029. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The page, with the current snapshot inlined for its first paint. */
export function dashboardHtml(initial: DashboardSnapshot): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>svcproxy</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>svcproxy <span id="version" class="meta"></span></h1>
  <span id="conn-status" class="pill warn">connecting</span>
  <span id="ready" class="pill warn">unknown</span>
  <span id="config-meta" class="meta"></span>
  <div id="workers"></div>
</header>
<main>
  <div id="reload-errors" role="alert"></div>
  <div id="services"></div>
  <h3 class="meta">Pods</h3>
  <div id="pods-box"><div id="pods"></div></div>
  <h3 class="meta">Events</h3>
  <div id="events"><div class="muted">No events since this page connected.</div></div>
</main>
<script id="initial" type="application/json">${scriptJson(initial)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
