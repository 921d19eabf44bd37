/**
 * The toxics in force: the declared Faults of the config being served and
 * the toxics added through the toxiproxy-compatible API, kept apart (the
 * API's `/reset` clears only its own). At admission, a Service port asks
 * which toxics a new connection gets (`forConnection`); the answer for a
 * port with no fault is `undefined` after one map lookup, so connections
 * without toxics keep the plain (or native) pump and pay nothing per chunk.
 *
 * While the toxiproxy API is on (`enableApi`), every connection is instead
 * answered with a chain and a `LiveConnection` that its pump attaches to: an
 * API toxic added later is appended to the live chain of every open
 * connection of its proxy, and an updated one changes in place, as
 * toxiproxy does. The registration goes when the connection ends, so the
 * table holds one small entry per open connection and no more. Declared
 * Faults never reach open connections (a reload is not an API call, and the
 * fast path must stay free): they are decided at admission only.
 *
 * No sockets and no timers: time comes in as an argument. A toxic removed
 * (from the config or the API, or a Fault whose `for` ran out) releases the
 * live connections that met it through the `LiveToxic` handles their pumps
 * registered.
 */
import type { FaultPlan } from './fault-plan.js';
import { mixSeed, Random } from './random.js';
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

/** One toxic of one source; retired when removed, which releases every live connection that met it. */
export class ToxicBinding {
  readonly live = new Set<LiveToxic>();
  retired = false;

  constructor(
    readonly source: ToxicSource,
    /** The Fault's `namespace/name`, or the API proxy's name. */
    readonly owner: string,
    /** Current; only an API update changes it (its name, type and stream never change). */
    public spec: ToxicSpec,
  ) {}

  retire(): void {
    if (this.retired) return;
    this.retired = true;
    const live = [...this.live];
    this.live.clear();
    for (const l of live) l.release();
  }

  /** An API update: the new spec for new connections, and for the live ones that use the toxic (toxiproxy does both). */
  update(spec: ToxicSpec): void {
    this.spec = spec;
    for (const l of [...this.live]) l.reconfigure(spec);
  }
}

/** What the toxic pump needs for one toxic of one connection. */
export interface ConnectionToxic {
  /** The spec when the connection met the toxic (later attributes come through LiveToxic.reconfigure). */
  readonly spec: ToxicSpec;
  readonly counters: ToxicCounters;
  /** Seed of this connection's random choices for this toxic (jitter, slicer sizes). */
  readonly seed: number;
  readonly binding: ToxicBinding;
  /**
   * The toxicity draw: false = the toxic stands in the chain as a no-op (toxiproxy's noop
   * stub), so that an update can draw again in place. Declared toxics that miss are left
   * out of the chain instead; only API toxics (always on live connections) get here false.
   */
  readonly active: boolean;
  /** The connection's generator of API toxicity draws, which an update draws from again; undefined for declared toxics. */
  readonly draws: Random | undefined;
}

/** An API proxy turned off (`enabled: false`): new connections to it are reset. */
export const DOWN = 'down';

/** A live connection's chain, as its pump exposes it to the table. */
export interface LiveChain {
  /** An API toxic added after admission: appended at the end of its direction's chain. */
  append(toxic: ConnectionToxic): void;
}

/**
 * A connection open while the toxiproxy API is on. Its pump attaches its
 * chain when it starts and leaves when the connection has ended; only
 * attached connections are in the table.
 */
export class LiveConnection {
  private chain: LiveChain | undefined;

  constructor(
    private readonly table: FaultTable,
    /** The proxy (Service port or ad-hoc forward) it belongs to. */
    readonly key: string,
    /** The seed of its API draws and random choices. */
    readonly base: number,
    /** Its API toxicity draws: admission's first, then one per toxic added or updated while it is open. */
    readonly draws: Random,
  ) {}

  attach(chain: LiveChain): void {
    this.chain = chain;
    this.table.register(this);
  }

  /** The connection has ended: no more toxics reach it. */
  leave(): void {
    this.chain = undefined;
    this.table.unregister(this);
  }

  /** From the table: an API toxic added to this connection's proxy. */
  append(toxic: ConnectionToxic): void {
    this.chain?.append(toxic);
  }
}

/**
 * What a new connection gets when it has something to run: its chain of
 * toxics, and while the toxiproxy API is on its LiveConnection (even with
 * no toxic yet: the API may add one later).
 */
export interface ConnectionChain {
  /** In chain order: the declared faults' toxics that hit, then every API toxic of the proxy (see `active`). */
  readonly toxics: readonly ConnectionToxic[];
  readonly live: LiveConnection | undefined;
}

/** What a new connection gets: a chain, DOWN, or undefined for nothing at all (the fast path: the plain or native pump). */
export type ConnectionFaults = ConnectionChain | typeof DOWN | undefined;

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

interface FaultRuntime {
  readonly plan: FaultPlan;
  /** When this revision was first applied (ms); its schedule counts from here. */
  readonly appliedAt: number;
  /** Connections it has seen (its seeded choices are indexed by this). */
  connections: number;
  readonly bindings: readonly ToxicBinding[];
  expired: boolean;
}

interface ApiProxyToxics {
  /** In the order added (toxiproxy lists upstream first; see apiToxics). */
  readonly bindings: ToxicBinding[];
  down: boolean;
}

function isActive(f: FaultRuntime, now: number): boolean {
  const start = f.appliedAt + f.plan.afterMs;
  return !f.expired && now >= start && (f.plan.forMs === 0 || now < start + f.plan.forMs);
}

function randomSeed(): number {
  return Math.floor(Math.random() * 4294967296);
}

export class FaultTable {
  private faults = new Map<string, FaultRuntime>();
  /** Service port key -> the declared faults that may touch it. */
  private byPort = new Map<string, FaultRuntime[]>();
  private readonly api = new Map<string, ApiProxyToxics>();
  private readonly counters = new Map<string, Map<string, ToxicCounterEntry & { counters: ToxicCounters }>>();
  /** True once the toxiproxy API exists: every connection then registers (see LiveConnection). */
  private apiEnabled = false;
  /** Proxy key -> its open connections, while the API is on. */
  private readonly liveByKey = new Map<string, Set<LiveConnection>>();
  /** Called after every change of the toxics in force (for the admin feed). */
  onChange: () => void = () => undefined;

  /** @param seeds where an API connection's seed comes from (random; tests pass a sequence). */
  constructor(private readonly seeds: () => number = randomSeed) {}

  /**
   * The toxiproxy API is on (`--toxiproxy-address`): from now on every new
   * connection gets a chain and registers, so that API toxics reach it while
   * it is open. Nothing else turns this on: without the API, connections
   * without toxics keep the plain or native pump.
   */
  enableApi(): void {
    this.apiEnabled = true;
  }

  /** Connections registered now (open while the API is on), all proxies together. */
  get liveConnections(): number {
    let n = 0;
    for (const set of this.liveByKey.values()) n += set.size;
    return n;
  }

  /** From LiveConnection.attach. */
  register(conn: LiveConnection): void {
    let set = this.liveByKey.get(conn.key);
    if (set === undefined) {
      set = new Set();
      this.liveByKey.set(conn.key, set);
    }
    set.add(conn);
  }

  /** From LiveConnection.leave. */
  unregister(conn: LiveConnection): void {
    const set = this.liveByKey.get(conn.key);
    if (set === undefined || !set.delete(conn)) return;
    if (set.size === 0) this.liveByKey.delete(conn.key);
  }

  /**
   * Installs the declared faults of a new snapshot. A fault whose revision
   * is unchanged keeps its schedule and connection count; a removed or
   * changed one is retired (its live connections are released).
   */
  setDeclared(plans: readonly FaultPlan[], now: number): void {
    const next = new Map<string, FaultRuntime>();
    for (const plan of plans) {
      const old = this.faults.get(plan.id);
      if (old !== undefined && old.plan.revision === plan.revision) {
        // The same fault: keep its clock, count and bindings; its targets may have been re-resolved.
        next.set(plan.id, { ...old, plan, bindings: old.bindings });
        continue;
      }
      next.set(plan.id, {
        plan,
        appliedAt: now,
        connections: 0,
        bindings: plan.toxics.map((t) => new ToxicBinding('config', plan.id, t)),
        expired: false,
      });
    }
    for (const [id, old] of this.faults) {
      const kept = next.get(id);
      if (kept === undefined || kept.bindings !== old.bindings) for (const b of old.bindings) b.retire();
    }
    // Carry the mutable fields over by reference: `next` entries for kept faults are copies.
    for (const [id, f] of next) {
      const old = this.faults.get(id);
      if (old !== undefined && old.bindings === f.bindings) {
        f.connections = old.connections;
        f.expired = old.expired;
      }
    }
    this.faults = next;
    this.byPort = new Map();
    for (const f of next.values()) {
      for (const key of f.plan.servicePorts) {
        const list = this.byPort.get(key) ?? [];
        list.push(f);
        this.byPort.set(key, list);
      }
    }
    this.onChange();
  }

  /** The next time (ms) a declared fault starts or ends, or undefined when none will. */
  nextScheduleChange(now: number): number | undefined {
    let next: number | undefined;
    for (const f of this.faults.values()) {
      if (f.expired) continue;
      const start = f.appliedAt + f.plan.afterMs;
      const end = f.plan.forMs === 0 ? undefined : start + f.plan.forMs;
      for (const t of [start, end]) if (t !== undefined && t > now && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  /** Retires faults whose `for` ran out (releasing their connections); true when anything changed. */
  expire(now: number): boolean {
    let changed = false;
    for (const f of this.faults.values()) {
      if (f.expired || f.plan.forMs === 0 || now < f.appliedAt + f.plan.afterMs + f.plan.forMs) continue;
      f.expired = true;
      for (const b of f.bindings) b.retire();
      changed = true;
    }
    return changed;
  }

  /**
   * The toxics a new connection of Service port `key` to `target` gets, in
   * chain order: the declared faults' (in config order), then the API's.
   * Each toxic's toxicity is drawn here, once per connection; a seeded
   * fault draws from (seed, fault, connection index), so the same config
   * makes the same choices run after run. While the API is on the answer is
   * never undefined: every connection gets a chain (maybe empty) and a
   * LiveConnection for its pump to attach.
   */
  forConnection(key: string, target: ConnectionTarget, now: number): ConnectionFaults {
    const declared = this.byPort.get(key);
    const api = this.api.get(key);
    if (declared === undefined && api === undefined && !this.apiEnabled) return undefined;
    if (api?.down === true) return DOWN;
    const out: ConnectionToxic[] = [];
    for (const f of declared ?? []) {
      if (!isActive(f, now)) continue;
      const { plan } = f;
      if (plan.endpoints !== undefined && !plan.endpoints.has(target.id)) continue;
      if (plan.pods !== undefined && !plan.pods.has(target.pod)) continue;
      const base = plan.seed === undefined ? randomSeed() : mixSeed(plan.seed, plan.id, f.connections);
      f.connections++;
      const rng = new Random(base);
      // toxiproxy: rand.Float32() < toxicity. A declared toxic that misses is left out: its Fault never
      // changes on an open connection.
      for (const binding of f.bindings) if (rng.next() < binding.spec.toxicity) out.push(this.connectionToxic(key, binding, base, true, undefined));
    }
    // API toxics only ever exist with the API on; a table with none and no API is the declared case.
    if (!this.apiEnabled && api === undefined) return out.length === 0 ? undefined : { toxics: out, live: undefined };
    const base = this.seeds();
    const live = new LiveConnection(this, key, base, new Random(base));
    // Every API toxic stands in the chain, a miss as a no-op, so that an update can draw again in place.
    for (const binding of api?.bindings ?? []) out.push(this.apiToxic(key, binding, live));
    return { toxics: out, live };
  }

  /**
   * An API toxic for a connection open while the API is on, with its
   * toxicity drawn from the connection's own generator: at admission in the
   * order the toxics were added, then one draw per toxic added later, so a
   * toxic added to an open connection gets the answer that a connection
   * admitted after it, with the same seed, would get.
   */
  private apiToxic(key: string, binding: ToxicBinding, conn: LiveConnection): ConnectionToxic {
    return this.connectionToxic(key, binding, conn.base, conn.draws.next() < binding.spec.toxicity, conn.draws);
  }

  private connectionToxic(key: string, binding: ToxicBinding, base: number, active: boolean, draws: Random | undefined): ConnectionToxic {
    const counters = this.countersOf(key, binding);
    if (active) counters.applications++;
    return { spec: binding.spec, counters, seed: mixSeed(base, binding.spec.name), binding, active, draws };
  }

  private countersOf(key: string, binding: ToxicBinding): ToxicCounters {
    let perPort = this.counters.get(key);
    if (perPort === undefined) {
      perPort = new Map();
      this.counters.set(key, perPort);
    }
    const id = `${binding.source}\u0000${binding.owner}\u0000${binding.spec.name}`;
    let entry = perPort.get(id);
    if (entry === undefined) {
      const { spec } = binding;
      entry = {
        servicePort: key,
        source: binding.source,
        owner: binding.owner,
        name: spec.name,
        type: spec.type,
        stream: spec.stream,
        counters: { applications: 0, delayedBytes: 0, droppedBytes: 0, heldBytes: 0 },
      };
      perPort.set(id, entry);
    }
    return entry.counters;
  }

  // --- the toxiproxy-compatible API's toxics, per proxy (a Service port key or an ad-hoc forward) ---

  /** The API toxics of a proxy: upstream chain first, then downstream, as toxiproxy lists them. */
  apiToxics(key: string): ToxicSpec[] {
    const bindings = this.api.get(key)?.bindings ?? [];
    return [...bindings.filter((b) => b.spec.stream === 'upstream'), ...bindings.filter((b) => b.spec.stream === 'downstream')].map((b) => b.spec);
  }

  /**
   * Adds an API toxic; false when the proxy already has one by that name.
   * It reaches the proxy's open connections too: appended at the end of each
   * one's chain for its direction (toxiproxy's ToxicLink.AddToxic), after a
   * toxicity draw from that connection's generator.
   */
  addApiToxic(key: string, owner: string, spec: ToxicSpec): boolean {
    const entry = this.apiEntry(key);
    if (entry.bindings.some((b) => b.spec.name === spec.name)) return false;
    const binding = new ToxicBinding('api', owner, spec);
    entry.bindings.push(binding);
    for (const conn of [...(this.liveByKey.get(key) ?? [])]) conn.append(this.apiToxic(key, binding, conn));
    this.onChange();
    return true;
  }

  /**
   * Updates an API toxic in place: new connections get the new spec, and
   * open connections take its attributes at once and draw its toxicity again
   * (toxiproxy restarts the toxic's stub on every link, which draws anew).
   */
  updateApiToxic(key: string, spec: ToxicSpec): boolean {
    const binding = this.api.get(key)?.bindings.find((b) => b.spec.name === spec.name);
    if (binding === undefined) return false;
    binding.update(spec);
    this.onChange();
    return true;
  }

  /** Removes an API toxic and releases the live connections that met it; false when there is none. */
  removeApiToxic(key: string, name: string): boolean {
    const entry = this.api.get(key);
    const i = entry?.bindings.findIndex((b) => b.spec.name === name) ?? -1;
    const binding = entry?.bindings[i];
    if (entry === undefined || binding === undefined) return false;
    entry.bindings.splice(i, 1);
    binding.retire();
    this.dropIfEmpty(key, entry);
    this.onChange();
    return true;
  }

  /** Turns an API proxy off (new connections reset) or on again. */
  setDown(key: string, down: boolean): void {
    const entry = this.apiEntry(key);
    entry.down = down;
    this.dropIfEmpty(key, entry);
    this.onChange();
  }

  isDown(key: string): boolean {
    return this.api.get(key)?.down === true;
  }

  /** Forgets a proxy's API toxics (the proxy was deleted). */
  dropApiProxy(key: string): void {
    const entry = this.api.get(key);
    if (entry === undefined) return;
    for (const b of entry.bindings) b.retire();
    this.api.delete(key);
    this.onChange();
  }

  /** toxiproxy's POST /reset: every API toxic removed, every proxy enabled; declared faults untouched. */
  resetApi(): void {
    for (const entry of this.api.values()) for (const b of entry.bindings) b.retire();
    this.api.clear();
    this.onChange();
  }

  private apiEntry(key: string): ApiProxyToxics {
    let entry = this.api.get(key);
    if (entry === undefined) {
      entry = { bindings: [], down: false };
      this.api.set(key, entry);
    }
    return entry;
  }

  private dropIfEmpty(key: string, entry: ApiProxyToxics): void {
    if (entry.bindings.length === 0 && !entry.down) this.api.delete(key);
  }

  // --- views for the admin surface ---

  /**
   * The toxics of Service port `key`: those that affect every connection of
   * the port, and those aimed at particular endpoints (by endpoint id).
   */
  views(key: string, endpoints: readonly ConnectionTarget[], now: number): { port: ToxicView[]; byEndpoint: Map<string, ToxicView[]> } {
    const port: ToxicView[] = [];
    const byEndpoint = new Map<string, ToxicView[]>();
    for (const f of this.byPort.get(key) ?? []) {
      const active = isActive(f, now);
      const views = f.bindings.map((b) => view(b, active, f.plan.target));
      const { plan } = f;
      if (plan.endpoints === undefined && plan.pods === undefined) {
        port.push(...views);
        continue;
      }
      for (const e of endpoints) {
        if (plan.endpoints !== undefined && !plan.endpoints.has(e.id)) continue;
        if (plan.pods !== undefined && !plan.pods.has(e.pod)) continue;
        byEndpoint.set(e.id, [...(byEndpoint.get(e.id) ?? []), ...views]);
      }
    }
    const api = this.api.get(key);
    if (api !== undefined) port.push(...api.bindings.map((b) => view(b, true, '')));
    return { port, byEndpoint };
  }

  /** Every toxic counter series, for /metrics. */
  counterEntries(): ToxicCounterEntry[] {
    const out: ToxicCounterEntry[] = [];
    for (const perPort of this.counters.values()) out.push(...perPort.values());
    return out;
  }

  /** Forgets the counters of Service ports that no longer exist (their series disappear, as the others'). */
  retainCounters(keys: ReadonlySet<string>): void {
    for (const key of this.counters.keys()) if (!keys.has(key)) this.counters.delete(key);
  }
}

function view(b: ToxicBinding, active: boolean, target: string): ToxicView {
  const { spec } = b;
  return { source: b.source, owner: b.owner, name: spec.name, type: spec.type, stream: spec.stream, toxicity: spec.toxicity, attributes: spec.attributes, active, target };
}
