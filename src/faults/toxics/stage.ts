/**
 * What each toxic does to one direction of one connection: a stage that
 * takes chunks (and the end of the stream) from the stage before it and
 * hands them, changed, delayed or not at all, to the one after it. The
 * toxic pump (proxy/toxic-pump.ts) chains them between the two sockets;
 * each toxic is a file of this folder, as toxiproxy keeps them.
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
import { Random } from '../random.js';
import type { ToxicSpec } from '../toxics.js';
import type { ConnectionToxic, LiveToxic, StageHost, StageTarget, ToxicStage } from '../types.js';

/** The base of every toxic's stage: the no-op when released or missed, the counters, release and reconfigure. */
export abstract class Stage implements ToxicStage, LiveToxic {
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

/** How every toxic's stage is made (toxics/index.ts keeps one per type). */
export type StageClass = new (host: StageHost, toxic: ConnectionToxic, next: StageTarget) => Stage;
