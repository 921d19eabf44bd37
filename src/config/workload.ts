/**
 * apps/v1 Deployment, ReplicaSet, StatefulSet and DaemonSet. Their fields are
 * checked strictly against the OpenAPI table (kinds.ts); here only what
 * identifies the object is read, and the object is kept as written for the
 * workloads room, which turns each replica into a Pod.
 */
import type { IssueSink, JsonRecord } from './fields.js';
import { readMetadata } from './metadata.js';
import type { ObjectSource, WorkloadDocument, WorkloadKind } from './types.js';

export function validateWorkload(kind: WorkloadKind, raw: JsonRecord, source: ObjectSource, sink: IssueSink): WorkloadDocument | undefined {
  const before = sink.count;
  const meta = readMetadata(raw, kind, sink);
  if (sink.count > before) return undefined;
  return { kind, namespace: meta.namespace, name: meta.name, source, raw };
}
