/**
 * Counters of one Service port, written only by its ledger (port-ledger.ts)
 * as leases are admitted, connected and settled, and read by the admin
 * surface at scrape time. Plain numbers, updated once per connection (never
 * per byte), so reading them costs the data path nothing.
 */
import { FORWARDED_ENDS, REJECT_REASONS, type ForwardedEnd, type RejectReason } from './lease.js';

/** Upper bounds (seconds) of the upstream connect-time histogram: 0.5 ms to 2.5 s. */
const CONNECT_SECONDS_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** A Prometheus-style histogram: counts per upper bound (not cumulative here), plus sum and count. */
class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = Array.from({ length: bounds.length + 1 }, () => 0); // the last slot is +Inf
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
    this.count++;
  }
}

export interface ServicePortStats {
  /** Connections accepted. */
  connections: number;
  /** Connections currently being dialled or pumped. */
  active: number;
  /** Bytes received from clients (and sent upstream) by leases that have ended. */
  bytesFromDownstream: number;
  /** Bytes received from endpoints (and sent to clients) by leases that have ended. */
  bytesFromUpstream: number;
  /** Connections reset at accept or after dialling, by reason. */
  rejected: Record<RejectReason, number>;
  /** Individual failed dial attempts (refused, timed out, unreachable). */
  connectFailures: number;
  /** Time to connect to an endpoint, for successful dials (seconds). */
  readonly connectSeconds: Histogram;
  /** Forwarded connections (and UDP flows) that have ended, by how they ended. */
  readonly closed: Record<ForwardedEnd, number>;
  /** Live connections per endpoint (`host:port`); entries are removed at zero. */
  readonly activeByUpstream: Map<string, number>;
  /** Connections per endpoint since start (`host:port`). */
  readonly connectionsByUpstream: Map<string, number>;
}

/** A counter per name, all 0, in the list's order (the order the metrics print them). */
function zeroes<K extends string>(names: readonly K[]): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const name of names) out[name] = 0;
  return out;
}

export function newStats(): ServicePortStats {
  return {
    connections: 0,
    active: 0,
    bytesFromDownstream: 0,
    bytesFromUpstream: 0,
    rejected: zeroes(REJECT_REASONS),
    connectFailures: 0,
    connectSeconds: new Histogram(CONNECT_SECONDS_BUCKETS),
    closed: zeroes(FORWARDED_ENDS),
    activeByUpstream: new Map(),
    connectionsByUpstream: new Map(),
  };
}
