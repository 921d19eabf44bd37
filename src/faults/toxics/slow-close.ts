/** toxiproxy's `toxics/slow_close.go`: the close waits. */
import { Stage } from './stage.js';

/** Data passes; the end of the stream waits `delay` ms. */
export class SlowCloseStage extends Stage {
  private timer: NodeJS.Timeout | undefined;
  private pending: boolean | undefined;

  protected take(chunk: Buffer): void {
    this.next.push(chunk);
  }

  protected takeEnd(close: boolean): void {
    this.pending = close;
    this.timer = setTimeout(() => this.fireEnd(), this.attrs['delay'] ?? 0);
  }

  private fireEnd(): void {
    this.timer = undefined;
    const close = this.pending;
    this.pending = undefined;
    if (close !== undefined) this.next.end(close);
  }

  protected flush(): void {
    clearTimeout(this.timer);
    this.fireEnd();
  }

  protected stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
