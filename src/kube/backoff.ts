/**
 * Exponential backoff with full jitter (AWS's "full jitter"): the n-th consecutive failure waits a uniformly
 * random time in [0, min(max, initial * 2^n)), so many clients that failed together do not retry together.
 */
export interface BackoffOptions {
  /** The ceiling of the first wait, ms (default 250). */
  readonly initialMs?: number;
  /** The largest ceiling, ms (default 30 s). */
  readonly maxMs?: number;
  /** In [0, 1) (default Math.random). */
  readonly random?: () => number;
}

export class Backoff {
  private failures = 0;
  readonly initialMs: number;
  readonly maxMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = Math.max(1, options.initialMs ?? 250);
    this.maxMs = Math.max(this.initialMs, options.maxMs ?? 30_000);
    this.random = options.random ?? Math.random;
  }

  /** The wait before the next attempt, and one more failure counted. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return Math.floor(this.random() * ceiling);
  }

  /** Consecutive failures so far. */
  get attempts(): number {
    return this.failures;
  }

  /** After a success: the next failure waits at most `initialMs` again. */
  reset(): void {
    this.failures = 0;
  }
}
