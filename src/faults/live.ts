/**
 * The live-connection registry of the toxiproxy API: while the API is on,
 * every open connection of a proxy is here (one small entry each, from the
 * moment its pump attaches until it ends), so that an API toxic added to the
 * proxy reaches it, appended to its chain (toxiproxy's ToxicLink.AddToxic).
 */
import type { Random } from './random.js';
import type { ConnectionToxic, LiveChain, LiveHandle } from './types.js';

/** Proxy key -> its open connections. */
export class LiveRegistry {
  private readonly byKey = new Map<string, Set<LiveConnection>>();

  /** Connections registered now, all proxies together. */
  get size(): number {
    let n = 0;
    for (const set of this.byKey.values()) n += set.size;
    return n;
  }

  /** The open connections of proxy `key` (a copy: appending may end one). */
  of(key: string): LiveConnection[] {
    return [...(this.byKey.get(key) ?? [])];
  }

  register(conn: LiveConnection): void {
    let set = this.byKey.get(conn.key);
    if (set === undefined) {
      set = new Set();
      this.byKey.set(conn.key, set);
    }
    set.add(conn);
  }

  unregister(conn: LiveConnection): void {
    const set = this.byKey.get(conn.key);
    if (set === undefined || !set.delete(conn)) return;
    if (set.size === 0) this.byKey.delete(conn.key);
  }
}

/**
 * A connection open while the toxiproxy API is on. Its pump attaches its
 * chain when it starts and leaves when the connection has ended; only
 * attached connections are in the registry.
 */
export class LiveConnection implements LiveHandle {
  private chain: LiveChain | undefined;

  constructor(
    private readonly registry: LiveRegistry,
    /** The proxy (Service port or ad-hoc forward) it belongs to. */
    readonly key: string,
    /** The seed of its API draws and random choices. */
    readonly base: number,
    /** Its API toxicity draws: admission's first, then one per toxic added or updated while it is open. */
    readonly draws: Random,
  ) {}

  attach(chain: LiveChain): void {
    this.chain = chain;
    this.registry.register(this);
  }

  leave(): void {
    this.chain = undefined;
    this.registry.unregister(this);
  }

  /** From the table: an API toxic added to this connection's proxy. */
  append(toxic: ConnectionToxic): void {
    this.chain?.append(toxic);
  }
}
