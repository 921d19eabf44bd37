/** toxiproxy's `toxics/limit_data.go`: so many bytes, then the connection closes. */
import { Stage } from './stage.js';

/**
 * Passes exactly `bytes` bytes in this direction, then closes the connection.
 * What has passed is kept across updates (toxiproxy's limit_data state), so
 * a new `bytes` counts from the start of the connection.
 */
export class LimitDataStage extends Stage {
  private passed = 0;
  private closed = false;

  protected take(chunk: Buffer): void {
    if (this.closed) {
      this.drop(chunk.length); // the connection is closing: nowhere to go
      return;
    }
    const remaining = (this.attrs['bytes'] ?? 0) - this.passed;
    if (remaining <= 0) {
      // `bytes: 0` closes at the first chunk, as toxiproxy's loop does.
      this.drop(chunk.length);
      this.closed = true;
      this.next.end(true);
      return;
    }
    const part = chunk.length <= remaining ? chunk : chunk.subarray(0, remaining);
    this.drop(chunk.length - part.length);
    this.passed += part.length;
    this.next.push(part);
    if (part.length === remaining) {
      this.closed = true;
      this.next.end(true);
    }
  }

  protected takeEnd(close: boolean): void {
    if (!this.closed) this.next.end(close); // once the limit is reached the connection is already closing
  }

  protected flush(): void {
    // Nothing is held; from now on everything passes.
  }

  protected stop(): void {
    // No timer.
  }
}
