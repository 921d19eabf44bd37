import type { Lease } from './lease.js';

/**
 * Every open lease in the process, across Service ports (including ports
 * already removed whose connections still run), so that a drain can wait for
 * them and reset the stragglers. Each ledger adds a lease at admission and
 * releases it when the lease is settled.
 */
export class ConnectionTracker {
  private readonly open = new Set<Lease>();
  private idleWaiters: Array<() => void> = [];

  /** Connections and flows admitted and not yet ended, including those still dialling. */
  get active(): number {
    return this.open.size;
  }

  /** The open leases (read-only: ledgers add and release them). */
  get leases(): ReadonlySet<Lease> {
    return this.open;
  }

  add(lease: Lease): void {
    this.open.add(lease);
  }

  release(lease: Lease): void {
    if (!this.open.delete(lease)) return;
    if (this.open.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves true when no connection is left, or false when `timeoutMs` passes first. */
  waitForIdle(timeoutMs: number): Promise<boolean> {
    if (this.open.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== onIdle);
        resolve(false);
      }, timeoutMs);
      const onIdle = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(onIdle);
    });
  }

  /** Resets every connection still open (the end of a drain); each ends its lease with 'drain'. */
  resetAll(): void {
    for (const lease of [...this.open]) lease.abort();
  }
}
