/**
 * Merges the objects of several sources into the one snapshot an instance
 * plans. Pure.
 *
 * Precedence: sources are ordered as given (for the CLI, the FileSource
 * first, then any other). Objects of different sources are concatenated in
 * that order; when two sources hold an object with the same kind, namespace
 * and name, the earlier source's object is kept and the later one is
 * dropped, with a warning note naming both. Within one source a duplicate is
 * that source's own problem (validation reports it as an issue), so the
 * rule only ever decides between sources. Issues and notes are kept from
 * every source; a single issue anywhere rejects the merged snapshot.
 *
 * A Service's endpoints go with it: when a later source's Service is dropped
 * for an earlier one's, that later source's EndpointSlices and Endpoints for
 * it are dropped too (a local Service with its own Pods replaces a cluster's
 * Service without the cluster's endpoints mixing in).
 */
import { formatSource, type ConfigNote, type ConfigSnapshot, type ObjectSource, type SourcePosition } from '../config/types.js';
import type { SourceObjects } from './source.js';

interface Named {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly source: ObjectSource;
}

const EMPTY_SNAPSHOT: ConfigSnapshot = { services: [], endpoints: [], endpointSlices: [], pods: [], workloads: [], bindings: [], faults: [] };

function mergeList<T extends Named>(lists: ReadonlyArray<readonly T[]>, notes: ConfigNote[]): T[] {
  const first = new Map<string, { readonly object: T; readonly index: number }>();
  const kept: T[] = [];
  lists.forEach((list, index) => {
    for (const object of list) {
      const key = `${object.kind} ${object.namespace}/${object.name}`;
      const earlier = first.get(key);
      // The same source twice is that source's own duplicate: validation already made it an issue.
      if (earlier !== undefined && earlier.index !== index) {
        notes.push({
          level: 'warn',
          where: formatSource(object.source),
          object: key,
          msg: `${key} is also defined at ${formatSource(earlier.object.source)}, by an earlier source; this one is ignored`,
        });
        continue;
      }
      if (earlier === undefined) first.set(key, { object, index });
      kept.push(object);
    }
  });
  return kept;
}

/** Each source's snapshot without the endpoints of its Services that an earlier source's Service of the same name replaces. */
function withoutShadowedEndpoints(snapshots: readonly ConfigSnapshot[]): ConfigSnapshot[] {
  const owners = new Set<string>();
  return snapshots.map((snapshot, index) => {
    const shadowed = new Set(snapshot.services.map((s) => `${s.namespace}/${s.name}`).filter((key) => owners.has(key)));
    for (const s of snapshot.services) owners.add(`${s.namespace}/${s.name}`);
    if (index === 0 || shadowed.size === 0) return snapshot;
    return {
      ...snapshot,
      endpointSlices: snapshot.endpointSlices.filter((e) => !shadowed.has(`${e.namespace}/${e.serviceName}`)),
      endpoints: snapshot.endpoints.filter((e) => !shadowed.has(`${e.namespace}/${e.name}`)),
    };
  });
}

/** One snapshot from every source's objects, earlier sources first and winning on the same kind, namespace and name. */
export function mergeSources(parts: readonly SourceObjects[]): SourceObjects {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const notes: ConfigNote[] = parts.flatMap((p) => p.notes);
  const snapshots = withoutShadowedEndpoints(parts.map((p) => p.snapshot));
  // Each kind merges the same way: its lists in source order, the earlier winning.
  const merged = <T extends Named>(pick: (s: ConfigSnapshot) => readonly T[]): T[] => mergeList(snapshots.map(pick), notes);
  const snapshot: ConfigSnapshot = {
    services: merged((s) => s.services),
    endpoints: merged((s) => s.endpoints),
    endpointSlices: merged((s) => s.endpointSlices),
    pods: merged((s) => s.pods),
    workloads: merged((s) => s.workloads),
    bindings: merged((s) => s.bindings),
    faults: merged((s) => s.faults),
  };
  const ignored: Record<string, number> = {};
  for (const part of parts) for (const [key, n] of Object.entries(part.ignored)) ignored[key] = (ignored[key] ?? 0) + n;
  const objectsAt: Record<string, SourcePosition> = {};
  for (const part of parts) Object.assign(objectsAt, part.objectsAt);
  return { snapshot: parts.length === 0 ? EMPTY_SNAPSHOT : snapshot, issues: parts.flatMap((p) => p.issues), notes, ignored, objectsAt };
}
