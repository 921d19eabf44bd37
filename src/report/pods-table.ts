/**
 * The Pods table of `--check`, and one log line per Pod at start-up and on
 * changes: where to start each Pod's process.
 *
 *   WORKLOAD               POD                                  ADDRESS       PORTS          READINESS
 *   Deployment details-v1  default/details-v1-7c4c8d5d4f-x2k9q  127.64.18.3   http 9080/TCP  tcpSocket :9080 (no readinessProbe: …)
 */
import type { PodInfo } from '../state/types.js';

function workloadOf(pod: PodInfo): string {
  if (pod.workloadKind === '') return 'Pod (as written)';
  return `${pod.workloadKind} ${pod.workloadName}${pod.binding === '' ? '' : ` (bound by ${pod.binding})`}`;
}

/** `http 9080/TCP`, or `http 9080/TCP at 127.0.0.1:3000` where the process serves it elsewhere. */
function portsOf(pod: PodInfo): string {
  if (pod.ports.length === 0) return '-';
  return pod.ports
    .map((p) => {
      const own = `${p.name === '' ? '' : `${p.name} `}${p.port}/${p.protocol}`;
      return p.servedAt.endsWith(`:${p.port}`) ? own : `${own} at ${p.servedAt}`;
    })
    .join(', ');
}

function addressOf(pod: PodInfo): string {
  return pod.terminating ? `${pod.address} (terminating)` : pod.address;
}

/** The table, header first, columns padded; [] when there is no Pod. */
export function podTableLines(pods: Iterable<PodInfo>): string[] {
  const rows = [...pods].map((p) => [workloadOf(p), p.key, addressOf(p), portsOf(p), p.readiness]);
  if (rows.length === 0) return [];
  const header = ['WORKLOAD', 'POD', 'ADDRESS', 'PORTS', 'READINESS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** One Pod in one line, for the log: `Pod default/web-0 (StatefulSet web): 127.64.1.9, ports http 8080/TCP; readiness …`. */
export function describePod(pod: PodInfo): string {
  return `Pod ${pod.key} (${workloadOf(pod)}): ${addressOf(pod)}, ports ${portsOf(pod)}; readiness ${pod.readiness}`;
}
