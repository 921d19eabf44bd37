/**
 * kube-proxy's round robin (pkg/proxy/userspace/roundrobin.go): one list
 * and one cursor per Service port. When the *set* of endpoints changes the
 * list is shuffled and the rotation restarts at its head; an update with the
 * same members in another order keeps the list and the cursor, so reloads
 * that do not touch endpoints do not disturb the rotation.
 */

/** Anything with a stable identity can be balanced; endpoints use `host:port`. */
export interface Balanced {
  readonly id: string;
}

/** Reorders a list in place; production shuffles, tests pass the identity. */
export type Shuffle = <T>(list: T[]) => T[];

/** Fisher-Yates with Math.random: spreads the first connections of several proxies, as kube-proxy's ShuffleStrings does. */
export const randomShuffle: Shuffle = <T>(list: T[]): T[] => {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const tmp = list[i] as T;
    list[i] = list[j] as T;
    list[j] = tmp;
  }
  return list;
};

export const noShuffle: Shuffle = <T>(list: T[]): T[] => list;

function sameSet(a: readonly Balanced[], b: readonly Balanced[]): boolean {
  if (a.length !== b.length) return false;
  const ids = new Set(a.map((x) => x.id));
  return b.every((x) => ids.has(x.id));
}

export class RoundRobin<T extends Balanced> {
  private list: T[] = [];
  private index = 0;

  constructor(private readonly shuffle: Shuffle = randomShuffle) {}

  /**
   * Installs a new endpoint list. Returns true when the set changed and the
   * rotation restarted. Entries with an unchanged id are replaced by the new
   * objects, so their attributes stay current.
   */
  update(items: readonly T[]): boolean {
    if (sameSet(this.list, items)) {
      const byId = new Map(items.map((x) => [x.id, x]));
      this.list = this.list.map((x) => byId.get(x.id) ?? x);
      return false;
    }
    this.list = this.shuffle([...items]);
    this.index = 0;
    return true;
  }

  /**
   * The next endpoint in turn, or undefined when there is none. With `skip`,
   * endpoints it rejects are passed over (the rotation moves past them); if
   * it rejects every one, the plain next one is returned anyway: trying a
   * suspect endpoint beats refusing the client (Envoy's panic mode).
   */
  next(skip?: (item: T) => boolean): T | undefined {
    const start = this.index;
    const first = this.list[start];
    if (first === undefined) return undefined;
    this.index = (start + 1) % this.list.length;
    if (skip === undefined || !skip(first)) return first;
    for (let tries = 1; tries < this.list.length; tries++) {
      const item = this.list[this.index] as T;
      this.index = (this.index + 1) % this.list.length;
      if (!skip(item)) return item;
    }
    this.index = (start + 1) % this.list.length; // all skipped: keep rotating as if none were
    return first;
  }

  get size(): number {
    return this.list.length;
  }

  /** The current rotation order, for the admin view. */
  items(): readonly T[] {
    return this.list;
  }
}
