/** One Service port: its line of figures and sparkline, its listeners, toxics and endpoint table; and updating them on a tick. */

const HISTORY = 60;
const SPARK_W = 180;
const SPARK_H = 30;

function conditionOf(e: EndpointInfo): Condition {
  if (e.terminating) return { text: e.serving ? 'terminating (serving)' : 'terminating', cls: 'warn' };
  if (!e.ready) return { text: 'not ready', cls: 'bad' };
  if (e.ejected) return { text: 'ready, skipped after failed dials', cls: 'warn' };
  return { text: 'ready', cls: 'ok' };
}

function stat(label: string, field: string): HTMLElement {
  return el('div', { class: 'stat' }, el('b', { 'data-field': field, text: '-' }), el('span', { text: label }));
}

function toxicText(x: ToxicInfo): string {
  const attrs = Object.entries(x.attributes)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return (
    `${x.type} ${x.stream}${attrs ? ` ${attrs}` : ''}${x.toxicity < 1 ? ` toxicity=${x.toxicity}` : ''}` +
    ` (${x.source === 'api' ? 'API' : x.owner})${x.active ? '' : ' waiting/ended'}`
  );
}

function toxicPills(list: readonly ToxicInfo[]): HTMLElement {
  const box = el('span', { 'data-field': 'toxics' });
  for (const x of list) box.appendChild(el('span', { class: `pill${x.active ? '' : ' idle'}`, title: x.name, text: toxicText(x) }));
  return box;
}

function endpointSummary(endpoints: readonly EndpointInfo[]): string {
  const counts = new Map<string, number>();
  for (const e of endpoints) {
    const c = conditionOf(e).text;
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
}

function endpointRow(e: EndpointInfo, live: LivePort): HTMLElement {
  const cond = conditionOf(e);
  const active = el('td', { 'data-field': 'active', text: String(e.activeConnections) });
  const total = el('td', { 'data-field': 'connections', text: String(e.connections) });
  live.endpoints[e.id] = { active, total };
  const source = el(
    'td',
    null,
    document.createTextNode(e.source + (e.pod ? ` ${e.pod}` : '')),
    e.reachedBy === 'portforward'
      ? el('span', { class: 'pill', 'data-field': 'reached-by', title: "through the API server's pods/portforward", text: 'port-forward' })
      : null,
    e.toxics.length ? el('div', { class: 'toxics' }, toxicPills(e.toxics)) : null,
  );
  return el(
    'tr',
    { 'data-endpoint': e.id },
    el('td', { text: e.id }),
    el('td', null, el('span', { class: `pill ${cond.cls}`, 'data-field': 'state', text: cond.text })),
    source,
    active,
    total,
  );
}

function renderEndpoints(p: PortInfo, live: LivePort, unfold: boolean): HTMLElement {
  if (p.endpoints.length === 0) return el('div', { class: 'sub muted', text: 'no endpoints: connections are reset' });
  const rows = el('tbody', null, ...p.endpoints.map((e) => endpointRow(e, live)));
  const table = el('table', null, headerRow('endpoint', 'condition', 'source', 'active', 'connections'), rows);
  const summary = el('summary', { 'data-field': 'endpoints', text: `${plural(p.endpoints.length, 'endpoint')}: ${endpointSummary(p.endpoints)}` });
  return foldable(p.key, summary, table, unfold);
}

/** The listeners line; a compact one names only the listeners that are not listening. */
function listenerLine(p: PortInfo, compact: boolean): HTMLElement {
  const sub = el('div', { class: 'sub' });
  for (const l of p.listeners) {
    if (compact && l.state === 'listening') continue;
    const cls = l.state === 'listening' ? 'ok' : l.state === 'binding' ? 'warn' : 'bad';
    sub.appendChild(
      el(
        'span',
        null,
        el('span', { text: `${l.address} ` }),
        el('span', { class: `pill ${cls}`, 'data-field': 'listener', text: l.state + (l.error ? `: ${l.error}` : '') }),
      ),
    );
  }
  return sub;
}

function portHead(p: PortInfo, compact: boolean): HTMLElement {
  const name = `${p.portName === '' ? 'port ' : `${p.portName} \u00b7 `}${p.port} \u2192 ${p.targetPort}/${p.protocol}`;
  const title = p.listeners.map((l) => `${l.address} ${l.state}`).join('\n');
  return el(
    'div',
    { class: 'port-head' },
    el('div', { class: 'port-name', title, text: compact ? `${p.namespace}/${p.service}  ${name}` : name }),
    stat('active', 'active'),
    stat('conn/s', 'cps'),
    stat('connections', 'connections'),
    stat('in/s', 'rx'),
    stat('out/s', 'tx'),
    stat('reset', 'rejected'),
    stat('dial failures', 'failures'),
  );
}

function renderPort(p: PortInfo, unfold: boolean, compact: boolean): HTMLElement {
  const head = portHead(p, compact);
  const svg = svgEl('svg', {
    class: 'spark',
    width: String(SPARK_W),
    height: String(compact ? 18 : SPARK_H),
    viewBox: `0 0 ${SPARK_W} ${SPARK_H}`,
    preserveAspectRatio: 'none',
  });
  const peak = el('span', { class: 'peak', 'data-field': 'peak', text: 'peak -' });
  const sparkTitle = 'bytes per second over the last minute: blue from clients, purple from endpoints; the top of the chart is the peak';
  head.appendChild(el('div', { class: 'spark-box', title: sparkTitle }, svg, peak));
  const live: LivePort = { head, svg, peak, endpoints: {}, byWorker: null };
  const sub = listenerLine(p, compact);
  if (p.workers) {
    live.byWorker = el('span', { class: 'muted', 'data-field': 'by-worker' });
    sub.appendChild(live.byWorker);
  }
  const toxics = p.toxics.length ? el('div', { class: 'toxics' }, document.createTextNode('toxics: '), toxicPills(p.toxics)) : null;
  const section = el('div', { class: 'port', 'data-key': p.key }, head, sub.firstChild ? sub : null, toxics, renderEndpoints(p, live, unfold));
  state.live[p.key] = live;
  const t = p.totals;
  updatePort(p.key, {
    activeConnections: t.activeConnections,
    connections: t.connections,
    connectionsPerSecond: null,
    rejectedConnections: sum(t.rejected),
    connectFailures: t.connectFailures,
    downstreamRxBytesPerSecond: null,
    upstreamRxBytesPerSecond: null,
    upstreams: null,
    upstreamConnections: null,
  });
  if (live.byWorker && p.workers)
    live.byWorker.textContent = `connections by worker: ${p.workers.map((w) => `w${w.worker} ${w.totals.connections}`).join(' \u00b7 ')}`;
  return section;
}

function sparkline(live: LivePort, points: readonly RatePoint[]): void {
  const max = points.reduce((m, p) => Math.max(m, p.rx, p.tx), 0);
  const scale = Math.max(1, max);
  // Until HISTORY ticks have come, the points we have are spread over the whole width.
  const step = SPARK_W / Math.max(1, points.length - 1);
  const line = (field: keyof RatePoint): string =>
    points.map((p, i) => `${(i * step).toFixed(1)},${(SPARK_H - 2 - (p[field] / scale) * (SPARK_H - 5)).toFixed(1)}`).join(' ');
  live.svg.replaceChildren(
    svgEl('polyline', { points: line('rx'), fill: 'none', stroke: 'var(--rx)', 'stroke-width': '1.5' }),
    svgEl('polyline', { points: line('tx'), fill: 'none', stroke: 'var(--tx)', 'stroke-width': '1.5' }),
  );
  live.svg.setAttribute('data-points', String(points.length));
  live.peak.textContent = points.length === 0 ? 'peak -' : `peak ${bytes(max)}/s`;
}

/** Records the rates of a tick (when measured) in the port's history and returns the point to show, if any. */
function recordRates(key: string, t: PortNumbers): { readonly points: readonly RatePoint[]; readonly shown: RatePoint | undefined } {
  const h = state.history[key] ?? (state.history[key] = []);
  if (t.connectionsPerSecond !== null && t.downstreamRxBytesPerSecond !== null && t.upstreamRxBytesPerSecond !== null) {
    h.push({ rx: t.downstreamRxBytesPerSecond, tx: t.upstreamRxBytesPerSecond });
    if (h.length > HISTORY) h.shift();
  }
  // A re-render between ticks keeps the last measured rates rather than going back to "-".
  return { points: h, shown: h[h.length - 1] };
}

function updatePort(key: string, t: PortNumbers): void {
  const live = state.live[key];
  if (!live) return;
  const set = (field: string, text: string): void => {
    const n = live.head.querySelector(`[data-field="${field}"]`);
    if (n) n.textContent = text;
  };
  set('active', String(t.activeConnections));
  set('connections', String(t.connections));
  set('rejected', String(t.rejectedConnections));
  set('failures', String(t.connectFailures));
  if (t.connectionsPerSecond !== null) set('cps', String(t.connectionsPerSecond));
  const { points, shown } = recordRates(key, t);
  if (shown) {
    set('rx', `${bytes(shown.rx)}/s`);
    set('tx', `${bytes(shown.tx)}/s`);
  }
  sparkline(live, points);
  for (const [id, n] of Object.entries(t.upstreams ?? {})) {
    const cell = live.endpoints[id];
    if (cell) cell.active.textContent = String(n);
  }
  for (const [id, n] of Object.entries(t.upstreamConnections ?? {})) {
    const cell = live.endpoints[id];
    if (cell) cell.total.textContent = String(n);
  }
}
