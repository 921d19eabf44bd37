/**
 * One timer for everything an instance does at a point in time rather than
 * on an event: the end of a removed Pod's grace period, the start or end of
 * a Fault's window, the retry of a re-plan that could not be applied. Each
 * job is a named deadline; the timer is armed for the earliest one.
 *
 * setTimeout holds at most 2^31-1 ms (about 24.8 days): a later deadline
 * wakes the timer early, finds nothing due and re-arms. A job fires 1 ms
 * after its deadline so that `now >= at` holds when it runs.
 */

/** The clock and timer the scheduler uses; tests pass a fake one. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The longest delay setTimeout honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

interface Job {
  readonly at: number;
  readonly run: (now: number) => void;
}

export class Scheduler<Name extends string = string> {
  private readonly jobs = new Map<Name, Job>();
  private timer: unknown;
  private armed = false;
  private stopped = false;

  constructor(private readonly clock: Clock = systemClock) {}

  /** Runs `run` at `at` (ms since the epoch), replacing the job of that name; `at` undefined cancels it. */
  set(name: Name, at: number | undefined, run: (now: number) => void): void {
    if (at === undefined || this.stopped) this.jobs.delete(name);
    else this.jobs.set(name, { at, run });
    this.arm();
  }

  /** When the job `name` is due, if it is set. */
  due(name: Name): number | undefined {
    return this.jobs.get(name)?.at;
  }

  /** Cancels every job; nothing runs after this. */
  stop(): void {
    this.stopped = true;
    this.jobs.clear();
    this.arm();
  }

  private arm(): void {
    if (this.armed) this.clock.clearTimeout(this.timer);
    this.armed = false;
    let next: number | undefined;
    for (const job of this.jobs.values()) if (next === undefined || job.at < next) next = job.at;
    if (next === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - this.clock.now()) + 1);
    this.timer = this.clock.setTimeout(() => this.fire(), delay);
    this.armed = true;
  }

  /** Runs every job that is due (each may set itself or another again), then re-arms. */
  private fire(): void {
    this.armed = false;
    const now = this.clock.now();
    for (const [name, job] of [...this.jobs]) {
      if (job.at > now || this.jobs.get(name) !== job) continue;
      this.jobs.delete(name);
      job.run(now);
    }
    this.arm();
  }
}
