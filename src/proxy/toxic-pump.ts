/**
 * The toxic pump: pump.ts's job (join a client socket and a backend socket
 * until both have closed) for a connection that met toxics. Each direction
 * runs its toxics' stages between the reader and the writer; each toxic
 * hands out its own stage (faults/toxics/), so this file needs only the
 * fault room's types:
 *
 *   client --data--> [upstream toxics]   --> backend
 *   client <-------- [downstream toxics] <-- backend
 *
 * Only connections with at least one toxic come here, and, while the
 * toxiproxy API is on, every connection (with no toxic yet, each direction
 * is just its sink): the API may add a toxic to it later, appended at the
 * end of its direction's chain (LiveChain). Without the API, a connection
 * without toxics keeps the plain or native pump, so toxics cost nothing per
 * chunk where they are not used.
 *
 * Memory per direction is bounded: when what the stages hold plus what the
 * writer has queued passes HOLD_CAP, the reader pauses (the rest waits in
 * kernel buffers, and the paused reader is probed for resets as pump.ts
 * does), and resumes when it falls below.
 *
 * Closing follows pump.ts (a FIN passes as a FIN, an error resets the
 * other side, idle and half-close timeouts), plus what toxics do: close the
 * connection (limit_data, timeout: both sockets end after what they have
 * queued) or reset it (reset_peer).
 */
import type { Socket } from 'node:net';
import type { ConnectionChain, ConnectionToxic, LiveChain, StageHost, StageTarget, ToxicStage } from '../faults/types.js';
import { errorCode } from '../errors.js';
import type { ByteCounts, Carrier, CarrierDone, CarrierEnd, CarrierOptions } from './carrier.js';
import type { UpstreamSocket } from './forwarded.js';
import { watchPaused } from './pump.js';

/** Bytes one direction may hold (in its stages and its writer's queue) before its reader pauses. */
export const HOLD_CAP = 256 * 1024;

class Direction implements StageHost, StageTarget {
  /** The chain, first stage first; the last one hands to this direction's sink (this). */
  private readonly stages: ToxicStage[];
  private head: StageTarget;
  private heldBytes = 0;
  private paused = false;

  constructor(
    private readonly pair: ToxicPair,
    readonly src: UpstreamSocket,
    readonly dst: UpstreamSocket,
    toxics: readonly ConnectionToxic[],
  ) {
    // Built last first, each stage handing to the one after it; the last hands to this direction's sink.
    this.stages = [];
    for (let i = toxics.length - 1; i >= 0; i--) {
      const next = this.stages[0] ?? this;
      this.stages.unshift((toxics[i] as ConnectionToxic).stage(this, next));
    }
    this.head = this.stages[0] ?? this;
  }

  /**
   * An API toxic added while the connection runs goes at the end of the
   * chain (as toxiproxy's ToxicLink.AddToxic): what earlier stages hold now
   * passes through it when they let it go, and nothing overtakes anything.
   */
  append(toxic: ConnectionToxic): void {
    const stage = toxic.stage(this, this);
    const last = this.stages[this.stages.length - 1];
    if (last === undefined) this.head = stage;
    else last.next = stage;
    this.stages.push(stage);
  }

  // StageHost: a released stage leaves the chain; its neighbours join up.
  unlink(stage: ToxicStage): void {
    const i = this.stages.indexOf(stage);
    if (i < 0) return;
    const before = this.stages[i - 1];
    if (before === undefined) this.head = stage.next;
    else before.next = stage.next;
    this.stages.splice(i, 1);
  }

  met(name: string): void {
    this.pair.met(name);
  }

  /** From the reader: a chunk enters the chain. */
  read(chunk: Buffer): void {
    this.head.push(chunk);
    this.moved();
  }

  /** From the reader: its end of stream enters the chain. */
  readEnd(): void {
    this.head.end(false);
  }

  // StageTarget: the sink at the end of the chain.
  push(chunk: Buffer): void {
    if (!this.dst.destroyed && !this.dst.writableEnded) this.dst.write(chunk);
  }

  end(close: boolean): void {
    if (close) this.pair.close();
    else this.pair.finish(this);
  }

  // StageHost
  held(delta: number): void {
    this.heldBytes += delta;
  }

  moved(): void {
    const full = this.heldBytes + this.dst.writableLength > HOLD_CAP;
    if (full && !this.paused) {
      this.paused = true;
      this.src.pause();
      watchPaused(this.src); // a paused reader is not polled: its reset is seen only through the probe
      if (this.dst.listenerCount('drain') === 0) this.dst.on('drain', () => this.moved());
    } else if (!full && this.paused) {
      this.paused = false;
      if (!this.src.destroyed) this.src.resume();
    }
  }

  reset(): void {
    this.pair.reset();
  }

  dispose(): void {
    for (const s of this.stages) s.dispose();
  }
}

type PumpEnd = CarrierEnd;

/** What the toxic pump joins, and whom it tells. */
export interface ToxicPumpInput {
  readonly downstream: Socket;
  /** The endpoint's side: a net.Socket, or a port-forward stream. */
  readonly upstream: UpstreamSocket;
  readonly options: CarrierOptions;
  /** The fault table's answer for this connection: its toxics, and its LiveConnection while the API is on. */
  readonly chain: ConnectionChain;
  /** Called once, when both sockets have closed. */
  readonly done: CarrierDone;
  /** Told of a toxic the connection got after admission (for the lease's list). */
  readonly met?: (name: string) => void;
}

/** One joined connection with toxics; also the lease's carrier, and the live chain the fault table appends to. */
class ToxicPair implements Carrier, LiveChain {
  readonly downstream: Socket;
  readonly upstream: UpstreamSocket;
  private readonly options: CarrierOptions;
  private readonly chain: ConnectionChain;
  private readonly done: CarrierDone;
  readonly met: (name: string) => void;
  readonly up: Direction;
  readonly down: Direction;
  private open = 2;
  /** Decided by the first error, timeout, abort or toxic; otherwise by which side sent FIN first. */
  private reason: PumpEnd | undefined = undefined;
  private firstFin: 'client_fin' | 'endpoint_fin' | undefined = undefined;
  private error: Error | undefined;
  private halfClosed = false;
  /** The idle deadline comes before the half-close one: a timeout then is an idle timeout. */
  private idleFirst = false;
  private closing = false;
  private ended = false;

  constructor(input: ToxicPumpInput) {
    const { downstream, upstream, options, chain } = input;
    this.downstream = downstream;
    this.upstream = upstream;
    this.options = options;
    this.chain = chain;
    this.done = input.done;
    this.met = input.met ?? ((): void => undefined);
    const { toxics } = chain;
    this.up = new Direction(
      this,
      downstream,
      upstream,
      toxics.filter((t) => t.spec.stream === 'upstream'),
    );
    this.down = new Direction(
      this,
      upstream,
      downstream,
      toxics.filter((t) => t.spec.stream === 'downstream'),
    );
    this.attach(downstream, this.up);
    this.attach(upstream, this.down);
    if (options.idleTimeoutMs > 0) this.armTimeout(downstream, options.idleTimeoutMs);
    chain.live?.attach(this); // from now on, API toxics added to the proxy reach this connection
    downstream.resume(); // accepted with pauseOnConnect
  }

  /** LiveChain: an API toxic added to the proxy while this connection is open. */
  append(toxic: ConnectionToxic): void {
    if (this.ended) return;
    (toxic.spec.stream === 'upstream' ? this.up : this.down).append(toxic);
    if (toxic.active) this.met(toxic.spec.name);
  }

  bytes(): ByteCounts {
    return { fromDownstream: this.downstream.bytesRead, fromUpstream: this.upstream.bytesRead };
  }

  /** The drain deadline: reset both sides now. */
  abort(): void {
    this.reason ??= 'drain';
    this.closing = true;
    if (!this.downstream.destroyed) this.downstream.resetAndDestroy();
    if (!this.upstream.destroyed) this.upstream.resetAndDestroy();
  }

  private attach(socket: UpstreamSocket, direction: Direction): void {
    socket.on('data', (chunk: Buffer) => direction.read(chunk));
    socket.on('end', () => {
      this.firstFin ??= socket === this.downstream ? 'client_fin' : 'endpoint_fin';
      direction.readEnd();
    });
    socket.on('error', (err: Error) => this.onError(socket, err));
    socket.on('close', () => this.onClose(socket));
  }

  private peerOf(socket: UpstreamSocket): UpstreamSocket {
    return socket === this.downstream ? this.upstream : this.downstream;
  }

  /** A direction's stream ended (after its toxics): pass the FIN on, as pump.ts does. */
  finish(direction: Direction): void {
    const peer = direction.dst;
    if (peer.destroyed) return;
    peer.end();
    const { halfCloseTimeoutMs, idleTimeoutMs } = this.options;
    if (this.halfClosed || halfCloseTimeoutMs <= 0) return;
    this.halfClosed = true;
    this.idleFirst = idleTimeoutMs > 0 && idleTimeoutMs < halfCloseTimeoutMs;
    const ms = this.idleFirst ? idleTimeoutMs : halfCloseTimeoutMs;
    this.armTimeout(this.downstream, ms);
    this.armTimeout(this.upstream, ms);
  }

  /** A toxic closes the connection (limit_data, timeout): both sockets end after what they have queued. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    // Seen from the client, svcproxy (standing in for the endpoint) closed first.
    this.firstFin ??= 'endpoint_fin';
    for (const socket of [this.downstream, this.upstream] as const) {
      if (socket.destroyed) continue;
      socket.pause(); // what arrives from now on has nowhere to go
      socket.destroySoon(); // end(), then destroy once the queue is written
    }
  }

  /** reset_peer: RST on both sockets. */
  reset(): void {
    this.reason ??= 'endpoint_reset';
    this.closing = true;
    if (!this.downstream.destroyed) this.downstream.resetAndDestroy();
    if (!this.upstream.destroyed) this.upstream.resetAndDestroy();
  }

  private armTimeout(socket: UpstreamSocket, ms: number): void {
    if (socket.listenerCount('timeout') === 0) {
      socket.on('timeout', () => {
        this.reason ??= this.halfClosed && !this.idleFirst ? 'half_close_timeout' : 'idle_timeout';
        this.downstream.destroy();
        this.upstream.destroy();
      });
    }
    socket.setTimeout(ms);
  }

  private onError(socket: UpstreamSocket, err: Error): void {
    if (this.error === undefined) {
      this.error = err;
      this.reason ??= socket === this.downstream ? 'client_reset' : 'endpoint_reset';
    }
    const peer = this.peerOf(socket);
    if (!peer.destroyed) peer.resetAndDestroy();
  }

  private onClose(socket: UpstreamSocket): void {
    if (--this.open > 0) {
      const peer = this.peerOf(socket);
      if (!peer.destroyed && !this.closing) {
        // A clean end of `socket` is still travelling through its chain (toxics may hold it back);
        // the chain ends the peer when it gets there. Only a close without that end ends the peer now.
        if (!socket.readableEnded) peer.end();
        peer.resume(); // keep reading (and dropping) so the remote's own FIN is seen
      }
      return;
    }
    this.ended = true;
    this.chain.live?.leave(); // the table forgets the connection: one entry per open connection, no more
    this.up.dispose();
    this.down.dispose();
    const { downstream, upstream, error } = this;
    const reason = this.reason ?? this.firstFin ?? 'client_fin';
    this.done({ bytesFromDownstream: downstream.bytesRead, bytesFromUpstream: upstream.bytesRead, end: reason, errorCode: errorCode(error) });
  }
}

/**
 * Joins `downstream` and `upstream` through the chain's toxics and calls
 * `done` once, when both sockets have closed; returns the lease carrier
 * (live bytes, abort). Same contract as pump(). With a LiveConnection in the
 * chain, the connection is registered for API toxics until it ends; `met`
 * hears of each toxic it gets after admission.
 */
export function toxicPump(input: ToxicPumpInput): Carrier {
  return new ToxicPair(input);
}
