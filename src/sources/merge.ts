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
 */
import { formatSource, type ConfigNote, type ConfigSnapshot, type ObjectSource } from '../config/types.js';
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

/** One snapshot from every source's objects, earlier sources first and winning on the same kind, namespace and name. */
export function mergeSources(parts: readonly SourceObjects[]): SourceObjects {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const notes: ConfigNote[] = parts.flatMap((p) => p.notes);
  const snapshots = parts.map((p) => p.snapshot);
  const snapshot: ConfigSnapshot = {
    services: mergeList(
      snapshots.map((s) => s.services),
      notes,
    ),
    endpoints: mergeList(
      snapshots.map((s) => s.endpoints),
      notes,
    ),
    endpointSlices: mergeList(
      snapshots.map((s) => s.endpointSlices),
      notes,
    ),
    pods: mergeList(
      snapshots.map((s) => s.pods),
      notes,
    ),
    workloads: mergeList(
      snapshots.map((s) => s.workloads),
      notes,
    ),
    bindings: mergeList(
      snapshots.map((s) => s.bindings),
      notes,
    ),
    faults: mergeList(
      snapshots.map((s) => s.faults),
      notes,
    ),
  };
  const ignored: Record<string, number> = {};
  for (const part of parts) for (const [key, n] of Object.entries(part.ignored)) ignored[key] = (ignored[key] ?? 0) + n;
  return { snapshot: parts.length === 0 ? EMPTY_SNAPSHOT : snapshot, issues: parts.flatMap((p) => p.issues), notes, ignored };
}
