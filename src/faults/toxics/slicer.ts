/** toxiproxy's `toxics/slicer.go`: chunks cut into small pieces, a delay apart. */
import { TimedStage } from './timed-stage.js';

/** Cuts chunks into pieces of `average_size` ± `size_variation` bytes, `delay` µs apart. */
export class SlicerStage extends TimedStage {
  protected take(chunk: Buffer): void {
    const average = this.attrs['average_size'] ?? 1;
    const variation = this.attrs['size_variation'] ?? 0;
    const gapMs = (this.attrs['delay'] ?? 0) / 1000;
    let offset = 0;
    while (offset < chunk.length) {
      // Go: size += 2*rand.Intn(variation) - variation
      const size = Math.max(1, variation > 0 ? average + 2 * this.rng.int(variation) - variation : average);
      const part = chunk.subarray(offset, Math.min(chunk.length, offset + size));
      offset += part.length;
      this.last = Math.max(this.last, performance.now()) + gapMs;
      this.enqueue(part, this.last);
    }
  }
}
