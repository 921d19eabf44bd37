/**
 * The books of one Service port: its counters and its open leases. Only the
 * ledger writes the counters, and only through the lease lifecycle
 * (admit -> connected -> settle), so a connection is always counted against
 * the port that admitted it: a listener retargeted by a reload, or a port
 * removed while its connections run, cannot move counts between ports. It
 * changes a lease only through the lease's methods.
 */
import type { ServicePortKey } from '../state/types.js';
import { NO_BYTES, type ByteCounts } from './carrier.js';
import type { ConnectionTracker } from './connection-tracker.js';
import { REJECT_REASONS, type Lease, type LeaseOwner, type RejectReason, type Termination } from './lease.js';
import { newStats, type ServicePortStats } from './stats.js';
import type { Upstream } from './upstream.js';

/** Told of every lease that ends, after it is settled (the access log, fault metrics). Never on the per-byte path. */
export type LeaseObserver = (lease: Lease) => void;

const REJECTS: ReadonlySet<string> = new Set<RejectReason>(REJECT_REASONS);

function isRejectReason(termination: Termination): termination is RejectReason {
  return REJECTS.has(termination);
}

function increment(map: Map<string, number>, key: string, by: number): void {
  const next = (map.get(key) ?? 0) + by;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}

export class PortLedger implements LeaseOwner {
  private readonly counters: ServicePortStats = newStats();
  private readonly open = new Set<Lease>();

  constructor(
    readonly key: ServicePortKey,
    private readonly tracker: ConnectionTracker,
    private readonly observe: LeaseObserver | undefined,
  ) {}

  /** The counters, read-only: the admin surface reads them at scrape time. */
  get stats(): Readonly<ServicePortStats> {
    return this.counters;
  }

  /** Open leases right now (admitted, not yet ended), dialling ones included. */
  get active(): number {
    return this.counters.active;
  }

  /** Counts an accepted connection or flow and gives it a slot (it counts towards max-connections until it ends). */
  admit(lease: Lease): void {
    this.counters.connections++;
    this.counters.active++;
    lease.takeSlot();
    this.open.add(lease);
    this.tracker.add(lease);
  }

  /** Counts an accepted connection or flow that is refused at once, and ends its lease. */
  refuse(lease: Lease, reason: RejectReason): void {
    this.counters.connections++;
    lease.end(reason);
  }

  /** The lease's endpoint is connected (TCP) or its flow opened (UDP, connectMs -1). */
  connected(lease: Lease, upstream: Upstream, connectMs: number): void {
    lease.connected(upstream, connectMs);
    increment(this.counters.activeByUpstream, upstream.id, 1);
    increment(this.counters.connectionsByUpstream, upstream.id, 1);
    if (connectMs >= 0) this.counters.connectSeconds.observe(connectMs / 1000);
  }

  /** One failed dial attempt (a connection makes up to four). */
  dialFailed(): void {
    this.counters.connectFailures++;
  }

  /** Called by Lease.end(), once per lease. */
  settle(lease: Lease): void {
    const c = this.counters;
    if (lease.releaseSlot()) {
      c.active--;
      this.open.delete(lease);
      this.tracker.release(lease);
    }
    if (lease.endpoint !== undefined) increment(c.activeByUpstream, lease.endpoint.id, -1);
    c.bytesFromDownstream += lease.bytes.fromDownstream;
    c.bytesFromUpstream += lease.bytes.fromUpstream;
    const termination = lease.termination;
    if (termination !== undefined) {
      if (isRejectReason(termination)) c.rejected[termination]++;
      else c.closed[termination]++;
    }
    this.observe?.(lease);
  }

  /** Bytes each way, open connections included (their carriers' counts so far); at scrape/tick time only. */
  bytes(): ByteCounts {
    let fromDownstream = this.counters.bytesFromDownstream;
    let fromUpstream = this.counters.bytesFromUpstream;
    for (const lease of this.open) {
      const live = lease.liveBytes();
      fromDownstream += live.fromDownstream;
      fromUpstream += live.fromUpstream;
    }
    return fromDownstream === 0 && fromUpstream === 0 ? NO_BYTES : { fromDownstream, fromUpstream };
  }
}
