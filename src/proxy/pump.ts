/**
 * The pump: joins a client socket (downstream) and a backend socket
 * (upstream) until both have closed. This is the only per-byte code, and it
 * adds nothing per chunk: pipe() moves the bytes and applies backpressure
 * (a writer that returns false pauses the reader), so memory per connection
 * is bounded by the stream buffers, not by how fast either side sends.
 *
 *   client --FIN--> pump --end()--> backend      (other direction keeps flowing)
 *   client --RST--> pump --RST----> backend      (resetAndDestroy, and the reverse)
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

/** Sends RST to the peer of a failed socket, so the failure is visible at both ends. */
function reset(socket: Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}

export function pump(downstream: Socket, upstream: Socket, options: PumpOptions, done: (result: PumpResult) => void): void {
  let open = 2;
  let reason: CloseReason = 'closed';
  let error: Error | undefined;
  let halfClosed = false;

  const onDownstreamError = (err: Error): void => {
    if (error === undefined) {
      error = err;
      reason = 'downstream_error';
    }
    reset(upstream);
  };
  const onUpstreamError = (err: Error): void => {
    if (error === undefined) {
      error = err;
      reason = 'upstream_error';
    }
    reset(downstream);
  };
  const onTimeout = (): void => {
    if (reason === 'closed') reason = halfClosed ? 'half_close_timeout' : 'idle_timeout';
    downstream.destroy();
    upstream.destroy();
  };
  const onEnd = (): void => {
    // pipe() has already passed the FIN on; from now on an idle pair is a leak in waiting.
    if (halfClosed || options.halfCloseTimeoutMs <= 0) return;
    halfClosed = true;
    const ms = options.idleTimeoutMs > 0 ? Math.min(options.idleTimeoutMs, options.halfCloseTimeoutMs) : options.halfCloseTimeoutMs;
    downstream.setTimeout(ms);
    upstream.setTimeout(ms);
  };
  const onClose = (): void => {
    if (--open > 0) {
      // One side is fully closed without an error: let the other flush what it holds, then FIN.
      if (!downstream.destroyed) downstream.end();
      if (!upstream.destroyed) upstream.end();
      return;
    }
    done({ bytesFromDownstream: downstream.bytesRead, bytesFromUpstream: upstream.bytesRead, reason, error });
  };

  downstream.on('error', onDownstreamError);
  upstream.on('error', onUpstreamError);
  downstream.once('end', onEnd);
  upstream.once('end', onEnd);
  downstream.once('close', onClose);
  upstream.once('close', onClose);
  downstream.once('timeout', onTimeout);
  upstream.once('timeout', onTimeout);
  if (options.idleTimeoutMs > 0) downstream.setTimeout(options.idleTimeoutMs);
  downstream.pipe(upstream);
  upstream.pipe(downstream);
}
