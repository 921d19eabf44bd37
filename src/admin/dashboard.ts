/**
 * GET /: the dashboard, one self-contained page (inline CSS and JS, no CDN,
 * nothing to build). It is a TypeScript string so that `tsc` ships it in
 * dist/ with the rest; the Dockerfile copies only dist/.
 *
 * The page fetches /api/services and /api/config, then follows
 * /api/events: stats ticks update the live numbers and sparklines in place;
 * reload, listener and readiness events re-fetch the structure. When the
 * socket closes (svcproxy restarting) it says so and reconnects with a
 * growing delay (0.5 s to 5 s).
 *
 * The script is written without template literals (this file is one) and
 * builds the DOM with textContent only: names come from user config.
 */

const STYLE = `
:root { --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#f6f8fa; --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; --rx:#0969da; --tx:#8250df; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; flex-wrap:wrap; gap:12px; align-items:center; padding:12px 20px; background:#fff; border-bottom:1px solid var(--line); }
header h1 { font-size:18px; margin:0 12px 0 0; }
main { padding:16px 20px; max-width:1440px; }
.pill { display:inline-block; padding:1px 9px; border-radius:999px; font-size:12px; font-weight:600; border:1px solid currentColor; }
.ok { color:var(--ok); } .warn { color:var(--warn); } .bad { color:var(--bad); } .muted { color:var(--muted); }
.meta { color:var(--muted); font-size:12px; }
#reload-errors { display:none; margin-bottom:16px; padding:12px 16px; border:1px solid var(--bad); border-radius:6px; background:#ffebe9; }
#reload-errors h2 { margin:0 0 6px; font-size:15px; color:var(--bad); }
#reload-errors pre { margin:0; white-space:pre-wrap; font:12px/1.5 ui-monospace, monospace; }
.service { background:#fff; border:1px solid var(--line); border-radius:6px; margin-bottom:16px; }
.service > h2 { margin:0; padding:10px 14px; font-size:15px; border-bottom:1px solid var(--line); }
.port { padding:10px 14px; border-bottom:1px solid var(--line); }
.port:last-child { border-bottom:0; }
.port-head { display:flex; flex-wrap:wrap; gap:18px; align-items:center; }
.port-name { font-weight:600; min-width:170px; }
.stat { min-width:78px; } .stat b { display:block; font-size:18px; font-variant-numeric:tabular-nums; } .stat span { color:var(--muted); font-size:11px; text-transform:uppercase; }
.listeners { margin:6px 0; font-size:12px; }
.listeners span { margin-right:12px; }
table { border-collapse:collapse; width:100%; margin-top:6px; font-size:13px; table-layout:fixed; }
th:nth-child(1) { width:24%; } th:nth-child(2) { width:26%; } th:nth-child(3) { width:26%; }
th, td { text-align:left; padding:3px 8px 3px 0; border-top:1px solid #eaeef2; font-variant-numeric:tabular-nums; }
th { color:var(--muted); font-weight:500; font-size:11px; text-transform:uppercase; }
svg.spark { display:block; background:#fbfcfd; border:1px solid #eaeef2; border-radius:4px; }
.legend { font-size:11px; color:var(--muted); } .legend i { display:inline-block; width:10px; height:2px; vertical-align:middle; margin:0 4px 0 8px; }
#events { font:12px/1.5 ui-monospace, monospace; background:#fff; border:1px solid var(--line); border-radius:6px; padding:8px 12px; max-height:200px; overflow:auto; }
.toxics { margin:6px 0; font-size:12px; color:var(--bad); }
.toxics .pill { margin-right:6px; font-weight:500; } .toxics .idle { color:var(--muted); }
.empty { padding:24px; text-align:center; color:var(--muted); background:#fff; border:1px dashed var(--line); border-radius:6px; }
`;

const SCRIPT = `
'use strict';
var HISTORY = 60;
var SPARK_W = 220;
var SPARK_H = 44;
var state = { services: [], serviceInfo: {}, config: null, history: {}, live: {}, retryMs: 500, refreshTimer: 0, version: '' };

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
}

function conditionOf(e) {
  if (e.terminating) return { text: e.serving ? 'terminating (serving)' : 'terminating', cls: 'warn' };
  if (!e.ready) return { text: 'not ready', cls: 'bad' };
  if (e.ejected) return { text: 'ready, skipped after failed dials', cls: 'warn' };
  return { text: 'ready', cls: 'ok' };
}

function stat(label, field) {
  return el('div', { class: 'stat' }, el('b', { 'data-field': field, text: '0' }), el('span', { text: label }));
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

function renderPort(p) {
  var live = { endpoints: {} };
  var head = el('div', { class: 'port-head' },
    el('div', { class: 'port-name', text: (p.portName === '' ? 'port ' : p.portName + ' \\u00b7 ') + p.port + ' \\u2192 ' + p.targetPort + '/' + p.protocol }),
    stat('active', 'active'), stat('conn/s', 'cps'), stat('connections', 'connections'),
    stat('in/s', 'rx'), stat('out/s', 'tx'), stat('reset', 'rejected'), stat('dial failures', 'failures'));
  var svg = svgEl('svg', { class: 'spark', width: String(SPARK_W), height: String(SPARK_H), viewBox: '0 0 ' + SPARK_W + ' ' + SPARK_H });
  head.appendChild(el('div', null, svg, el('div', { class: 'legend' },
    el('i', { style: 'background:var(--rx)' }), document.createTextNode('from clients'),
    el('i', { style: 'background:var(--tx)' }), document.createTextNode('from endpoints'))));
  var listeners = el('div', { class: 'listeners' });
  p.listeners.forEach(function (l) {
    var cls = l.state === 'listening' ? 'ok' : (l.state === 'binding' ? 'warn' : 'bad');
    listeners.appendChild(el('span', null, el('span', { text: l.address + ' ' }),
      el('span', { class: 'pill ' + cls, 'data-field': 'listener', text: l.state + (l.error ? ': ' + l.error : '') })));
  });
  var rows = el('tbody');
  p.endpoints.forEach(function (e) {
    var cond = conditionOf(e);
    var active = el('td', { 'data-field': 'active', text: String(e.activeConnections) });
    live.endpoints[e.id] = active;
    rows.appendChild(el('tr', { 'data-endpoint': e.id },
      el('td', { text: e.id }), el('td', null, el('span', { class: 'pill ' + cond.cls, 'data-field': 'state', text: cond.text })),
      el('td', null, document.createTextNode(e.source + (e.pod ? ' ' + e.pod : '')), (e.toxics || []).length ? el('div', { class: 'toxics' }, toxicPills(e.toxics)) : null),
      active, el('td', { text: String(e.connections) })));
  });
  var table = p.endpoints.length === 0 ? el('div', { class: 'muted', text: 'no endpoints: connections are reset' }) :
    el('table', null, el('thead', null, el('tr', null, el('th', { text: 'endpoint' }), el('th', { text: 'condition' }),
      el('th', { text: 'source' }), el('th', { text: 'active' }), el('th', { text: 'connections' }))), rows);
  var toxics = (p.toxics || []).length ? el('div', { class: 'toxics' }, document.createTextNode('toxics: '), toxicPills(p.toxics)) : null;
  var section = el('div', { class: 'port', 'data-key': p.key }, head, listeners, toxics, table);
  live.head = head;
  live.svg = svg;
  state.live[p.key] = live;
  var r = p.totals.rejected;
  updatePort(p.key, {
    activeConnections: p.totals.activeConnections, connections: p.totals.connections, connectionsPerSecond: null,
    rejectedConnections: Object.keys(r).reduce(function (sum, k) { return sum + r[k]; }, 0), connectFailures: p.totals.connectFailures,
    downstreamRxBytesPerSecond: null, upstreamRxBytesPerSecond: null, upstreams: null });
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
  return el('span', { class: 'meta', 'data-field': 'addresses', text: '  ' + parts.join(' \u00b7 ') });
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
  Object.keys(state.serviceInfo).sort().forEach(function (name) {
    if (!byService[name]) { byService[name] = []; order.push(name); }
  });
  var cards = order.map(function (name) {
    var card = el('section', { class: 'service', 'data-service': name }, el('h2', { text: name }, serviceMeta(state.serviceInfo[name])));
    byService[name].forEach(function (p) { card.appendChild(renderPort(p)); });
    return card;
  });
  if (cards.length === 0) cards = [el('div', { class: 'empty', text: 'No Service ports are configured.' })];
  root.replaceChildren.apply(root, cards);
}

function sparkline(svg, points) {
  var max = 1;
  points.forEach(function (p) { max = Math.max(max, p.rx, p.tx); });
  // Until HISTORY ticks have come, the points we have are spread over the whole width.
  var step = SPARK_W / Math.max(1, points.length - 1);
  var line = function (field) {
    return points.map(function (p, i) {
      return (i * step).toFixed(1) + ',' + (SPARK_H - 3 - (p[field] / max) * (SPARK_H - 8)).toFixed(1);
    }).join(' ');
  };
  svg.replaceChildren(
    svgEl('polyline', { points: line('rx'), fill: 'none', stroke: 'var(--rx)', 'stroke-width': '1.5' }),
    svgEl('polyline', { points: line('tx'), fill: 'none', stroke: 'var(--tx)', 'stroke-width': '1.5' }));
  svg.setAttribute('data-points', String(points.length));
}

function updatePort(key, t) {
  var live = state.live[key];
  if (!live) return;
  var set = function (field, text) { var n = live.head.querySelector('[data-field="' + field + '"]'); if (n) n.textContent = text; };
  set('active', String(t.activeConnections));
  set('connections', String(t.connections));
  set('rejected', String(t.rejectedConnections));
  set('failures', String(t.connectFailures));
  if (t.connectionsPerSecond !== null) set('cps', String(t.connectionsPerSecond));
  if (t.downstreamRxBytesPerSecond !== null) {
    set('rx', bytes(t.downstreamRxBytesPerSecond) + '/s');
    set('tx', bytes(t.upstreamRxBytesPerSecond) + '/s');
    var h = state.history[key] || (state.history[key] = []);
    h.push({ rx: t.downstreamRxBytesPerSecond, tx: t.upstreamRxBytesPerSecond });
    if (h.length > HISTORY) h.shift();
  }
  sparkline(live.svg, state.history[key] || []);
  if (t.upstreams) for (var id in t.upstreams) if (live.endpoints[id]) live.endpoints[id].textContent = String(t.upstreams[id]);
}

function logEvent(m) {
  var text;
  if (m.type === 'reload') text = 'reload (' + m.trigger + '): ' + m.result + (m.result === 'success' ? ', ' + m.changes + ' changes' : ', ' + m.errors.length + ' problems');
  else if (m.type === 'listener') text = 'listener ' + m.listener + ' (' + m.servicePort + '): ' + m.state + (m.error ? ': ' + m.error : '');
  else if (m.type === 'readiness') text = 'pod ' + m.pod + ' ' + (m.ready ? 'ready' : 'not ready') + ': ' + m.reason;
  else if (m.type === 'toxics') text = 'toxics changed';
  else return;
  var log = document.getElementById('events');
  var placeholder = log.querySelector('.muted');
  if (placeholder) placeholder.remove();
  log.insertBefore(el('div', { text: new Date(m.time).toLocaleTimeString() + '  ' + text }), log.firstChild);
  while (log.childNodes.length > 50) log.removeChild(log.lastChild);
}

function refresh() {
  return Promise.all([fetch('api/services'), fetch('api/config')]).then(function (r) {
    return Promise.all([r[0].json(), r[1].json()]);
  }).then(function (data) {
    state.services = data[0].servicePorts;
    state.serviceInfo = {};
    (data[0].services || []).forEach(function (info) { state.serviceInfo[info.key] = info; });
    state.config = data[1];
    renderHeader();
    renderServices();
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

connect();
`;

export const DASHBOARD_HTML = `<!doctype html>
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
</header>
<main>
  <div id="reload-errors" role="alert"></div>
  <div id="services"><div class="empty">Loading...</div></div>
  <h3 class="meta">Events</h3>
  <div id="events"><div class="muted">No events since this page connected.</div></div>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
