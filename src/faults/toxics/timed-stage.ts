/**
 * The shared queue of the delaying toxics (latency, bandwidth, slicer): a
 * FIFO of chunks, each emitted at its due time and never before the one in
 * front of it.
 */
import { Stage } from './stage.js';

interface Timed {
  readonly chunk: Buffer | undefined; // undefined: the end of the stream
  readonly close: boolean;
  readonly due: number; // performance.now() ms
}

/**
 * A FIFO of chunks, each emitted at its due time (never before the one in
 * front of it): latency, bandwidth and slicer differ only in how they set
 * due times.
 */
export abstract class TimedStage extends Stage {
  private readonly queue: Timed[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Due time of the last item queued: nothing may overtake it. */
  protected last = 0;
  /** How late (ms) the timer emitted the last item it emitted: time this stage owes its stream (bandwidth makes it up). */
  protected lateMs = 0;

  protected enqueue(chunk: Buffer | undefined, due: number, close = false): void {
    const at = Math.max(due, this.last);
    this.last = at;
    if (chunk !== undefined) {
      this.hold(chunk.length);
      if (at > performance.now()) this.toxic.counters.delayedBytes += chunk.length;
    }
    this.queue.push({ chunk, close, due: at });
    if (this.timer === undefined) this.arm();
  }

  protected takeEnd(close: boolean): void {
    this.enqueue(undefined, performance.now(), close);
  }

  private arm(): void {
    const item = this.queue[this.head];
    if (item === undefined) return;
    this.timer = setTimeout(() => this.fire(), Math.max(0, item.due - performance.now()));
  }

  private fire(): void {
    this.timer = undefined;
    // Timers fire with ms resolution: items due within the next half millisecond go now.
    const now = performance.now() + 0.5;
    for (let item = this.queue[this.head]; item !== undefined && item.due <= now; item = this.queue[this.head]) {
      this.head++;
      this.lateMs = Math.max(0, now - 0.5 - item.due);
      this.emit(item);
      if (this.disposed) return; // emitting may end the connection, which disposes this stage
    }
    this.compact();
    this.host.moved();
    this.arm();
  }

  private emit(item: Timed): void {
    if (item.chunk === undefined) {
      this.next.end(item.close);
      return;
    }
    this.hold(-item.chunk.length);
    this.next.push(item.chunk);
  }

  private compact(): void {
    if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  protected flush(): void {
    this.stop();
    while (this.head < this.queue.length) {
      const item = this.queue[this.head++] as Timed;
      this.emit(item);
      if (this.disposed) return; // emitting may end the connection, which disposes this stage
    }
    this.queue.length = 0;
    this.head = 0;
    this.last = 0; // everything is out: a stage that becomes active again schedules from now
  }

  protected stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
