/**
 * The page's state, the feed and the first paint. The first paint comes from
 * the snapshot the page is served with (no zeros or "Loading..." until a
 * round trip); then stats ticks update the figures in place, and reload,
 * listener, readiness, toxics and pods events re-fetch the structure. When
 * the socket closes (svcproxy restarting) the page says so and reconnects
 * with a growing delay (0.5 s to 5 s). With --cluster, /api/cluster is
 * re-read every CLUSTER_POLL_MS (an outage of the API server sends no event).
 */

const CLUSTER_POLL_MS = 2000;

const state: PageState = {
  pods: [],
  services: [],
  serviceInfo: {},
  config: null,
  cluster: null,
  workers: null,
  history: {},
  live: {},
  retryMs: 500,
  refreshTimer: 0,
  open: {},
};

function eventText(m: FeedEvent): string | undefined {
  switch (m.type) {
    case 'reload':
      return `reload (${m.trigger}): ${m.result}${m.result === 'success' ? `, ${m.changes} changes` : `, ${m.errors.length} problems`}`;
    case 'listener':
      return `listener ${m.listener} (${m.servicePort}): ${m.state}${m.error ? `: ${m.error}` : ''}`;
    case 'readiness':
      return `pod ${m.pod} ${m.ready ? 'ready' : 'not ready'}: ${m.reason}`;
    case 'toxics':
      return 'toxics changed';
    case 'pods':
      return 'pods changed';
    default:
      return undefined;
  }
}

function logEvent(m: FeedEvent): void {
  let text = eventText(m);
  if (text === undefined) return;
  if ('worker' in m && m.worker !== undefined) text += ` (worker ${m.worker})`;
  const log = byId('events');
  log.querySelector('.muted')?.remove();
  log.insertBefore(el('div', { text: `${new Date(m.time).toLocaleTimeString()}  ${text}` }), log.firstChild);
  while (log.childNodes.length > 50 && log.lastChild) log.removeChild(log.lastChild);
}

function show(services: ServicesPayload, config: ConfigInfo, pods: readonly PodInfo[] | undefined): void {
  state.services = services.servicePorts;
  if (pods) state.pods = pods;
  state.serviceInfo = {};
  for (const info of services.services) state.serviceInfo[info.key] = info;
  state.workers = services.workers ?? null;
  state.config = config;
  renderHeader(config);
  renderServices();
  renderPods();
}

async function getJson<T>(path: string): Promise<T> {
  return (await (await fetch(path)).json()) as T;
}

async function refresh(): Promise<void> {
  try {
    const [services, config, pods] = await Promise.all([
      getJson<ServicesPayload>('api/services'),
      getJson<ConfigInfo>('api/config'),
      getJson<{ pods: PodInfo[] }>('api/pods'),
    ]);
    show(services, config, pods.pods);
  } catch {
    // The socket's close handler reports the outage.
  }
}

async function refreshCluster(): Promise<void> {
  try {
    state.cluster = await getJson<ClusterInfo>('api/cluster');
    renderCluster(state.cluster);
  } catch {
    // svcproxy is restarting: the socket's close handler says so; the next poll tries again.
  }
}

function scheduleRefresh(): void {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => void refresh(), 100);
}

function onMessage(m: FeedEvent): void {
  if (m.type === 'hello') {
    byId('version').textContent = `v${m.version}`;
    seedRates(m.recent ?? []);
    return;
  }
  if (m.type === 'stats') {
    for (const t of m.servicePorts) updatePort(t.key, t);
    return;
  }
  logEvent(m);
  scheduleRefresh();
}

function connect(): void {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss://' : 'ws://'}${location.host}${location.pathname.replace(/[^/]*$/, '')}api/events`);
  ws.onopen = (): void => {
    state.retryMs = 500;
    setStatus('live', 'ok');
    void refresh();
  };
  ws.onmessage = (event: MessageEvent<string>): void => onMessage(JSON.parse(event.data) as FeedEvent);
  ws.onclose = (): void => {
    const wait = state.retryMs;
    state.retryMs = Math.min(5000, state.retryMs * 2);
    setStatus(`disconnected; reconnecting in ${wait / 1000} s`, 'bad');
    setTimeout(connect, wait);
  };
}

const initial = JSON.parse(byId('initial').textContent ?? '') as DashboardData;
show(initial.services, initial.config, initial.pods);
state.cluster = initial.cluster ?? null;
renderCluster(state.cluster);
if (state.cluster !== null) setInterval(() => void refreshCluster(), CLUSTER_POLL_MS);
connect();
