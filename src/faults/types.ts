/**
 * The shapes the fault room shares with the rest of svcproxy: what a new
 * connection gets (a chain, DOWN or nothing), what its toxic pump asks of a
 * toxic's stage, and what the admin surface and /metrics read. Types only:
 * `proxy/` imports these and never a value of `faults/`, so the data path
 * depends on the room's contract, not on its code.
 */
import type { Random } from './random.js';
import type { ToxicSpec, ToxicStream, ToxicType } from './toxics.js';

export type ToxicSource = 'config' | 'api';

/** Counters of one toxic on one Service port; the toxic pump adds to them. */
export interface ToxicCounters {
  /** Connections that got the toxic (after the toxicity draw). */
  applications: number;
  /** Bytes a delaying toxic (latency, bandwidth, slicer) held back for a while. */
  delayedBytes: number;
  /** Bytes a toxic threw away (timeout at close, limit_data beyond the limit, reset_peer). */
  droppedBytes: number;
  /** Bytes held by the toxic right now (a gauge). */
  heldBytes: number;
}

/** A stage of a live connection that uses a toxic: it can give it up, or take its new attributes. */
export interface LiveToxic {
  /** The toxic was removed: flush what is held, in order, and pass everything on from now on. */
  release(): void;
  /** The toxic was updated through the API: new attributes from now on, and a new toxicity draw. */
  reconfigure(spec: ToxicSpec): void;
}

/** One toxic of one source, as the stages of the connections that met it see it (binding.ts). */
export interface ToxicBindingState {
  readonly source: ToxicSource;
  /** The Fault's `namespace/name`, or the API proxy's name. */
  readonly owner: string;
  /** Current; only an API update changes it (its name, type and stream never change). */
  readonly spec: ToxicSpec;
  /** Removed: a stage built now passes everything on. */
  readonly retired: boolean;
  /** The stages of open connections that use it (released when it is removed). */
  readonly live: Set<LiveToxic>;
}

/** Where a stage sends its output: the next stage or the direction's sink. */
export interface StageTarget {
  push(chunk: Buffer): void;
  /** The end of the stream; `close` = a toxic ends the whole connection (limit_data, timeout) rather than a FIN of this direction. */
  end(close: boolean): void;
}

/** One toxic acting on one direction of one connection, as the toxic pump chains it. */
export interface ToxicStage extends StageTarget {
  /** The stage after it; the pump re-links it when a stage is appended or leaves. */
  next: StageTarget;
  /** The connection is over: stop timers; what is still held is counted as dropped. */
  dispose(): void;
}

/** What a stage may ask of the direction (of the connection) it is part of: the toxic pump implements it. */
export interface StageHost {
  /** Bytes held by every stage of this direction changed by `delta`. */
  held(delta: number): void;
  /** Something moved on: the reader may resume. */
  moved(): void;
  /** reset_peer: RST both sockets now. */
  reset(): void;
  /** A released stage passes everything on: take it out of the chain (so many toxics added and removed keep a chain short). */
  unlink(stage: ToxicStage): void;
  /** The connection got toxic `name` by a later draw (an API update): it is named among those the connection met. */
  met(name: string): void;
}

/** What the toxic pump needs for one toxic of one connection. */
export interface ConnectionToxic {
  /** The spec when the connection met the toxic (later attributes come through LiveToxic.reconfigure). */
  readonly spec: ToxicSpec;
  readonly counters: ToxicCounters;
  /** Seed of this connection's random choices for this toxic (jitter, slicer sizes). */
  readonly seed: number;
  readonly binding: ToxicBindingState;
  /**
   * The toxicity draw: false = the toxic stands in the chain as a no-op (toxiproxy's noop
   * stub), so that an update can draw again in place. Declared toxics that miss are left
   * out of the chain instead; only API toxics (always on live connections) get here false.
   */
  readonly active: boolean;
  /** The connection's generator of API toxicity draws, which an update draws from again; undefined for declared toxics. */
  readonly draws: Random | undefined;
  /** This toxic's stage for one direction, handing its output to `next` (the pump needs no stage code of its own). */
  stage(host: StageHost, next: StageTarget): ToxicStage;
}

/** A live connection's chain, as its pump exposes it to the fault table. */
export interface LiveChain {
  /** An API toxic added after admission: appended at the end of its direction's chain. */
  append(toxic: ConnectionToxic): void;
}

/** A connection open while the toxiproxy API is on, as its pump sees it (live.ts). */
export interface LiveHandle {
  /** The pump started: from now on API toxics added to the proxy reach `chain`. */
  attach(chain: LiveChain): void;
  /** The connection has ended: no more toxics reach it. */
  leave(): void;
}

/**
 * What a new connection gets when it has something to run: its chain of
 * toxics, and while the toxiproxy API is on its LiveConnection (even with
 * no toxic yet: the API may add one later).
 */
export interface ConnectionChain {
  /** In chain order: the declared faults' toxics that hit, then every API toxic of the proxy (see `active`). */
  readonly toxics: readonly ConnectionToxic[];
  readonly live: LiveHandle | undefined;
}

/** An API proxy turned off (`enabled: false`): new connections to it are reset. */
export type Down = 'down';

/** What a new connection gets: a chain, 'down', or undefined for nothing at all (the fast path: the plain or native pump). */
export type ConnectionFaults = ConnectionChain | Down | undefined;

/** The endpoint a connection was sent to. */
export interface ConnectionTarget {
  /** `host:port`. */
  readonly id: string;
  /** `namespace/name` of its Pod, '' for hand-written endpoints. */
  readonly pod: string;
}

/** One toxic as the admin surface shows it. */
export interface ToxicView {
  readonly source: ToxicSource;
  /** The Fault (`namespace/name`) or API proxy it belongs to. */
  readonly owner: string;
  readonly name: string;
  readonly type: ToxicType;
  readonly stream: ToxicStream;
  readonly toxicity: number;
  readonly attributes: Readonly<Record<string, number>>;
  /** false while a Fault waits for its `after`, or after its `for` ran out. */
  readonly active: boolean;
  /** What the Fault targets ('' for API toxics, which target the whole proxy). */
  readonly target: string;
}

/** One series of the toxic metrics. */
export interface ToxicCounterEntry {
  readonly servicePort: string;
  readonly source: ToxicSource;
  readonly owner: string;
  readonly name: string;
  readonly type: ToxicType;
  readonly stream: ToxicStream;
  readonly counters: Readonly<ToxicCounters>;
}
