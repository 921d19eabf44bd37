/**
 * A lease: one TCP connection's or UDP flow's membership in the Service port
 * that admitted it, from accept to close. The Service port hands it out at
 * admission (ServicePortProxy.admit); from then on everything about the
 * connection is recorded on the lease and settled with its owner when it
 * ends, never with "whatever port the listener serves now" (a reload may have
 * retargeted the listener meanwhile). The pump, the UDP relay, live byte
 * counts, the drain and close observers (the access log, fault metrics) all
 * go through the lease; nobody maps a socket back to a port afterwards.
 *
 *   accept -> admit() -> Lease ----------- carrier (pump / relay) ----------> end(termination, bytes)
 *               |  refused: ended at once (source_range, max_connections)        |
 *               |                                                                 v
 *               +-- owner: PortLedger (private stats of the Service port) <--- settle: active--, bytes, reason
 *
 * Per connection this is one small object and a few field writes; nothing
 * here runs per byte.
 */
import type { Socket } from 'node:net';
import type { ServicePortKey } from '../state/types.js';
import type { Upstream } from './upstream.js';

/** How a forwarded connection (or flow) ended. */
export type ForwardedEnd =
  /** The client sent FIN first; both sides then closed cleanly. */
  | 'client_fin'
  /** The endpoint sent FIN first; both sides then closed cleanly. */
  | 'endpoint_fin'
  /** The client's side failed: a reset (ECONNRESET, EPIPE) or another socket error (ETIMEDOUT from keepalive). */
  | 'client_reset'
  /** The endpoint's side failed, likewise. */
  | 'endpoint_reset'
  /** No byte moved either way for the Service's idle timeout (svcproxy.dev/idle-timeout). */
  | 'idle_timeout'
  /** One direction had finished and nothing moved for --half-close-timeout. */
  | 'half_close_timeout'
  /** Still open at the drain deadline, so reset. */
  | 'drain'
  /** The client left while its endpoint was being dialled. */
  | 'client_gone'
  /** UDP: the flow was the oldest when the port's flow limit was reached. */
  | 'evicted'
  /** UDP: the listener closed (a reload removed it, or shutdown). */
  | 'listener_closed';

/** Why a connection or flow was refused rather than forwarded (it is reset). */
export type RejectReason = 'no_endpoints' | 'dial_failed' | 'source_range' | 'max_connections';

/** Every way a lease can end: forwarded and then closed, or refused. */
export type Termination = ForwardedEnd | RejectReason;

export interface ByteCounts {
  /** Received from the client (and sent on to the endpoint). */
  readonly fromDownstream: number;
  /** Received from the endpoint (and sent on to the client). */
  readonly fromUpstream: number;
}

export const NO_BYTES: ByteCounts = { fromDownstream: 0, fromUpstream: 0 };

/** Whoever moves the bytes of a leased connection: the JS pump, the UDP relay (later a native pump, a toxic pump). */
export interface LeaseCarrier {
  /** Bytes moved so far; read at scrape or tick time, never per byte. */
  bytes(): ByteCounts;
  /** Resets both sides now (the drain deadline); the carrier then ends the lease with 'drain'. */
  abort(): void;
}

/** What a lease settles with when it ends: its Service port's ledger. */
export interface LeaseOwner {
  readonly key: ServicePortKey;
  settle(lease: Lease): void;
}

export class Lease {
  /** The endpoint picked and connected; undefined until then (and for refused connections). */
  endpoint: Upstream | undefined = undefined;
  /** Time to connect to the endpoint, ms; -1 when no endpoint was connected. */
  connectMs = -1;
  /** Set by whoever moves the bytes, once the endpoint is connected. */
  carrier: LeaseCarrier | undefined = undefined;
  /** TCP: the client socket, from admission to end (a drain resets a connection still dialling through it). */
  downstream: Socket | undefined = undefined;
  /** TCP: the endpoint socket, from connection to end. */
  upstream: Socket | undefined = undefined;
  /** Names of the faults (toxics) this connection met; empty for almost every connection. */
  toxics: readonly string[] = [];
  /** True between admission and end: it holds a slot of the owner's active count (max-connections). */
  admitted = false;
  /** Set once, by end(). */
  termination: Termination | undefined = undefined;
  /** The error code behind a *_reset termination (ECONNRESET, ETIMEDOUT...), '' otherwise. */
  errorCode = '';
  /** Final byte counts, set by end(). */
  bytes: ByteCounts = NO_BYTES;
  /** Date.now() at end; 0 while open. */
  endedAt = 0;
  /** The drain asked for this lease to be reset. */
  aborted = false;

  constructor(
    readonly owner: LeaseOwner,
    readonly protocol: 'TCP' | 'UDP',
    /** The client's address (IPv4-mapped IPv6 unwrapped) and port; '' and 0 when not read (no policy needed them). */
    readonly clientAddress: string,
    readonly clientPort: number,
    /** Date.now() at accept. */
    readonly startedAt: number = Date.now(),
  ) {}

  /** The Service port that owns this lease, fixed at admission. */
  get servicePort(): ServicePortKey {
    return this.owner.key;
  }

  get open(): boolean {
    return this.termination === undefined;
  }

  /** Bytes so far: the carrier's live counts while open, the final ones after. */
  liveBytes(): ByteCounts {
    if (this.termination !== undefined) return this.bytes;
    return this.carrier === undefined ? NO_BYTES : this.carrier.bytes();
  }

  /**
   * The drain deadline: reset now. A carrier ends the lease itself (with
   * 'drain'); a connection still dialling has only its client socket, whose
   * reset the dial callback sees.
   */
  abort(): void {
    if (this.termination !== undefined) return;
    this.aborted = true;
    if (this.carrier !== undefined) this.carrier.abort();
    else if (this.downstream !== undefined && !this.downstream.destroyed) this.downstream.resetAndDestroy();
  }

  /** Ends the lease exactly once and settles it with its owner; later calls are ignored. */
  end(termination: Termination, bytes: ByteCounts = NO_BYTES, errorCode = ''): void {
    if (this.termination !== undefined) return;
    this.termination = termination;
    this.bytes = bytes;
    this.errorCode = errorCode;
    this.endedAt = Date.now();
    this.carrier = undefined;
    this.downstream = undefined;
    this.upstream = undefined;
    this.owner.settle(this);
  }
}
