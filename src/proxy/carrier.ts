/**
 * The connection contract: what every carrier of a TCP connection's bytes
 * promises. A carrier is whatever moves the bytes between a client socket
 * (downstream) and an endpoint (upstream) once the endpoint is connected:
 * the JS pump (pump.ts), the toxic pump (toxic-pump.ts), the native splice
 * pump (native-pump.ts) and, next, a port-forward stream. The TCP forwarder
 * (tcp-forwarder.ts) picks one per connection and hands it the pair; from
 * then on the carrier owns both ends and
 *
 *  - passes a FIN on as a FIN and a reset on as a reset, honours the idle and
 *    half-close deadlines of CarrierOptions;
 *  - answers `bytes()` (live counts, read at scrape or tick time, never per byte)
 *    and `abort()` (the drain deadline: reset both sides now);
 *  - calls its `done` exactly once, when both ends have closed, with a
 *    CarrierResult whose `end` is one of CARRIER_ENDS.
 *
 * This module imports nothing: the carriers, the lease, the addon loader and
 * the test that reads native/splice-pump/src/splice_pump.c all take the list
 * from here.
 */

/**
 * Every way a carrier can end a connection, in the order of the native
 * addon's `enum reason` (splice_pump.c, numbered from 1; it names the last
 * one R_ABORT: the addon only knows it was told to reset, and only the drain
 * tells it). test/proxy/carrier.test.ts checks the C enum against this list.
 *
 *  - client_fin: the client sent FIN first; both sides then closed cleanly.
 *  - endpoint_fin: the endpoint sent FIN first; both sides then closed cleanly.
 *  - client_reset: the client's side failed (ECONNRESET, EPIPE, ETIMEDOUT from keepalive...).
 *  - endpoint_reset: the endpoint's side failed, likewise.
 *  - idle_timeout: no byte moved either way for the Service's idle timeout.
 *  - half_close_timeout: one direction had finished and nothing moved for --half-close-timeout.
 *  - drain: reset on demand (`abort()`), at the drain deadline.
 */
export const CARRIER_ENDS = ['client_fin', 'endpoint_fin', 'client_reset', 'endpoint_reset', 'idle_timeout', 'half_close_timeout', 'drain'] as const;

/** How a carried connection ended: one of CARRIER_ENDS. */
export type CarrierEnd = (typeof CARRIER_ENDS)[number];

/** The end the native addon reported as a number (1-based index into CARRIER_ENDS); one it should never send reads as a reset. */
export function carrierEnd(code: number): CarrierEnd {
  return CARRIER_ENDS[code - 1] ?? 'client_reset';
}

export interface ByteCounts {
  /** Received from the client (and sent on to the endpoint). */
  readonly fromDownstream: number;
  /** Received from the endpoint (and sent on to the client). */
  readonly fromUpstream: number;
}

export const NO_BYTES: ByteCounts = { fromDownstream: 0, fromUpstream: 0 };

/** What every carrier reports, once, when both ends of its connection have closed. */
export interface CarrierResult {
  readonly end: CarrierEnd;
  /** Bytes received from the client in all (before and after any hand-off). */
  readonly bytesFromDownstream: number;
  /** Bytes received from the endpoint in all. */
  readonly bytesFromUpstream: number;
  /** The error code behind a *_reset end (ECONNRESET, ETIMEDOUT...), '' for a clean end. */
  readonly errorCode: string;
}

/** Called once per carried connection. */
export type CarrierDone = (result: CarrierResult) => void;

/** The Service port's deadlines a carrier enforces (both in ms, 0 = off). */
export interface CarrierOptions {
  /**
   * How long a pair may stay half-closed (one direction finished) with no
   * bytes moving before both sockets are closed; 0 disables the deadline.
   * It keeps a peer that never closes its side from leaking a socket in
   * CLOSE_WAIT (the leak kubernetes/kubernetes#18354 was about).
   */
  readonly halfCloseTimeoutMs: number;
  /** Close the pair when no byte has moved either way for this long; 0 = never. */
  readonly idleTimeoutMs: number;
}

/**
 * A running carrier, as the lease holds it. A UDP flow (udp-listener.ts) is
 * one too: it moves a flow's datagrams and answers the same two questions.
 */
export interface Carrier {
  /** Bytes moved so far; read at scrape or tick time, never per byte. */
  bytes(): ByteCounts;
  /** Resets both sides now (the drain deadline); the carrier then reports its end as `drain`. */
  abort(): void;
}
