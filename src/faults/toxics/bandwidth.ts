/** toxiproxy's `toxics/bandwidth.go`: at most `rate` KB/s. */
import { TimedStage } from './timed-stage.js';

/** How close (ms) a chunk must follow the previous one's due time to count as the same burst (bandwidth). */
const CONTINUE_MS = 50;

/** `rate` KB/s (bytes per ms): each piece waits its own length / rate, in pieces of at most 100 ms of data. */
export class BandwidthStage extends TimedStage {
  protected take(chunk: Buffer): void {
    const rate = this.attrs['rate'] ?? 0;
    if (rate <= 0) {
      this.enqueue(chunk, performance.now());
      return;
    }
    const piece = rate * 100;
    for (let offset = 0; offset < chunk.length; offset += piece) {
      const part = chunk.subarray(offset, Math.min(chunk.length, offset + piece));
      // A chunk that follows the last one closely (a backlog, a reader that resumed late, a late timer)
      // is scheduled after it, so lost time is caught up and the rate holds over a transfer on a busy
      // machine; after a pause (CONTINUE_MS) the stream starts again from now, less what this stage's own
      // late timer lost (toxiproxy carries its sleep error forward the same way): a sender's pause earns
      // no credit, a process that was not scheduled for a while keeps its rate.
      const now = performance.now();
      const from = this.holding > 0 || now - this.last < CONTINUE_MS ? this.last : now - this.lateMs;
      this.last = from + part.length / rate;
      this.enqueue(part, this.last);
    }
  }
}
