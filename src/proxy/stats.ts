/**
 * Counters of one Service port, written by the data path and read by the
 * admin surface at scrape time. Plain numbers, updated once per connection
 * (never per byte), so reading them costs the data path nothing.
 */

/** Upper bounds (seconds) of the upstream connect-time histogram: 0.5 ms to 2.5 s. */
export const CONNECT_SECONDS_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** A Prometheus-style histogram: counts per upper bound (not cumulative here), plus sum and count. */
export class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0); // the last slot is +Inf
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
    this.count++;
  }
}

export type RejectReason = 'no_endpoints' | 'dial_failed' | 'source_range' | 'max_connections';

export interface ServicePortStats {
  /** Connections accepted. */
  connections: number;
  /** Connections currently being dialled or pumped. */
  active: number;
  /** Bytes received from clients (and sent upstream), added when a connection closes. */
  bytesFromDownstream: number;
  /** Bytes received from endpoints (and sent to clients), added when a connection closes. */
  bytesFromUpstream: number;
  /** Connections reset at accept or after dialling, by reason. */
  rejected: Record<RejectReason, number>;
  /** Individual failed dial attempts (refused, timed out, unreachable). */
  connectFailures: number;
  /** Time to connect to an endpoint, for successful dials (seconds). */
  readonly connectSeconds: Histogram;
  /** Connections closed by the idle timeout. */
  idleTimeouts: number;
  /** Live connections per endpoint (`host:port`); entries are removed at zero. */
  readonly activeByUpstream: Map<string, number>;
  /** Connections per endpoint since start (`host:port`). */
  readonly connectionsByUpstream: Map<string, number>;
}

export function newStats(): ServicePortStats {
  return {
    connections: 0,
    active: 0,
    bytesFromDownstream: 0,
    bytesFromUpstream: 0,
    rejected: { no_endpoints: 0, dial_failed: 0, source_range: 0, max_connections: 0 },
    connectFailures: 0,
    connectSeconds: new Histogram(CONNECT_SECONDS_BUCKETS),
    idleTimeouts: 0,
    activeByUpstream: new Map(),
    connectionsByUpstream: new Map(),
  };
}
