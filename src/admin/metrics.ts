/**
 * GET /metrics: every svcproxy metric in the Prometheus text format, built
 * at scrape time from the counters the data path keeps anyway. docs/metrics.md
 * lists each family with its type, labels and meaning; keep them in step.
 *
 * Per-Service-port families carry `namespace`, `service` and `port` (the
 * Service port's name, or its number when unnamed). A removed Service port's
 * series disappear with it, as Prometheus expects of a target that no longer
 * exports them; a port that comes back starts again from zero (a counter reset).
 */
import { writeClusterMetrics, writePortForwardMetrics } from './cluster-metrics.js';
import { Exposition, type Labels } from './exposition.js';
import type { AdminSnapshot, NativePumpStats } from './model.js';
import { writeProcessMetrics } from './process-metrics.js';
import { portLabel, type EndpointView, type ServicePortSnapshot } from './view.js';

const ENDPOINT_STATES = ['ready', 'not_ready', 'terminating'] as const;
/** A listener is removed when closed, so these are the states a current one can be in. */
const LISTENER_STATES = ['listening', 'binding', 'failed'] as const;

/** The admin's own counters, reported with the rest. */
interface FeedCounters {
  readonly clients: number;
  readonly dropped: number;
}

export interface MetricsInput {
  readonly snapshot: AdminSnapshot;
  readonly feed: FeedCounters;
  readonly version: string;
}

function endpointState(e: EndpointView): (typeof ENDPOINT_STATES)[number] {
  if (e.terminating) return 'terminating';
  return e.ready ? 'ready' : 'not_ready';
}

function servicePortLabels(s: ServicePortSnapshot): Labels {
  return { namespace: s.view.namespace, service: s.view.service, port: portLabel(s.view) };
}

/** Writes families of one sample per Service port, whose value comes straight from the view. */
function perPortWriter(out: Exposition, snapshots: readonly ServicePortSnapshot[]) {
  return (name: string, type: 'counter' | 'gauge', help: string, value: (s: ServicePortSnapshot) => number): void => {
    out.family(name, type, help);
    for (const s of snapshots) out.sample(name, servicePortLabels(s), value(s));
  };
}

function writeServicePortMetrics(out: Exposition, snapshots: readonly ServicePortSnapshot[]): void {
  const perPort = perPortWriter(out, snapshots);
  perPort('svcproxy_connections_total', 'counter', 'Connections accepted on the Service port.', (s) => s.view.totals.connections);
  perPort('svcproxy_active_connections', 'gauge', 'Connections open now (being dialled or forwarded).', (s) => s.view.totals.activeConnections);

  out.family('svcproxy_rejected_connections_total', 'counter', 'Connections reset instead of forwarded, by reason.');
  for (const s of snapshots) {
    // Every reason the stats know, so a reason added on the data path shows up without an edit here.
    for (const [reason, count] of Object.entries(s.view.totals.rejected))
      out.sample('svcproxy_rejected_connections_total', { ...servicePortLabels(s), reason }, count);
  }

  perPort(
    'svcproxy_upstream_connect_failures_total',
    'counter',
    'Failed dial attempts to endpoints (refused, timed out, unreachable); one connection may make several.',
    (s) => s.view.totals.connectFailures,
  );

  out.family('svcproxy_upstream_connect_seconds', 'histogram', 'Time to connect to an endpoint, for successful dials, in seconds.');
  for (const s of snapshots) out.histogram('svcproxy_upstream_connect_seconds', servicePortLabels(s), s.connectSeconds);

  out.family('svcproxy_bytes_total', 'counter', 'Bytes received from clients (downstream_rx) and from endpoints (upstream_rx), open connections included.');
  for (const s of snapshots) {
    out.sample('svcproxy_bytes_total', { ...servicePortLabels(s), direction: 'downstream_rx' }, s.view.totals.bytesFromDownstream);
    out.sample('svcproxy_bytes_total', { ...servicePortLabels(s), direction: 'upstream_rx' }, s.view.totals.bytesFromUpstream);
  }

  out.family('svcproxy_closed_connections_total', 'counter', 'Forwarded connections and UDP flows that have ended, by how they ended.');
  for (const s of snapshots) {
    for (const [reason, count] of Object.entries(s.view.totals.closed))
      out.sample('svcproxy_closed_connections_total', { ...servicePortLabels(s), reason }, count);
  }

  perPort('svcproxy_idle_timeouts_total', 'counter', 'Connections closed by the idle timeout.', (s) => s.view.totals.idleTimeouts);

  out.family('svcproxy_endpoints', 'gauge', 'Declared endpoints by condition: ready, not_ready, terminating (each endpoint counted once).');
  for (const s of snapshots) {
    const counts = { ready: 0, not_ready: 0, terminating: 0 };
    for (const e of s.view.endpoints) counts[endpointState(e)]++;
    for (const state of ENDPOINT_STATES) out.sample('svcproxy_endpoints', { ...servicePortLabels(s), state }, counts[state]);
  }
  perPort(
    'svcproxy_ejected_endpoints',
    'gauge',
    'Endpoints passive health is skipping after consecutive failed dials.',
    (s) => s.view.endpoints.filter((e) => e.ejected).length,
  );

  out.family('svcproxy_listeners', 'gauge', 'Listening sockets of the Service port by state: listening, binding, failed (retrying).');
  for (const s of snapshots) {
    for (const state of LISTENER_STATES)
      out.sample('svcproxy_listeners', { ...servicePortLabels(s), state }, s.view.listeners.filter((l) => l.state === state).length);
  }
}

/**
 * Toxic families: one series per toxic that met a connection, per Service
 * port (labels as the other per-port families, plus the toxic's name, type,
 * stream, source `config`/`api` and owner: the Fault or the API proxy).
 */
function writeToxicMetrics(out: Exposition, snapshot: AdminSnapshot): void {
  const entries = snapshot.toxicCounters;
  const ports = new Map(snapshot.servicePorts.map((s) => [s.view.key, s]));
  const labelled = entries.map((e) => {
    const s = ports.get(e.servicePort);
    // An ad-hoc forward of the toxiproxy API has no Service: its proxy name stands in.
    const base: Labels = s === undefined ? { namespace: '', service: e.owner, port: '' } : servicePortLabels(s);
    return { labels: { ...base, toxic: e.name, type: e.type, stream: e.stream, source: e.source, owner: e.owner }, c: e.counters };
  });
  const family = (name: string, type: 'counter' | 'gauge', help: string, value: (c: (typeof labelled)[number]['c']) => number): void => {
    out.family(name, type, help);
    for (const l of labelled) out.sample(name, l.labels, value(l.c));
  };
  family('svcproxy_toxic_applications_total', 'counter', 'Connections that got the toxic (after its toxicity draw).', (c) => c.applications);
  family(
    'svcproxy_toxic_delayed_bytes_total',
    'counter',
    'Bytes a latency, bandwidth or slicer toxic held back before passing them on.',
    (c) => c.delayedBytes,
  );
  family(
    'svcproxy_toxic_dropped_bytes_total',
    'counter',
    'Bytes a toxic threw away: held by timeout at close, beyond limit_data, after reset_peer, or held when the connection ended.',
    (c) => c.droppedBytes,
  );
  family('svcproxy_toxic_held_bytes', 'gauge', 'Bytes held by the toxic now, across its connections.', (c) => c.heldBytes);
}

function writeProcessWideMetrics(out: Exposition, input: MetricsInput): void {
  const { reloads: status, config } = input.snapshot;
  out
    .family('svcproxy_build_info', 'gauge', 'Always 1; the labels say which svcproxy and Node.js run.')
    .sample('svcproxy_build_info', { version: input.version, node_version: process.version }, 1)
    .family('svcproxy_ready', 'gauge', '1 when /readyz answers 200: config applied, every listener bound, not draining.')
    .sample('svcproxy_ready', {}, config.ready ? 1 : 0)
    .family('svcproxy_config_reloads_total', 'counter', 'Config snapshots applied (success, the first one included) or rejected as invalid (failure).')
    .sample('svcproxy_config_reloads_total', { result: 'success' }, status.successes)
    .sample('svcproxy_config_reloads_total', { result: 'failure' }, status.failures)
    .family('svcproxy_config_last_reload_successful', 'gauge', '1 when the last reload attempt was applied, 0 when it was rejected.')
    .sample('svcproxy_config_last_reload_successful', {}, status.lastResult === 'failure' ? 0 : 1)
    .family(
      'svcproxy_config_last_reload_success_timestamp_seconds',
      'gauge',
      'When a config was last applied, seconds since the Unix epoch (0 before the first).',
    )
    .sample('svcproxy_config_last_reload_success_timestamp_seconds', {}, status.lastSuccessAt / 1000)
    .family('svcproxy_admin_feed_clients', 'gauge', 'WebSocket clients of /api/events connected now.')
    .sample('svcproxy_admin_feed_clients', {}, input.feed.clients)
    .family('svcproxy_admin_feed_dropped_clients_total', 'counter', 'WebSocket clients of /api/events disconnected for reading too slowly.')
    .sample('svcproxy_admin_feed_dropped_clients_total', {}, input.feed.dropped);
  const { accessLog } = input.snapshot;
  if (accessLog !== undefined) {
    out
      .family('svcproxy_access_log_lines_total', 'counter', 'Access log lines written (--access-log).')
      .sample('svcproxy_access_log_lines_total', {}, accessLog.written)
      .family(
        'svcproxy_access_log_dropped_lines_total',
        'counter',
        'Access log lines dropped: the writer fell behind (a slow reader of stdout, a slow disk) or a write failed (a full disk).',
      )
      .sample('svcproxy_access_log_dropped_lines_total', {}, accessLog.dropped);
  }
  const { workers } = input.snapshot;
  if (workers === undefined) return;
  out
    .family(
      'svcproxy_workers',
      'gauge',
      'Worker processes (--workers) by state: running, starting (config not applied yet), restarting (exited, being replaced).',
    )
    .sample('svcproxy_workers', { state: 'running' }, workers.filter((w) => w.state === 'running').length)
    .sample('svcproxy_workers', { state: 'starting' }, workers.filter((w) => w.state === 'starting').length)
    .sample('svcproxy_workers', { state: 'restarting' }, workers.filter((w) => w.state === 'restarting').length)
    .family('svcproxy_worker_restarts_total', 'counter', 'Worker processes that exited on their own and were started again.')
    .sample(
      'svcproxy_worker_restarts_total',
      {},
      workers.reduce((sum, w) => sum + w.restarts, 0),
    );
}

/** The native splice pump's families, only when it runs (docs/metrics.md). */
function writeNativePumpMetrics(out: Exposition, pump: NativePumpStats | undefined): void {
  if (pump === undefined) return;
  const thread = pump;
  out
    .family('svcproxy_native_pump_handoffs_total', 'counter', 'TCP connections handed to the native splice pump.')
    .sample('svcproxy_native_pump_handoffs_total', {}, pump.handedOff)
    .family(
      'svcproxy_native_pump_fallbacks_total',
      'counter',
      'Eligible connections kept in the JS pump, by reason (dup:EMFILE, pipe:EMFILE, pending_write, slots...).',
    );
  for (const [reason, count] of Object.entries(pump.fallbacks)) out.sample('svcproxy_native_pump_fallbacks_total', { reason }, count);
  out
    .family('svcproxy_native_pump_connections', 'gauge', 'Connections the native pump owns now.')
    .sample('svcproxy_native_pump_connections', {}, thread.connections)
    .family('svcproxy_native_pump_pipes', 'gauge', 'Pipes of the native pump: in use (bytes in flight) or spare (pooled, empty).')
    .sample('svcproxy_native_pump_pipes', { state: 'in_use' }, thread.pipes - thread.sparePipes)
    .sample('svcproxy_native_pump_pipes', { state: 'spare' }, thread.sparePipes)
    .family('svcproxy_native_pump_pipe_failures_total', 'counter', 'Pipes that could not be made (EMFILE, ENFILE).')
    .sample('svcproxy_native_pump_pipe_failures_total', {}, thread.pipeFailures)
    .family('svcproxy_native_pump_copied_chunks_total', 'counter', 'Chunks copied through user space because no pipe could be had.')
    .sample('svcproxy_native_pump_copied_chunks_total', {}, thread.copiedChunks);
}

/** The whole /metrics body. */
export function renderMetrics(input: MetricsInput): string {
  const out = new Exposition();
  writeProcessWideMetrics(out, input);
  writeServicePortMetrics(out, input.snapshot.servicePorts);
  writeToxicMetrics(out, input.snapshot);
  writeNativePumpMetrics(out, input.snapshot.nativePump);
  writeClusterMetrics(out, input.snapshot.cluster);
  writePortForwardMetrics(out, input.snapshot.portForward);
  writeProcessMetrics(out, input.snapshot.process);
  return out.text();
}
