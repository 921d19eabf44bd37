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
 *
 * A reader paused by backpressure is not polled by libuv, so a reset that
 * peer sends would go unseen for as long as the other side stays stalled
 * (and with no idle timeout, forever). Paused sockets are therefore probed
 * every PAUSED_PROBE_MS with a zero-length write, which returns the socket's
 * pending error (ECONNRESET) at once; one process-wide timer runs only while
 * some socket is paused. TCP keepalive (set where the sockets are created)
 * covers the other silent case: a peer that vanished while the connection
 * was idle.
 */
import type { Socket } from 'node:net';
import { errorCode } from '../errors.js';
import type { ByteCounts, Carrier, CarrierDone, CarrierEnd, CarrierOptions } from './carrier.js';
import type { UpstreamSocket } from './forwarded.js';

/** The JS pump's options are the carrier's deadlines (carrier.ts). */
export type PumpOptions = CarrierOptions;

/**
 * Stream buffer size of both sockets: 64 KiB, the size of one read by Node
 * (libuv). At Node's default (16 KiB) almost every full read makes write()
 * report a full buffer, so the reader is paused and resumed per chunk, two
 * epoll_ctl calls each time; measured here, 0.93 s of proxy CPU per GiB at
 * 16 KiB against 0.86 s at 64 KiB (bench/README.md). It also bounds what one
 * connection buffers in svcproxy under backpressure: 64 KiB per direction.
 */
export const SOCKET_HIGH_WATER_MARK = 64 * 1024;

/** How often a socket paused by backpressure is probed for a reset it cannot otherwise report. */
export const PAUSED_PROBE_MS = 5000;

const kPair = Symbol('svcproxy.pair');
const EMPTY = Buffer.alloc(0);

/** Either end of a pair: the client's net.Socket, or the endpoint's (a net.Socket or a port-forward stream). */
type End = UpstreamSocket;

interface Pumped extends End {
  [kPair]: Pair;
}

/** The state of one joined connection; both sockets point at it. It is also the lease's carrier. */
class Pair implements Carrier {
  open = 2;
  /** Decided by the first error, timeout or abort; otherwise by which side sent FIN first. */
  reason: CarrierEnd | undefined = undefined;
  firstFin: 'client_fin' | 'endpoint_fin' | undefined = undefined;
  error: Error | undefined;
  halfClosed = false;
  /** What a socket timeout means when it fires: the idle or the half-close deadline (whichever was armed). */
  timeoutReason: 'idle_timeout' | 'half_close_timeout' = 'idle_timeout';

  constructor(
    readonly downstream: End,
    readonly upstream: End,
    readonly options: CarrierOptions,
    readonly done: CarrierDone,
  ) {}

  peerOf(socket: End): End {
    return socket === this.downstream ? this.upstream : this.downstream;
  }

  bytes(): ByteCounts {
    return { fromDownstream: this.downstream.bytesRead, fromUpstream: this.upstream.bytesRead };
  }

  abort(): void {
    this.reason ??= 'drain';
    reset(this.downstream);
    reset(this.upstream);
  }
}

function pairOf(socket: End): Pair {
  return (socket as Pumped)[kPair];
}

/** Sends RST to the peer of a failed socket, so the failure is visible at both ends. */
function reset(socket: End): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}

/** Readers paused by backpressure, probed by one process-wide timer while any exist. */
const paused = new Set<End>();
let probeTimer: NodeJS.Timeout | undefined;

/**
 * Puts a reader just paused by backpressure under the probe (until it is
 * resumed or closed). The toxic pump uses it too: it pauses its readers the
 * same way, and carries every connection while the toxiproxy API is on.
 */
export function watchPaused(socket: End): void {
  paused.add(socket);
  probeTimer ??= setInterval(probePaused, PAUSED_PROBE_MS).unref();
}

function probePaused(): void {
  for (const socket of paused) {
    if (socket.destroyed || !socket.isPaused()) {
      paused.delete(socket);
      continue;
    }
    // Only a socket with nothing queued to write: one with queued data is polled for writability and sees the error.
    if (socket.writableLength === 0 && !socket.writableEnded) socket.write(EMPTY);
  }
  if (paused.size === 0) {
    clearInterval(probeTimer);
    probeTimer = undefined;
  }
}

function onData(this: End, chunk: Buffer): void {
  const peer = pairOf(this).peerOf(this);
  // A peer already gone: the bytes have nowhere to go (its close ends this side).
  if (peer.destroyed || peer.write(chunk)) return;
  this.pause();
  watchPaused(this);
  // The 'drain' listener is attached on first need: most short connections never fill a buffer.
  if (peer.listenerCount('drain') === 0) peer.on('drain', onDrain);
}

/** The writer drained: let its peer, the reader, go on. */
function onDrain(this: End): void {
  const reader = pairOf(this).peerOf(this);
  reader.resume();
  paused.delete(reader);
}

function onEnd(this: End): void {
  const pair = pairOf(this);
  pair.firstFin ??= this === pair.downstream ? 'client_fin' : 'endpoint_fin';
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
  const idleFirst = idleTimeoutMs > 0 && idleTimeoutMs < halfCloseTimeoutMs;
  pair.timeoutReason = idleFirst ? 'idle_timeout' : 'half_close_timeout';
  const ms = idleFirst ? idleTimeoutMs : halfCloseTimeoutMs;
  armTimeout(pair.downstream, ms);
  armTimeout(pair.upstream, ms);
}

/** Socket timeouts (idle, half-close) are armed only when needed, and with them their listener. */
function armTimeout(socket: End, ms: number): void {
  if (socket.listenerCount('timeout') === 0) socket.on('timeout', onTimeout);
  socket.setTimeout(ms);
}

function onError(this: End, err: Error): void {
  const pair = pairOf(this);
  if (pair.error === undefined) {
    pair.error = err;
    pair.reason ??= this === pair.downstream ? 'client_reset' : 'endpoint_reset';
  }
  reset(pair.peerOf(this));
}

function onTimeout(this: End): void {
  const pair = pairOf(this);
  pair.reason ??= pair.timeoutReason;
  pair.downstream.destroy();
  pair.upstream.destroy();
}

function onClose(this: End): void {
  const pair = pairOf(this);
  paused.delete(this);
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
  const { downstream, upstream } = pair;
  const end = pair.reason ?? pair.firstFin ?? 'client_fin';
  pair.done({ end, bytesFromDownstream: downstream.bytesRead, bytesFromUpstream: upstream.bytesRead, errorCode: errorCode(pair.error) });
}

function attach(socket: End, pair: Pair): void {
  (socket as Pumped)[kPair] = pair;
  socket.on('error', onError);
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('close', onClose);
}

/**
 * Joins `downstream` and `upstream` until both have closed, then calls
 * `done` once (the carrier contract, carrier.ts). Returns the pair as the
 * lease's carrier: live byte counts and abort (the drain deadline).
 */
export function pump(downstream: Socket, upstream: UpstreamSocket, options: CarrierOptions, done: CarrierDone): Carrier {
  const pair = new Pair(downstream, upstream, options, done);
  attach(downstream, pair);
  attach(upstream, pair);
  // A socket's timeout counts reads and writes, and every byte either way is read on one socket and
  // written on the other, so the downstream's timer alone sees all traffic.
  if (options.idleTimeoutMs > 0) armTimeout(downstream, options.idleTimeoutMs);
  downstream.resume(); // accepted with pauseOnConnect: reading starts now that an upstream exists
  return pair;
}
