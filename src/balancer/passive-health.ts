/**
 * Passive health: svcproxy's own policy, on top of Kubernetes readiness and
 * for every endpoint however it was declared. After `threshold` consecutive
 * failed dials an endpoint is skipped for a backoff that starts at 1 s and
 * doubles on each further ejection, up to 30 s. When the backoff ends it is
 * tried again; one success (a dial, or a readiness probe of its Pod) clears
 * it. Pure: the caller passes the time, so tests need no clock.
 */

export interface PassiveHealthOptions {
  /** Consecutive failed dials before an endpoint is skipped. */
  readonly threshold: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

const PASSIVE_HEALTH_DEFAULTS: PassiveHealthOptions = { threshold: 3, initialBackoffMs: 1000, maxBackoffMs: 30_000 };

interface Record_ {
  failures: number;
  ejectedUntil: number;
  backoffMs: number;
}

export class PassiveHealth {
  private readonly records = new Map<string, Record_>();

  constructor(private readonly options: PassiveHealthOptions = PASSIVE_HEALTH_DEFAULTS) {}

  /** Nothing has failed: the hot path can skip every other call. */
  get empty(): boolean {
    return this.records.size === 0;
  }

  /** True while `id` is inside its backoff. */
  isEjected(id: string, now: number): boolean {
    if (this.records.size === 0) return false;
    const r = this.records.get(id);
    return r !== undefined && r.ejectedUntil > now;
  }

  /** Counts a failed dial; returns the backoff in ms when this failure ejects the endpoint, else 0. */
  recordFailure(id: string, now: number): number {
    const r = this.records.get(id) ?? { failures: 0, ejectedUntil: 0, backoffMs: 0 };
    this.records.set(id, r);
    r.failures++;
    if (r.failures < this.options.threshold) return 0;
    r.backoffMs = r.backoffMs === 0 ? this.options.initialBackoffMs : Math.min(r.backoffMs * 2, this.options.maxBackoffMs);
    r.ejectedUntil = now + r.backoffMs;
    return r.backoffMs;
  }

  /** A successful dial or probe: the endpoint is healthy again. Returns true if it was ejected or failing. */
  recordSuccess(id: string): boolean {
    return this.records.delete(id);
  }

  /** Forgets endpoints that are gone (so memory follows the endpoint set). */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.records.keys()) if (!ids.has(id)) this.records.delete(id);
  }

  /** Ids currently skipped, for the admin view. */
  ejected(now: number): string[] {
    return [...this.records.entries()].filter(([, r]) => r.ejectedUntil > now).map(([id]) => id);
  }
}
