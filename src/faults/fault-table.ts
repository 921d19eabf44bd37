/**
 * The toxics in force, and the one object the rest of svcproxy holds of the
 * fault room: the declared Faults of the config being served (schedule.ts)
 * and the toxics added through the toxiproxy-compatible API (api-toxics.ts),
 * kept apart (the API's `/reset` clears only its own), with the registry of
 * live connections (live.ts), the counters (counters.ts) and the admin
 * views (views.ts).
 *
 * At admission, a Service port asks which toxics a new connection gets
 * (`forConnection`); the answer for a port with no fault is `undefined`
 * after one map lookup, so connections without toxics keep the plain (or
 * native) pump and pay nothing per chunk.
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
 * live connections that met it through the stages their pumps registered.
 */
import { ApiToxics } from './api-toxics.js';
import type { ToxicBinding } from './binding.js';
import { ChainToxic } from './chain.js';
import { ToxicCounterSet } from './counters.js';
import type { FaultPlan } from './fault-plan.js';
import { LiveConnection, LiveRegistry } from './live.js';
import { mixSeed, Random } from './random.js';
import { DeclaredFaults, type DeclaredFault } from './schedule.js';
import type { ToxicSpec } from './toxics.js';
import type { ConnectionFaults, ConnectionTarget, ConnectionToxic, Down, ToxicCounterEntry, ToxicView } from './types.js';
import { portToxicViews } from './views.js';

// The room's contract, for those who hold a FaultTable (proxy/, admin/, toxiproxy/, the instance).
export type { ConnectionFaults, ConnectionTarget, ConnectionToxic, LiveToxic, ToxicCounterEntry, ToxicView } from './types.js';

/** An API proxy turned off (`enabled: false`): new connections to it are reset. */
export const DOWN: Down = 'down';

function randomSeed(): number {
  return Math.floor(Math.random() * 4294967296);
}

export class FaultTable {
  private readonly declared = new DeclaredFaults();
  private readonly api = new ApiToxics();
  private readonly counters = new ToxicCounterSet();
  private readonly live = new LiveRegistry();
  /** True once the toxiproxy API exists: every connection then registers (see LiveConnection). */
  private apiEnabled = false;
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
    return this.live.size;
  }

  /**
   * Installs the declared faults of a new snapshot. A fault whose revision
   * is unchanged keeps its schedule and connection count; a removed or
   * changed one is retired (its live connections are released).
   */
  setDeclared(plans: readonly FaultPlan[], now: number): void {
    this.declared.set(plans, now);
    this.onChange();
  }

  /** The next time (ms) a declared fault starts or ends, or undefined when none will. */
  nextScheduleChange(now: number): number | undefined {
    return this.declared.nextChange(now);
  }

  /** Retires faults whose `for` ran out (releasing their connections); true when anything changed. */
  expire(now: number): boolean {
    return this.declared.expire(now);
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
    const declared = this.declared.forPort(key);
    const hasApi = this.api.has(key);
    if (declared === undefined && !hasApi && !this.apiEnabled) return undefined;
    if (this.api.isDown(key)) return DOWN;
    const out: ConnectionToxic[] = [];
    for (const f of declared ?? []) if (f.isActive(now) && f.reaches(target)) this.drawDeclared(key, f, out);
    // API toxics only ever exist with the API on; a table with none and no API is the declared case.
    if (!this.apiEnabled && !hasApi) return out.length === 0 ? undefined : { toxics: out, live: undefined };
    const base = this.seeds();
    const live = new LiveConnection(this.live, key, base, new Random(base));
    // Every API toxic stands in the chain, a miss as a no-op, so that an update can draw again in place.
    for (const binding of this.api.bindings(key) ?? []) out.push(this.apiToxic(key, binding, live));
    return { toxics: out, live };
  }

  /**
   * One declared fault's draws for one connection. toxiproxy: rand.Float32() < toxicity. A declared
   * toxic that misses is left out: its Fault never changes on an open connection.
   */
  private drawDeclared(key: string, f: DeclaredFault, out: ConnectionToxic[]): void {
    const { plan } = f;
    const base = plan.seed === undefined ? randomSeed() : mixSeed(plan.seed, plan.id, f.connections);
    f.connections++;
    const rng = new Random(base);
    for (const binding of f.bindings) if (rng.next() < binding.spec.toxicity) out.push(this.connectionToxic(key, binding, base, true, undefined));
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
    const counters = this.counters.of(key, binding);
    if (active) counters.applications++;
    return new ChainToxic(binding, counters, mixSeed(base, binding.spec.name), active, draws);
  }

  // --- the toxiproxy-compatible API's toxics, per proxy (a Service port key or an ad-hoc forward) ---

  /** The API toxics of a proxy: upstream chain first, then downstream, as toxiproxy lists them. */
  apiToxics(key: string): ToxicSpec[] {
    return this.api.list(key);
  }

  /**
   * Adds an API toxic; false when the proxy already has one by that name.
   * It reaches the proxy's open connections too: appended at the end of each
   * one's chain for its direction (toxiproxy's ToxicLink.AddToxic), after a
   * toxicity draw from that connection's generator.
   */
  addApiToxic(key: string, owner: string, spec: ToxicSpec): boolean {
    const binding = this.api.add(key, owner, spec);
    if (binding === undefined) return false;
    for (const conn of this.live.of(key)) conn.append(this.apiToxic(key, binding, conn));
    this.onChange();
    return true;
  }

  /**
   * Updates an API toxic in place: new connections get the new spec, and
   * open connections take its attributes at once and draw its toxicity again
   * (toxiproxy restarts the toxic's stub on every link, which draws anew).
   */
  updateApiToxic(key: string, spec: ToxicSpec): boolean {
    return this.changed(this.api.update(key, spec));
  }

  /** Removes an API toxic and releases the live connections that met it; false when there is none. */
  removeApiToxic(key: string, name: string): boolean {
    return this.changed(this.api.remove(key, name));
  }

  /** Turns an API proxy off (new connections reset) or on again. */
  setDown(key: string, down: boolean): void {
    this.api.setDown(key, down);
    this.onChange();
  }

  isDown(key: string): boolean {
    return this.api.isDown(key);
  }

  /** Forgets a proxy's API toxics (the proxy was deleted). */
  dropApiProxy(key: string): void {
    this.changed(this.api.drop(key));
  }

  /** toxiproxy's POST /reset: every API toxic removed, every proxy enabled; declared faults untouched. */
  resetApi(): void {
    this.api.reset();
    this.onChange();
  }

  private changed(yes: boolean): boolean {
    if (yes) this.onChange();
    return yes;
  }

  // --- views for the admin surface ---

  /**
   * The toxics of Service port `key`: those that affect every connection of
   * the port, and those aimed at particular endpoints (by endpoint id).
   */
  views(key: string, endpoints: readonly ConnectionTarget[], now: number): { port: ToxicView[]; byEndpoint: Map<string, ToxicView[]> } {
    return portToxicViews(this.declared.forPort(key) ?? [], this.api.bindings(key) ?? [], endpoints, now);
  }

  /** Every toxic counter series, for /metrics. */
  counterEntries(): ToxicCounterEntry[] {
    return this.counters.entries();
  }

  /** Forgets the counters of Service ports that no longer exist (their series disappear, as the others'). */
  retainCounters(keys: ReadonlySet<string>): void {
    this.counters.retain(keys);
  }
}
