/**
 * The fake's etcd: every object of every kind, one resourceVersion counter for the whole store (as
 * etcd's revision), and the history of changes a watch replays from a resourceVersion. The history
 * starts at a compaction floor: a watch from below it is too old (410). The floor rises on
 * {@link Store.compact} and by itself when the history is longer than `maxHistory`, so memory stays bounded.
 */
import { randomUUID } from 'node:crypto';
import { StatusError, status } from './status.js';
import type { KubeObject, NewObject, WatchEvent } from './types.js';

/** One change with the object as it was, so a filtered watch can turn "no longer matches" into DELETED. */
export interface StoreEvent extends WatchEvent {
  readonly previous: KubeObject | undefined;
}

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789'; // apimachinery's generateName alphabet

function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)];
  return s;
}

const keyOf = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

/** Kinds whose metadata.generation the server maintains (EndpointSlices do; Services and 1.32 Pods do not). */
const GENERATION_KINDS = new Set(['EndpointSlice']);

function sameContent(a: KubeObject, b: KubeObject): boolean {
  const { metadata: _a, ...restA } = a;
  const { metadata: _b, ...restB } = b;
  return JSON.stringify(restA) === JSON.stringify(restB);
}

export class Store {
  private rv: number;
  private floorRv: number;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  /** Changes written by a listener (the controller) wait here, so every listener sees changes in order. */
  private readonly pending: StoreEvent[] = [];
  private dispatching = false;

  /** @param maxHistory changes kept for watch resumption; older ones are compacted away. */
  constructor(
    private readonly maxHistory = 5000,
    firstRv = 1000,
  ) {
    this.rv = firstRv;
    this.floorRv = firstRv;
  }

  /** The store's current resourceVersion (the wire form, a string). */
  get resourceVersion(): string {
    return String(this.rv);
  }

  /** The oldest resourceVersion a watch may resume from. */
  get floor(): number {
    return this.floorRv;
  }

  /** Moves the compaction floor to `rv` (default: now): watches resuming from before it get 410. */
  compact(rv = this.rv): void {
    this.floorRv = Math.max(this.floorRv, Math.min(rv, this.rv));
    while (this.history.length > 0 && (this.history[0]?.rv ?? Infinity) <= this.floorRv) this.history.shift();
  }

  get(kind: string, namespace: string, name: string): KubeObject | undefined {
    const found = this.objects.get(kind)?.get(keyOf(namespace, name));
    return found === undefined ? undefined : structuredClone(found);
  }

  /** Objects of `kind`, in one namespace or all, ordered by namespace then name (as etcd keys sort). */
  list(kind: string, namespace?: string): KubeObject[] {
    // '' and undefined: every object (a cluster-scoped kind has no namespace at all).
    const all = [...(this.objects.get(kind)?.values() ?? [])];
    return all
      .filter((o) => namespace === undefined || namespace === '' || o.metadata.namespace === namespace)
      .sort((a, b) => keyOf(a.metadata.namespace, a.metadata.name).localeCompare(keyOf(b.metadata.namespace, b.metadata.name)))
      .map((o) => structuredClone(o));
  }

  /** Creates an object; the server's fields (uid, resourceVersion, creationTimestamp, generation) are set here. */
  create(input: NewObject): KubeObject {
    const { generateName, name: given } = input.metadata;
    const name = given ?? (generateName === undefined ? undefined : `${generateName}${randomSuffix()}`);
    if (name === undefined) throw new StatusError(status(400, 'BadRequest', 'name or generateName is required'));
    const kind = input.kind;
    const byKey = this.objects.get(kind) ?? new Map<string, KubeObject>();
    this.objects.set(kind, byKey);
    if (byKey.has(keyOf(input.metadata.namespace, name))) throw new StatusError(status(409, 'AlreadyExists', `${kind} "${name}" already exists`));
    const rv = ++this.rv;
    const object: KubeObject = structuredClone({
      ...input,
      metadata: {
        ...input.metadata,
        name,
        uid: randomUUID(),
        resourceVersion: String(rv),
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        ...(GENERATION_KINDS.has(kind) ? { generation: 1 } : {}),
      },
    });
    byKey.set(keyOf(object.metadata.namespace, name), object);
    this.emit({ type: 'ADDED', object, previous: undefined, rv });
    return structuredClone(object);
  }

  /**
   * Changes an object in place through `mutate` (given a copy) and bumps its resourceVersion; a change
   * that leaves it as it was writes nothing (as the API server skips no-op updates).
   */
  update(kind: string, namespace: string, name: string, mutate: (object: KubeObject) => void): KubeObject {
    const byKey = this.objects.get(kind);
    const previous = byKey?.get(keyOf(namespace, name));
    if (byKey === undefined || previous === undefined) throw new StatusError(status(404, 'NotFound', `${kind} "${name}" not found`));
    const next = structuredClone(previous);
    mutate(next);
    next.metadata = {
      ...next.metadata,
      name,
      ...(namespace === '' ? {} : { namespace }),
      uid: previous.metadata.uid,
      creationTimestamp: previous.metadata.creationTimestamp,
    };
    if (JSON.stringify(next) === JSON.stringify(previous)) return structuredClone(previous);
    const rv = ++this.rv;
    next.metadata.resourceVersion = String(rv);
    if (previous.metadata.generation !== undefined && !sameContent(previous, next)) next.metadata.generation = previous.metadata.generation + 1;
    byKey.set(keyOf(namespace, name), next);
    this.emit({ type: 'MODIFIED', object: next, previous, rv });
    return structuredClone(next);
  }

  /** Removes an object; the DELETED event carries its last state at the deletion's resourceVersion. */
  delete(kind: string, namespace: string, name: string): KubeObject | undefined {
    const byKey = this.objects.get(kind);
    const previous = byKey?.get(keyOf(namespace, name));
    if (byKey === undefined || previous === undefined) return undefined;
    byKey.delete(keyOf(namespace, name));
    const rv = ++this.rv;
    const object = structuredClone({ ...previous, metadata: { ...previous.metadata, resourceVersion: String(rv) } });
    this.emit({ type: 'DELETED', object, previous, rv });
    return structuredClone(object);
  }

  /** Changes after `rv` (oldest first), or undefined when `rv` is below the floor (compacted). */
  since(rv: number): StoreEvent[] | undefined {
    if (rv < this.floorRv) return undefined;
    return this.history.filter((e) => e.rv > rv);
  }

  /** Calls `listener` synchronously on every change; returns the unsubscribe function. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > this.maxHistory) this.compact(this.history[this.history.length - this.maxHistory - 1]?.rv);
    this.pending.push(event);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.pending.shift(); next !== undefined; next = this.pending.shift()) {
        for (const listener of [...this.listeners]) listener(next);
      }
    } finally {
      this.dispatching = false;
    }
  }
}
