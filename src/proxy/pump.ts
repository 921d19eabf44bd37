/**
 * The pump: joins a client socket (downstream) and a backend socket
 * (upstream) until both have closed. This is the only per-byte code.
 *
 *   client --FIN--> pump --end()--> backend      (other direction keeps flowing)
 *   client --RST--> pump --RST----> backend      (resetAndDestroy, and the reverse)
 *
 * Each chunk read on one side is written to the other; when a write reports
 * a full buffer the reader is paused until the writer drains. So memory per
 * connection is bounded by the stream buffers, not by how fast either side
 * sends. This is what pipe() does, written out: pipe() registers about a
 * dozen listeners and closures per direction and keeps per-pipe state, and
 * on the connection-rate benchmark the lean version is measurably cheaper
 * (bench/README.md). The handlers are module-level functions; the only
 * per-connection allocation is one Pair.
 *
 * Both sockets must be created with `allowHalfOpen: true`, or Node closes the
 * write side as soon as the read side ends and a half-close turns into a close.
 */
import type { Socket } from 'node:net';

export type CloseReason = 'closed' | 'downstream_error' | 'upstream_error' | 'half_close_timeout' | 'idle_timeout';

export interface PumpResult {
  readonly bytesFromDownstream: number;
  readonly bytesFromUpstream: number;
  readonly reason: CloseReason;
  /** The first error either side reported (ECONNRESET for a reset). */
  readonly error: Error | undefined;
}

export interface PumpOptions {
  /**
   * How long a pair may stay half-closed (one direction finished) with no
   * bytes moving before both sockets are closed; 0 disables the deadline.
   * It keeps a peer that never closes its side from leaking a socket in
   * CLOSE_WAIT (the leak kubernetes/kubernetes#18354 was about).
   */
  readonly halfCloseTimeoutMs: number;
  /**
   * Close the pair when no byte has moved either way for this long; 0 = never.
   * A socket's timeout counts reads and writes, and every byte either way is
   * read on one socket and written on the other, so the downstream's timer
   * alone sees all traffic.
   */
  readonly idleTimeoutMs: number;
}

/**
 * Stream buffer size of both sockets: 64 KiB, the size of one read by Node
 * (libuv). At Node's default (16 KiB) almost every full read makes write()
 * report a full buffer, so the reader is paused and resumed per chunk, two
 * epoll_ctl calls each time; measured here, 0.93 s of proxy CPU per GiB at
 * 16 KiB against 0.86 s at 64 KiB (bench/README.md). It also bounds what one
 * connection buffers in svcproxy under backpressure: 64 KiB per direction.
 */
export const SOCKET_HIGH_WATER_MARK = 64 * 1024;

const kPair = Symbol('svcproxy.pair');

interface Pumped extends Socket {
  [kPair]: Pair;
}

/** The state of one joined connection; both sockets point at it. */
class Pair {
  open = 2;
  reason: CloseReason = 'closed';
  error: Error | undefined;
  halfClosed = false;

  constructor(
    readonly downstream: Socket,
    readonly upstream: Socket,
    readonly options: PumpOptions,
    readonly done: (result: PumpResult) => void,
  ) {}

  peerOf(socket: Socket): Socket {
    return socket === this.downstream ? this.upstream : this.downstream;
  }
}

function pairOf(socket: Socket): Pair {
  return (socket as Pumped)[kPair];
}

/** Sends RST to the peer of a failed socket, so the failure is visible at both ends. */
function reset(socket: Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}

function onData(this: Socket, chunk: Buffer): void {
  const peer = pairOf(this).peerOf(this);
  // A peer already gone: the bytes have nowhere to go (its close ends this side).
  if (peer.destroyed || peer.write(chunk)) return;
  this.pause();
  // The 'drain' listener is attached on first need: most short connections never fill a buffer.
  if (peer.listenerCount('drain') === 0) peer.on('drain', onDrain);
}

/** The writer drained: let its peer, the reader, go on. */
function onDrain(this: Socket): void {
  pairOf(this).peerOf(this).resume();
}

function onEnd(this: Socket): void {
  const pair = pairOf(this);
  const peer = pair.peerOf(this);
  if (peer.destroyed) return;
  if (peer.readableEnded && peer.writableLength === 0) {
    // Both directions are done and nothing is left to write: close() sends the FIN itself,
    // which saves the shutdown() that end() would make first (one syscall per connection).
    peer.destroy();
    return;
  }
  peer.end(); // the FIN travels on, after whatever the peer still has to write
  const { halfCloseTimeoutMs, idleTimeoutMs } = pair.options;
  // From now on an idle pair is a leak in waiting.
  if (pair.halfClosed || halfCloseTimeoutMs <= 0) return;
  pair.halfClosed = true;
  const ms = idleTimeoutMs > 0 ? Math.min(idleTimeoutMs, halfCloseTimeoutMs) : halfCloseTimeoutMs;
  armTimeout(pair.downstream, ms);
  armTimeout(pair.upstream, ms);
}

/** Socket timeouts (idle, half-close) are armed only when needed, and with them their listener. */
function armTimeout(socket: Socket, ms: number): void {
  if (socket.listenerCount('timeout') === 0) socket.on('timeout', onTimeout);
  socket.setTimeout(ms);
}

function onError(this: Socket, err: Error): void {
  const pair = pairOf(this);
  if (pair.error === undefined) {
    pair.error = err;
    pair.reason = this === pair.downstream ? 'downstream_error' : 'upstream_error';
  }
  reset(pair.peerOf(this));
}

function onTimeout(this: Socket): void {
  const pair = pairOf(this);
  if (pair.reason === 'closed') pair.reason = pair.halfClosed ? 'half_close_timeout' : 'idle_timeout';
  pair.downstream.destroy();
  pair.upstream.destroy();
}

function onClose(this: Socket): void {
  const pair = pairOf(this);
  if (--pair.open > 0) {
    // One side is fully closed without an error: the other flushes what it holds, then FIN;
    // it keeps reading (and dropping) so that the remote's own FIN is seen and the pair ends.
    const peer = pair.peerOf(this);
    if (!peer.destroyed) {
      peer.end();
      peer.resume();
    }
    return;
  }
  const { downstream, upstream, reason, error } = pair;
  pair.done({ bytesFromDownstream: downstream.bytesRead, bytesFromUpstream: upstream.bytesRead, reason, error });
}

function attach(socket: Socket, pair: Pair): void {
  (socket as Pumped)[kPair] = pair;
  socket.on('error', onError);
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('close', onClose);
}

export function pump(downstream: Socket, upstream: Socket, options: PumpOptions, done: (result: PumpResult) => void): void {
  const pair = new Pair(downstream, upstream, options, done);
  attach(downstream, pair);
  attach(upstream, pair);
  if (options.idleTimeoutMs > 0) armTimeout(downstream, options.idleTimeoutMs);
  downstream.resume(); // accepted with pauseOnConnect: reading starts now that an upstream exists
}
