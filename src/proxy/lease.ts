/**
 * A lease: one TCP connection's or UDP flow's membership in the Service port
 * that admitted it, from accept to close. The Service port hands it out at
 * admission (ServicePort.admit); from then on everything about the
 * connection is recorded on the lease and settled with its owner when it
 * ends, never with "whatever port the listener serves now" (a reload may have
 * retargeted the listener meanwhile). The carrier, live byte counts, the
 * drain and close observers (the access log, fault metrics) all go through
 * the lease; nobody maps a socket back to a port afterwards.
 *
 *   accept -> admit() -> Lease ------------ carrier (carrier.ts) ------------> end(termination, bytes)
 *               |  refused: ended at once (source_range, max_connections)        |
 *               |                                                                 v
 *               +-- owner: PortLedger (private stats of the Service port) <--- settle: active--, bytes, reason
 *
 * Everything outside reads a lease; it changes only through its methods: the
 * ledger's (takeSlot, connected, releaseSlot), the forwarder's (dialling,
 * carry, met) and end()/abort(). Per connection this is one small object and
 * a few field writes; nothing here runs per byte.
 */
import type { Socket } from 'node:net';
import type { ServicePortKey } from '../state/types.js';
import { CARRIER_ENDS, NO_BYTES, type ByteCounts, type Carrier } from './carrier.js';
import type { Upstream } from './upstream.js';

export type { ByteCounts } from './carrier.js';

/**
 * How a forwarded connection (or flow) ends: a carrier's end (CARRIER_ENDS,
 * carrier.ts), or one that happens around a carrier:
 *  - client_gone: the client left while its endpoint was being dialled.
 *  - evicted: UDP: the flow was the oldest when the port's flow limit was reached.
 *  - listener_closed: UDP: the listener closed (a reload removed it, or shutdown).
 * The counters (stats.ts) and the metrics have one entry per item, in this order.
 */
export const FORWARDED_ENDS = [...CARRIER_ENDS, 'client_gone', 'evicted', 'listener_closed'] as const;

export type ForwardedEnd = (typeof FORWARDED_ENDS)[number];

/** Why a connection or flow is refused rather than forwarded (it is reset), in the counters' order. */
export const REJECT_REASONS = ['no_endpoints', 'dial_failed', 'source_range', 'max_connections'] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

/** Every way a lease can end: forwarded and then closed, or refused. */
export type Termination = ForwardedEnd | RejectReason;

/** What a lease settles with when it ends: its Service port's ledger. */
export interface LeaseOwner {
  readonly key: ServicePortKey;
  settle(lease: Lease): void;
}

export class Lease {
  private endpointValue: Upstream | undefined = undefined;
  private connectMsValue = -1;
  private carrierValue: Carrier | undefined = undefined;
  private downstreamValue: Socket | undefined = undefined;
  private upstreamValue: Socket | undefined = undefined;
  private toxicsValue: readonly string[] = [];
  private admittedValue = false;
  private terminationValue: Termination | undefined = undefined;
  private errorCodeValue = '';
  private bytesValue: ByteCounts = NO_BYTES;
  private endedAtValue = 0;
  private abortedValue = false;

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

  /** The endpoint picked and connected; undefined until then (and for refused connections). */
  get endpoint(): Upstream | undefined {
    return this.endpointValue;
  }

  /** Time to connect to the endpoint, ms; -1 when no endpoint was connected (and for UDP flows). */
  get connectMs(): number {
    return this.connectMsValue;
  }

  /** Whoever moves the bytes, once the endpoint is connected; undefined before, and after the end. */
  get carrier(): Carrier | undefined {
    return this.carrierValue;
  }

  /**
   * TCP: the client socket, from admission to end (a drain resets a
   * connection still dialling through it); undefined once the native pump
   * owns the connection (its net.Socket is destroyed).
   */
  get downstream(): Socket | undefined {
    return this.downstreamValue;
  }

  /** TCP: the endpoint socket while a JS carrier runs; undefined otherwise. */
  get upstream(): Socket | undefined {
    return this.upstreamValue;
  }

  /** Names of the faults (toxics) this connection met; empty for almost every connection. */
  get toxics(): readonly string[] {
    return this.toxicsValue;
  }

  /** True between admission and settlement: it holds a slot of the owner's active count (max-connections). */
  get admitted(): boolean {
    return this.admittedValue;
  }

  /** Set once, by end(). */
  get termination(): Termination | undefined {
    return this.terminationValue;
  }

  /** The error code behind a *_reset termination (ECONNRESET, ETIMEDOUT...), '' otherwise. */
  get errorCode(): string {
    return this.errorCodeValue;
  }

  /** Final byte counts, set by end(). */
  get bytes(): ByteCounts {
    return this.bytesValue;
  }

  /** Date.now() at end; 0 while open. */
  get endedAt(): number {
    return this.endedAtValue;
  }

  /** The drain asked for this lease to be reset. */
  get aborted(): boolean {
    return this.abortedValue;
  }

  get open(): boolean {
    return this.terminationValue === undefined;
  }

  /** The ledger: the lease now holds a slot of its port's active count. */
  takeSlot(): void {
    this.admittedValue = true;
  }

  /** The ledger, settling: gives the slot back; true when the lease held one. */
  releaseSlot(): boolean {
    const held = this.admittedValue;
    this.admittedValue = false;
    return held;
  }

  /** The ledger: the endpoint is connected (TCP), or the flow opened to it (UDP: connectMs -1). */
  connected(upstream: Upstream, connectMs: number): void {
    this.endpointValue = upstream;
    this.connectMsValue = connectMs;
  }

  /** TCP: the client socket, held while the endpoint is dialled so that a drain can reset it. */
  dialling(downstream: Socket): void {
    this.downstreamValue = downstream;
  }

  /**
   * Whoever moves the bytes from now on, and the sockets it moves them
   * through when they are still net.Sockets (the JS carriers); none for the
   * native pump (the addon owns the descriptors) or a UDP flow.
   */
  carry(carrier: Carrier, downstream?: Socket, upstream?: Socket): void {
    this.carrierValue = carrier;
    this.downstreamValue = downstream;
    this.upstreamValue = upstream;
  }

  /** A fault (toxic) this connection met, at hand-off or later (an API toxic added while it runs). */
  met(toxic: string): void {
    if (!this.toxicsValue.includes(toxic)) this.toxicsValue = [...this.toxicsValue, toxic];
  }

  /** Bytes so far: the carrier's live counts while open, the final ones after. */
  liveBytes(): ByteCounts {
    if (this.terminationValue !== undefined) return this.bytesValue;
    return this.carrierValue === undefined ? NO_BYTES : this.carrierValue.bytes();
  }

  /**
   * The drain deadline: reset now. A carrier ends the lease itself (with
   * 'drain'); a connection still dialling has only its client socket, whose
   * reset the dial callback sees.
   */
  abort(): void {
    if (this.terminationValue !== undefined) return;
    this.abortedValue = true;
    if (this.carrierValue !== undefined) this.carrierValue.abort();
    else if (this.downstreamValue !== undefined && !this.downstreamValue.destroyed) this.downstreamValue.resetAndDestroy();
  }

  /**
   * Ends the lease exactly once and settles it with its owner; later calls
   * are ignored. `endedAt` is the clock (Date.now()); tests pass their own.
   */
  end(termination: Termination, bytes: ByteCounts = NO_BYTES, errorCode = '', endedAt = Date.now()): void {
    if (this.terminationValue !== undefined) return;
    this.terminationValue = termination;
    this.bytesValue = bytes;
    this.errorCodeValue = errorCode;
    this.endedAtValue = endedAt;
    this.carrierValue = undefined;
    this.downstreamValue = undefined;
    this.upstreamValue = undefined;
    this.owner.settle(this);
  }
}
