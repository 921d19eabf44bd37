/**
 * A small seeded pseudo-random generator, so that a Fault with a `seed`
 * makes the same choices (toxicity draws, jitter, slicer sizes) run after
 * run. Not for anything secret.
 */

/** FNV-1a over the parts' text: a 32-bit seed derived from a seed and names/counters. */
export function mixSeed(...parts: ReadonlyArray<string | number>): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    const text = `${part}\u0000`;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
  }
  return h >>> 0;
}

/** mulberry32: 32 bits of state, a full period of 2^32, fast and good enough for fault injection. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A whole number in [0, n) (0 when n <= 0), like Go's rand.Intn. */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.next() * n);
  }
}
