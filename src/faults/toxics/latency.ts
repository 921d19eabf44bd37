/** toxiproxy's `toxics/latency.go`: every chunk waits `latency` ± `jitter` ms. */
import { TimedStage } from './timed-stage.js';

/** `latency` (ms) ± `jitter` (ms) per chunk, counted from when the chunk arrived (toxiproxy's LatencyToxic). */
export class LatencyStage extends TimedStage {
  protected take(chunk: Buffer): void {
    const latency = this.attrs['latency'] ?? 0;
    const jitter = this.attrs['jitter'] ?? 0;
    // Go: delay += rand.Int63n(jitter*2) - jitter
    const delay = jitter > 0 ? latency + this.rng.int(jitter * 2) - jitter : latency;
    this.enqueue(chunk, performance.now() + Math.max(0, delay));
  }
}
