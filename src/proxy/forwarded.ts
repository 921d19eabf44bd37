/**
 * How the data path reaches an endpoint that is not dialled: a port-forward
 * stream to a cluster Pod through the API server (src/portforward/). Types
 * only: proxy/ knows the port-forwarder by this interface alone, and the
 * portforward room implements it (it may import proxy/'s carrier types, never
 * the other way round).
 *
 *   TcpForwarder.attempt: pick -> endpoint.portForward ? forwarder.open(pod, port) : dial(host, port)
 *                         -> a failure is a failed dial (next endpoint, passive health)
 *                         -> the JS pump or the toxic pump carries the stream (never the native one)
 */
import type { Duplex } from 'node:stream';

/**
 * What the JS pump and the toxic pump need of an endpoint's side: a
 * net.Socket has all of it, and so has a port-forward stream's adapter. A
 * FIN is end() / 'end'; a reset is resetAndDestroy() / an 'error'; the
 * byte count is read at close; setTimeout() arms the idle and half-close
 * deadlines ('timeout' when nothing moved for that long); a zero-length
 * write is the paused-reader probe (pump.ts) and must be harmless.
 */
export interface UpstreamSocket extends Duplex {
  /** Payload bytes received from the endpoint so far. */
  readonly bytesRead: number;
  /** Resets the endpoint's side (TCP RST; RST_STREAM on a port-forward stream) and destroys it. */
  resetAndDestroy(): this;
  /** 'timeout' after `ms` with no byte either way; 0 disarms. */
  setTimeout(ms: number, callback?: () => void): this;
  /** end(), then destroy once what is queued has been written. */
  destroySoon(): void;
}

/** Called once: the stream, or why not (a failed dial of that endpoint). */
export type ForwardDone = (err: Error | null, stream?: UpstreamSocket) => void;

/** One upgraded connection to a Pod, as /metrics and /api/portforward show it. */
export interface PortForwardSession {
  /** `namespace/name`. */
  readonly pod: string;
  /** 'websocket' (SPDY/3.1 over a WebSocket) or 'spdy' (the plain SPDY/3.1 upgrade). */
  readonly protocol: string;
  readonly streams: number;
}

/** The port-forwarder's counters, read at scrape time. */
export interface PortForwardStats {
  /** Connections carried right now (one data stream each). */
  readonly streamsOpen: number;
  /** Stream opens by result: `ok`, `refused` (an upgrade refused), `error` (text on the error stream), `timeout`, `failed` (the connection to the API server). */
  readonly opens: Readonly<Record<string, number>>;
  readonly sessions: readonly PortForwardSession[];
  /** Upgraded connections opened after the first to the same Pod (a dropped or full one replaced). */
  readonly reconnects: number;
  /** Payload bytes carried to and from Pods, closed streams included. */
  readonly bytesToPods: number;
  readonly bytesFromPods: number;
}

/** The forwarder the TCP forwarder asks for a stream. */
export interface PortForwarder {
  /**
   * A stream to `port` of Pod `pod` (`namespace/name`) within `timeoutMs`,
   * or why not. `done` is called exactly once; a stream it hands over has no
   * 'error' listener yet: the caller attaches one in the same tick.
   */
  open(pod: string, port: number, timeoutMs: number, done: ForwardDone): void;
  stats(): PortForwardStats;
  /** Closes every session (their streams are reset); later opens fail. */
  close(): Promise<void>;
}
