/**
 * The toxics added through the toxiproxy-compatible API, per proxy (a
 * Service port key or an ad-hoc forward), kept apart from the declared
 * Faults: the API's `/reset` clears only these. Whether a change reaches the
 * open connections is the FaultTable's business (it holds the live registry).
 */
import { ToxicBinding } from './binding.js';
import type { ToxicSpec } from './toxics.js';

interface ApiProxyToxics {
  /** In the order added (toxiproxy lists upstream first; see list). */
  readonly bindings: ToxicBinding[];
  down: boolean;
}

export class ApiToxics {
  private readonly proxies = new Map<string, ApiProxyToxics>();

  /** The bindings of proxy `key` in the order added (its chain order), or undefined when it has none and is up. */
  bindings(key: string): readonly ToxicBinding[] | undefined {
    return this.proxies.get(key)?.bindings;
  }

  /** Whether proxy `key` has an entry at all (toxics, or turned off). */
  has(key: string): boolean {
    return this.proxies.has(key);
  }

  /** The specs of a proxy: upstream chain first, then downstream, as toxiproxy lists them. */
  list(key: string): ToxicSpec[] {
    const bindings = this.proxies.get(key)?.bindings ?? [];
    return [...bindings.filter((b) => b.spec.stream === 'upstream'), ...bindings.filter((b) => b.spec.stream === 'downstream')].map((b) => b.spec);
  }

  /** Adds a toxic at the end of the proxy's chain; undefined when it already has one by that name. */
  add(key: string, owner: string, spec: ToxicSpec): ToxicBinding | undefined {
    const entry = this.entry(key);
    if (entry.bindings.some((b) => b.spec.name === spec.name)) return undefined;
    const binding = new ToxicBinding('api', owner, spec);
    entry.bindings.push(binding);
    return binding;
  }

  /** Updates a toxic in place (its live stages take the new attributes); false when there is none. */
  update(key: string, spec: ToxicSpec): boolean {
    const binding = this.proxies.get(key)?.bindings.find((b) => b.spec.name === spec.name);
    if (binding === undefined) return false;
    binding.update(spec);
    return true;
  }

  /** Removes a toxic and releases the live connections that met it; false when there is none. */
  remove(key: string, name: string): boolean {
    const entry = this.proxies.get(key);
    const i = entry?.bindings.findIndex((b) => b.spec.name === name) ?? -1;
    const binding = entry?.bindings[i];
    if (entry === undefined || binding === undefined) return false;
    entry.bindings.splice(i, 1);
    binding.retire();
    this.dropIfEmpty(key, entry);
    return true;
  }

  /** Turns a proxy off (new connections reset) or on again. */
  setDown(key: string, down: boolean): void {
    const entry = this.entry(key);
    entry.down = down;
    this.dropIfEmpty(key, entry);
  }

  isDown(key: string): boolean {
    return this.proxies.get(key)?.down === true;
  }

  /** Forgets a proxy's toxics (the proxy was deleted); false when it had no entry. */
  drop(key: string): boolean {
    const entry = this.proxies.get(key);
    if (entry === undefined) return false;
    for (const b of entry.bindings) b.retire();
    this.proxies.delete(key);
    return true;
  }

  /** toxiproxy's POST /reset: every toxic removed, every proxy enabled. */
  reset(): void {
    for (const entry of this.proxies.values()) for (const b of entry.bindings) b.retire();
    this.proxies.clear();
  }

  private entry(key: string): ApiProxyToxics {
    let entry = this.proxies.get(key);
    if (entry === undefined) {
      entry = { bindings: [], down: false };
      this.proxies.set(key, entry);
    }
    return entry;
  }

  private dropIfEmpty(key: string, entry: ApiProxyToxics): void {
    if (entry.bindings.length === 0 && !entry.down) this.proxies.delete(key);
  }
}
