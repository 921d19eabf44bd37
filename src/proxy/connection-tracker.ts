import type { Socket } from 'node:net';

/**
 * Every proxied connection in the process, across Service ports (including
 * ports already removed whose connections still run), so that a drain can
 * wait for them and reset the stragglers.
 */
export class ConnectionTracker {
  /** Both sockets of every pumping connection. */
  readonly sockets = new Set<Socket>();
  /** Connections accepted and not yet closed, including those still dialling. */
  active = 0;
  private idleWaiters: Array<() => void> = [];

  opened(): void {
    this.active++;
  }

  closed(): void {
    this.active--;
    if (this.active === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves true when no connection is left, or false when `timeoutMs` passes first. */
  waitForIdle(timeoutMs: number): Promise<boolean> {
    if (this.active === 0) return Promise.resolve(true);
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

  /** Resets both sides of every connection still open (the end of a drain). */
  resetAll(): void {
    for (const socket of this.sockets) {
      if (!socket.destroyed) socket.resetAndDestroy();
    }
  }
}
