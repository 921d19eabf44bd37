/**
 * The cluster source's families (--cluster only; docs/metrics.md): API
 * requests by verb and code, watch restarts, relists, whether the API
 * server is reachable, objects held and refused; and the port-forward
 * carrier's (--pod-network portforward): streams, opens by result, upgraded
 * connections by Pod and protocol, reconnects, bytes.
 */
import type { PortForwardStats } from '../proxy/forwarded.js';
import type { ClusterStatus } from '../sources/cluster-status.js';
import type { Exposition } from './exposition.js';

export function writeClusterMetrics(out: Exposition, cluster: ClusterStatus | undefined): void {
  if (cluster === undefined) return;
  out.family(
    'svcproxy_kube_api_requests_total',
    'counter',
    'Requests to the API server by verb (list, watch) and code (HTTP status, or the connection error: ECONNREFUSED, timeout...).',
  );
  for (const [key, count] of Object.entries(cluster.requests).sort(([a], [b]) => a.localeCompare(b))) {
    const space = key.indexOf(' ');
    out.sample('svcproxy_kube_api_requests_total', { verb: space < 0 ? key : key.slice(0, space), code: space < 0 ? '' : key.slice(space + 1) }, count);
  }
  const labels = (w: ClusterStatus['watches'][number]): { resource: string; namespace: string } => ({ resource: w.resource, namespace: w.namespace });
  out.family('svcproxy_kube_watch_restarts_total', 'counter', 'Watches that ended (server timeout, dropped connection, error) and were resumed.');
  for (const w of cluster.watches) out.sample('svcproxy_kube_watch_restarts_total', labels(w), w.watchRestarts);
  out.family('svcproxy_kube_relists_total', 'counter', 'Full lists after the first (a 410 Expired resume, an error), diffed against what was held.');
  for (const w of cluster.watches) out.sample('svcproxy_kube_relists_total', labels(w), w.relists);
  out.family('svcproxy_kube_objects', 'gauge', 'Objects held from the cluster, per watch.');
  for (const w of cluster.watches) out.sample('svcproxy_kube_objects', labels(w), w.objects);
  out
    .family('svcproxy_kube_api_reachable', 'gauge', '1 while a watch reaches the API server; 0 while none does (the last state seen is served).')
    .sample('svcproxy_kube_api_reachable', {}, cluster.reachable ? 1 : 0)
    .family('svcproxy_kube_refused_total', 'counter', 'Objects and watch events from the API server refused as malformed.')
    .sample('svcproxy_kube_refused_total', { what: 'object' }, cluster.refusedObjects)
    .sample('svcproxy_kube_refused_total', { what: 'event' }, cluster.refusedEvents);
}

export function writePortForwardMetrics(out: Exposition, pf: PortForwardStats | undefined): void {
  if (pf === undefined) return;
  out
    .family('svcproxy_portforward_streams', 'gauge', 'Connections carried by port-forward streams now (one data stream each).')
    .sample('svcproxy_portforward_streams', {}, pf.streamsOpen)
    .family('svcproxy_portforward_stream_opens_total', 'counter', 'Port-forward stream opens by result (ok, refused, error, timeout, failed, full).');
  for (const [result, count] of Object.entries(pf.opens)) out.sample('svcproxy_portforward_stream_opens_total', { result }, count);
  out.family('svcproxy_portforward_sessions', 'gauge', 'Upgraded connections to the API server by Pod and protocol (websocket, spdy).');
  const sessions = new Map<string, { pod: string; protocol: string; n: number }>();
  for (const s of pf.sessions) {
    const key = `${s.pod} ${s.protocol}`;
    const entry = sessions.get(key) ?? { pod: s.pod, protocol: s.protocol, n: 0 };
    entry.n++;
    sessions.set(key, entry);
  }
  for (const s of sessions.values()) out.sample('svcproxy_portforward_sessions', { pod: s.pod, protocol: s.protocol }, s.n);
  out
    .family('svcproxy_portforward_reconnects_total', 'counter', 'Upgraded connections opened to a Pod after its first (one dropped, idle-closed or full).')
    .sample('svcproxy_portforward_reconnects_total', {}, pf.reconnects)
    .family(
      'svcproxy_portforward_bytes_total',
      'counter',
      'Payload bytes carried through port-forward streams, by direction (to_pod, from_pod), closed streams included.',
    )
    .sample('svcproxy_portforward_bytes_total', { direction: 'to_pod' }, pf.bytesToPods)
    .sample('svcproxy_portforward_bytes_total', { direction: 'from_pod' }, pf.bytesFromPods);
}
