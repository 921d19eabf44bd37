/** The Pods table: where each Pod's process is expected and whether it is ready. */

/** Up to this many Pods, the Pods table is unfolded. */
const PODS_UNFOLD_UP_TO = 20;

function podState(p: PodInfo): Condition {
  if (p.terminating) return { text: 'terminating', cls: 'warn' };
  return p.ready ? { text: 'ready', cls: 'ok' } : { text: 'not ready', cls: 'bad' };
}

function podRow(p: PodInfo): HTMLElement {
  const st = podState(p);
  const ports = p.ports
    .map((x) => `${x.name ? `${x.name} ` : ''}${x.port}/${x.protocol}${x.servedAt !== `${p.address}:${x.port}` ? ` at ${x.servedAt}` : ''}`)
    .join(', ');
  const workload = p.workload ? `${p.workload.kind} ${p.workload.name}${p.binding ? ` (bound by ${p.binding})` : ''}` : 'Pod (as written)';
  return el(
    'tr',
    { 'data-pod': p.key },
    el('td', { text: p.key, title: p.services.length ? `backs ${p.services.join(', ')}` : 'no Service selects it' }),
    el('td', { text: workload }),
    el('td', { 'data-field': 'address', text: p.address }),
    el('td', { text: ports || '-' }),
    el('td', null, el('span', { class: `pill ${st.cls}`, 'data-field': 'state', title: p.reason, text: st.text })),
    el('td', { text: p.readinessProbe, title: p.reason }),
  );
}

function renderPods(): void {
  const root = byId('pods');
  const pods = state.pods;
  if (pods.length === 0) {
    root.replaceChildren(el('div', { class: 'muted', text: 'No Pods.' }));
    return;
  }
  const table = el(
    'table',
    { class: 'pods' },
    headerRow('pod', 'workload', 'address', 'ports', 'state', 'readiness probe'),
    el('tbody', null, ...pods.map(podRow)),
  );
  const ready = pods.filter((p) => p.ready && !p.terminating).length;
  const summary = el('summary', { 'data-field': 'pods', text: `${plural(pods.length, 'Pod')}, ${ready} ready` });
  root.replaceChildren(foldable('pods', summary, table, pods.length <= PODS_UNFOLD_UP_TO));
}
