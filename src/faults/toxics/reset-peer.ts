/** toxiproxy's `toxics/reset_peer.go`: the connection is reset (RST). */
import { Stage } from './stage.js';

/** At the first data: drop it (and what follows), wait `timeout` ms, then reset both sockets (RST). */
export class ResetPeerStage extends Stage {
  private timer: NodeJS.Timeout | undefined;

  protected take(chunk: Buffer): void {
    this.drop(chunk.length);
    this.timer ??= setTimeout(() => this.host.reset(), this.attrs['timeout'] ?? 0);
  }

  protected takeEnd(close: boolean): void {
    if (this.timer === undefined) this.next.end(close);
  }

  protected flush(): void {
    this.stop();
  }

  protected stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
