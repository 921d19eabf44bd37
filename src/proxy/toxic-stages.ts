/**
 * What each toxic does to one direction of one connection: a stage that
 * takes chunks (and the end of the stream) from the stage before it and
 * hands them, changed, delayed or not at all, to the one after it. The
 * toxic pump (toxic-pump.ts) chains them between the two sockets.
 *
 *   socket --data--> [latency] --> [bandwidth] --> ... --> sink --write--> socket
 *
 * Order is never broken: a stage emits what it holds first-in first-out,
 * and a stage whose toxic is removed while the connection runs (release())
 * hands on everything it holds, in order, at once, and is taken out of the
 * chain. A toxic added through the toxiproxy API while the connection runs
 * is appended at the end of the chain (what earlier stages hold then passes
 * through it too); one updated takes its new attributes at once and draws
 * its toxicity again: a stage whose draw missed stands in the chain as a
 * no-op (toxiproxy's noop stub) and one that stops hitting flushes what it
 * holds, in order, first. What a stage holds is counted (the direction
 * pauses its reader beyond a cap, so memory per connection is bounded) and
 * reported in the toxic's counters.
 */
import type { ConnectionToxic, LiveToxic } from '../faults/fault-table.js';
import { Random } from '../faults/random.js';
import type { ToxicSpec } from '../faults/toxics.js';

/** Where a stage sends its output: the next stage or the sink. */
export interface StageTarget {
  push(chunk: Buffer): void;
  /** The end of the stream; `close` = a toxic ends the whole connection (limit_data, timeout) rather than a FIN of this direction. */
  end(close: boolean): void;
}

/** What a stage may ask of the connection it is part of. */
export interface StageHost {
  /** Bytes held by every stage of this direction changed by `delta`. */
  held(delta: number): void;
  /** Something moved on: the reader may resume. */
  moved(): void;
  /** reset_peer: RST both sockets now. */
  reset(): void;
  /** A released stage passes everything on: take it out of the chain (so many toxics added and removed keep a chain short). */
  unlink(stage: Stage): void;
  /** The connection got toxic `name` by a later draw (an API update): it is named among those the connection met. */
  met(name: string): void;
}

export abstract class Stage implements StageTarget, LiveToxic {
  next: StageTarget;
  released = false;
  disposed = false;
  /** The toxicity draw: false = a no-op until an API update draws a hit. */
  protected active: boolean;
  /** The connection was counted as one that got the toxic (once, however often its draws change). */
  private applied: boolean;
  protected holding = 0;
  protected readonly rng: Random;
  protected attrs: Readonly<Record<string, number>>;

  constructor(
    protected readonly host: StageHost,
    protected readonly toxic: ConnectionToxic,
    next: StageTarget,
  ) {
    this.next = next;
    this.rng = new Random(toxic.seed);
    this.attrs = toxic.binding.spec.attributes;
    this.active = toxic.active;
    this.applied = toxic.active;
    if (toxic.binding.retired) this.released = true;
    else toxic.binding.live.add(this);
  }

  push(chunk: Buffer): void {
    if (this.released || !this.active) this.next.push(chunk);
    else this.take(chunk);
  }

  end(close: boolean): void {
    if (this.released || !this.active) this.next.end(close);
    else this.takeEnd(close);
  }

  /** The toxic was removed: hand on what is held, in order, then leave the chain. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.toxic.binding.live.delete(this);
    this.flush();
    this.host.unlink(this);
    this.host.moved();
  }

  /**
   * The toxic was updated through the API: its attributes apply from now on
   * (what is queued keeps its schedule, so nothing overtakes anything), and
   * its toxicity is drawn again from the connection's generator, as
   * toxiproxy's restarted stub does. A stage that stops hitting hands on
   * what it holds, in order, and passes everything on until a later draw hits.
   */
  reconfigure(spec: ToxicSpec): void {
    if (this.released) return;
    this.attrs = spec.attributes;
    const { draws } = this.toxic;
    const active = draws === undefined ? this.active : draws.next() < spec.toxicity;
    if (!active) {
      if (this.active) {
        this.active = false;
        this.flush();
        this.host.moved();
      }
      return;
    }
    this.active = true;
    if (!this.applied) {
      this.applied = true;
      this.toxic.counters.applications++;
      this.host.met(spec.name);
    }
    this.restart();
  }

  /** Active again, or active with new attributes: a stage with a clock of its own starts it over (timeout). */
  protected restart(): void {
    // Most stages read their attributes per chunk: nothing to do.
  }

  /** The connection is over: stop timers; what is still held was never delivered (counted as dropped). */
  dispose(): void {
    this.disposed = true;
    this.toxic.binding.live.delete(this);
    this.stop();
    if (this.holding > 0) {
      this.toxic.counters.droppedBytes += this.holding;
      this.hold(-this.holding);
    }
  }

  protected hold(delta: number): void {
    this.holding += delta;
    this.toxic.counters.heldBytes += delta;
    this.host.held(delta);
  }

  protected drop(bytes: number): void {
    this.toxic.counters.droppedBytes += bytes;
  }

  protected abstract take(chunk: Buffer): void;
  protected abstract takeEnd(close: boolean): void;
  /** Hands on everything held, in order (release). */
  protected abstract flush(): void;
  protected abstract stop(): void;
}

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
abstract class TimedStage extends Stage {
  private readonly queue: Timed[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Due time of the last item queued: nothing may overtake it. */
  protected last = 0;

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

/** `latency` (ms) ± `jitter` (ms) per chunk, counted from when the chunk arrived (toxiproxy's LatencyToxic). */
class LatencyStage extends TimedStage {
  protected take(chunk: Buffer): void {
    const latency = this.attrs['latency'] ?? 0;
    const jitter = this.attrs['jitter'] ?? 0;
    // Go: delay += rand.Int63n(jitter*2) - jitter
    const delay = jitter > 0 ? latency + this.rng.int(jitter * 2) - jitter : latency;
    this.enqueue(chunk, performance.now() + Math.max(0, delay));
  }
}

/** How close (ms) a chunk must follow the previous one's due time to count as the same burst (bandwidth). */
const CONTINUE_MS = 50;

/** `rate` KB/s (bytes per ms): each piece waits its own length / rate, in pieces of at most 100 ms of data. */
class BandwidthStage extends TimedStage {
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
      // machine; after a real pause (CONTINUE_MS) the stream starts again from now, as toxiproxy's.
      const now = performance.now();
      const from = this.holding > 0 || now - this.last < CONTINUE_MS ? this.last : now;
      this.last = from + part.length / rate;
      this.enqueue(part, this.last);
    }
  }
}

/** Cuts chunks into pieces of `average_size` ± `size_variation` bytes, `delay` µs apart. */
class SlicerStage extends TimedStage {
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

/** Data passes; the end of the stream waits `delay` ms. */
class SlowCloseStage extends Stage {
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

/**
 * Nothing passes: the stage holds what arrives (the reader pauses at the
 * cap, so the rest waits in kernel buffers, as on a stalled network) and
 * after `timeout` ms drops it and closes the connection; 0 = hold forever.
 * toxiproxy drops the data at once; holding it instead is what lets a
 * removed timeout toxic give the stream back intact.
 */
class TimeoutStage extends Stage {
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

/** At the first data: drop it (and what follows), wait `timeout` ms, then reset both sockets (RST). */
class ResetPeerStage extends Stage {
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

/**
 * Passes exactly `bytes` bytes in this direction, then closes the connection.
 * What has passed is kept across updates (toxiproxy's limit_data state), so
 * a new `bytes` counts from the start of the connection.
 */
class LimitDataStage extends Stage {
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

const STAGES = {
  latency: LatencyStage,
  bandwidth: BandwidthStage,
  slicer: SlicerStage,
  slow_close: SlowCloseStage,
  timeout: TimeoutStage,
  reset_peer: ResetPeerStage,
  limit_data: LimitDataStage,
} as const satisfies Record<ConnectionToxic['spec']['type'], new (host: StageHost, toxic: ConnectionToxic, next: StageTarget) => Stage>;

/** The stage of `toxic`, handing its output to `next`. */
export function createStage(host: StageHost, toxic: ConnectionToxic, next: StageTarget): Stage {
  return new STAGES[toxic.spec.type](host, toxic, next);
}

/** Builds the chain for one direction, first toxic first; returns the stages (head = stages[0] or the sink). */
export function buildStages(host: StageHost, toxics: readonly ConnectionToxic[], sink: StageTarget): Stage[] {
  const stages: Stage[] = [];
  let next = sink;
  for (let i = toxics.length - 1; i >= 0; i--) {
    const stage = createStage(host, toxics[i] as ConnectionToxic, next);
    stages.unshift(stage);
    next = stage;
  }
  return stages;
}
