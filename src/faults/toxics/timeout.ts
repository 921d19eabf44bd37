/** toxiproxy's `toxics/timeout.go`: nothing passes, then the connection closes. */
import type { ConnectionToxic, StageHost, StageTarget } from '../types.js';
import { Stage } from './stage.js';

/**
 * Nothing passes: the stage holds what arrives (the reader pauses at the
 * cap, so the rest waits in kernel buffers, as on a stalled network) and
 * after `timeout` ms drops it and closes the connection; 0 = hold forever.
 * toxiproxy drops the data at once; holding it instead is what lets a
 * removed timeout toxic give the stream back intact.
 */
export class TimeoutStage extends Stage {
  private held: Buffer[] = [];
  private ended: boolean | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(host: StageHost, toxic: ConnectionToxic, next: StageTarget) {
    super(host, toxic, next);
    if (this.active && !this.released) this.restart();
  }

  /** The clock starts when the toxic starts acting, and again when an update changes it (toxiproxy restarts the toxic). */
  protected override restart(): void {
    this.stop();
    const ms = this.attrs['timeout'] ?? 0;
    if (ms > 0) this.timer = setTimeout(() => this.expire(), ms);
  }

  protected take(chunk: Buffer): void {
    this.hold(chunk.length);
    this.held.push(chunk);
  }

  protected takeEnd(close: boolean): void {
    this.ended = close;
  }

  private expire(): void {
    this.timer = undefined;
    this.drop(this.holding);
    this.hold(-this.holding);
    this.held = [];
    this.released = true; // nothing more to hold back: the connection is closing
    this.toxic.binding.live.delete(this);
    this.next.end(true);
  }

  protected flush(): void {
    this.stop();
    const held = this.held;
    this.held = [];
    for (const chunk of held) {
      this.hold(-chunk.length);
      this.next.push(chunk);
    }
    const ended = this.ended;
    this.ended = undefined;
    if (ended !== undefined) this.next.end(ended);
  }

  protected stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
