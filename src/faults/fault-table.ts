/**
 * The toxics in force: the declared Faults of the config being served and
 * the toxics added through the toxiproxy-compatible API, kept apart (the
 * API's `/reset` clears only its own). At admission, a Service port asks
 * which toxics a new connection gets (`forConnection`); the answer for a
 * port with no fault is `undefined` after one map lookup, so connections
 * without toxics keep the plain pump and pay nothing per chunk.
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

/** A stage of a live connection that can give up its toxic (flushing what it holds, in order). */
export interface LiveToxic {
  release(): void;
}

/** One toxic of one source; retired when removed, which releases every live connection that met it. */
export class ToxicBinding {
  readonly live = new Set<LiveToxic>();
  retired = false;

  constructor(
    readonly source: ToxicSource,
    /** The Fault's `namespace/name`, or the API proxy's name. */
    readonly owner: string,
    readonly spec: ToxicSpec,
  ) {}

  retire(): void {
    if (this.retired) return;
    this.retired = true;
    const live = [...this.live];
    this.live.clear();
    for (const l of live) l.release();
  }
}

/** What the toxic pump needs for one toxic of one connection. */
export interface ConnectionToxic {
  readonly spec: ToxicSpec;
  readonly counters: ToxicCounters;
  /** Seed of this connection's random choices for this toxic (jitter, slicer sizes). */
  readonly seed: number;
  readonly binding: ToxicBinding;
}

/** An API proxy turned off (`enabled: false`): new connections to it are reset. */
export const DOWN = 'down';

/** What a new connection gets: toxics in chain order, DOWN, or undefined for none (the fast path). */
export type ConnectionFaults = readonly ConnectionToxic[] | typeof DOWN | undefined;

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
  /** Called after every change of the toxics in force (for the admin feed). */
  onChange: () => void = () => undefined;

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
   * makes the same choices run after run.
   */
  forConnection(key: string, target: ConnectionTarget, now: number): ConnectionFaults {
    const declared = this.byPort.get(key);
    const api = this.api.get(key);
    if (declared === undefined && api === undefined) return undefined;
    if (api?.down === true) return DOWN;
    const out: ConnectionToxic[] = [];
    for (const f of declared ?? []) {
      if (!isActive(f, now)) continue;
      const { plan } = f;
      if (plan.endpoints !== undefined && !plan.endpoints.has(target.id)) continue;
      if (plan.pods !== undefined && !plan.pods.has(target.pod)) continue;
      const base = plan.seed === undefined ? randomSeed() : mixSeed(plan.seed, plan.id, f.connections);
      f.connections++;
      this.draw(key, new Random(base), base, f.bindings, out);
    }
    if (api !== undefined) {
      const base = randomSeed();
      this.draw(key, new Random(base), base, api.bindings, out);
    }
    return out.length === 0 ? undefined : out;
  }

  private draw(key: string, rng: Random, base: number, bindings: readonly ToxicBinding[], out: ConnectionToxic[]): void {
    for (const binding of bindings) {
      const { spec } = binding;
      // toxiproxy: rand.Float32() < toxicity; a connection that misses gets a no-op.
      if (!(rng.next() < spec.toxicity)) continue;
      const counters = this.countersOf(key, binding);
      counters.applications++;
      out.push({ spec, counters, seed: mixSeed(base, spec.name), binding });
    }
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

  /** Adds an API toxic; false when the proxy already has one by that name. */
  addApiToxic(key: string, owner: string, spec: ToxicSpec): boolean {
    const entry = this.apiEntry(key);
    if (entry.bindings.some((b) => b.spec.name === spec.name)) return false;
    entry.bindings.push(new ToxicBinding('api', owner, spec));
    this.onChange();
    return true;
  }

  /** Replaces an API toxic's spec for new connections (connections that met the old one keep it). */
  updateApiToxic(key: string, spec: ToxicSpec): boolean {
    const bindings = this.api.get(key)?.bindings;
    const i = bindings?.findIndex((b) => b.spec.name === spec.name) ?? -1;
    const old = bindings?.[i];
    if (bindings === undefined || old === undefined) return false;
    bindings[i] = new ToxicBinding('api', old.owner, spec);
    // The old binding stays alive for the connections that met it: it is not retired.
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
