/**
 * The registry of kinds svcproxy reads: for each apiVersion/kind, the field
 * table its objects are strictly checked against and the typed validator
 * that turns them into specs. A kind not listed here is not read: it is
 * accepted without a look (ConfigMap, Secret, RBAC, CRDs…) and counted.
 *
 * Adding a kind of svcproxy's own API group (`svcproxy.dev/v1alpha1`, for
 * objects a cluster never sees, such as a fault or a workload mapping):
 *
 *   1. describe its fields as a FieldTypes table. It may name Kubernetes
 *      types, which `withKubernetesTypes` adds:
 *        const FAULT_TYPES = withKubernetesTypes({
 *          Fault: { apiVersion: 'string', kind: 'string', metadata: 'V1ObjectMeta', spec: 'FaultSpec' },
 *          FaultSpec: { target: 'FaultTarget', toxics: '[]Toxic' },
 *          …
 *        });
 *   2. add an entry to KINDS below:
 *        { apiVersion: 'svcproxy.dev/v1alpha1', kind: 'Fault', rootType: 'Fault', types: FAULT_TYPES,
 *          add: (raw, source, sink, out) => push(out.faults, validateFault(raw, source, sink)) }
 *      and a list for it in SnapshotBuilder / ConfigSnapshot.
 *
 * The kind then gets what every read kind gets: unknown fields refused with
 * a suggestion, values of the wrong type refused, lowercase or misspelt
 * `kind:` named, duplicates (same namespace/name) refused.
 */
import { validateEndpointSlice, validateEndpoints } from './endpoints.js';
import { FAULT_API_VERSION, validateFault } from './fault.js';
import type { IssueSink, JsonRecord } from './fields.js';
import { K8S_TYPES } from './k8s-fields.generated.js';
import { validatePod } from './pod.js';
import type { FieldTypes } from './schema.js';
import { validateService } from './service.js';
import type {
  EndpointSliceSpec,
  EndpointsSpec,
  FaultSpec,
  ObjectSource,
  PodSpec,
  ServiceSpec,
  WorkloadBindingSpec,
  WorkloadKind,
  WorkloadSpec,
} from './types.js';
import { validateWorkload } from './workload.js';
import { validateWorkloadBinding, WORKLOAD_BINDING_TYPES } from './workload-binding.js';

/** The lists one validation run fills, one per kind read. */
export interface SnapshotBuilder {
  readonly services: ServiceSpec[];
  readonly endpoints: EndpointsSpec[];
  readonly endpointSlices: EndpointSliceSpec[];
  readonly pods: PodSpec[];
  readonly workloads: WorkloadSpec[];
  readonly bindings: WorkloadBindingSpec[];
  readonly faults: FaultSpec[];
}

export interface KindDefinition {
  /** `v1`, `apps/v1`, `svcproxy.dev/v1alpha1`… */
  readonly apiVersion: string;
  /** CamelCase, as the API spells it: `Service`. */
  readonly kind: string;
  /** The object type of `types` an object of this kind is checked as. */
  readonly rootType: string;
  /** Every object type the check may reach from `rootType`. */
  readonly types: FieldTypes;
  /** Typed validation: adds the object to `out`, or reports why not in `sink`. */
  readonly add: (raw: JsonRecord, source: ObjectSource, sink: IssueSink, out: SnapshotBuilder) => void;
}

/** An own kind's table plus the Kubernetes types it refers to (V1ObjectMeta, V1LabelSelector…). */
export function withKubernetesTypes(own: FieldTypes): FieldTypes {
  return { ...K8S_TYPES, ...own };
}

function push<T>(list: T[], item: T | undefined): void {
  if (item !== undefined) list.push(item);
}

function workload(kind: WorkloadKind): KindDefinition {
  return {
    apiVersion: kind === 'ReplicationController' ? 'v1' : 'apps/v1',
    kind,
    rootType: `V1${kind}`,
    types: K8S_TYPES,
    add: (raw, source, sink, out) => push(out.workloads, validateWorkload(kind, raw, source, sink)),
  };
}

export const KINDS: readonly KindDefinition[] = [
  {
    apiVersion: 'v1',
    kind: 'Service',
    rootType: 'V1Service',
    types: K8S_TYPES,
    add: (raw, source, sink, out) => push(out.services, validateService(raw, source, sink)),
  },
  {
    apiVersion: 'v1',
    kind: 'Endpoints',
    rootType: 'V1Endpoints',
    types: K8S_TYPES,
    add: (raw, source, sink, out) => push(out.endpoints, validateEndpoints(raw, source, sink)),
  },
  {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    rootType: 'V1EndpointSlice',
    types: K8S_TYPES,
    add: (raw, source, sink, out) => push(out.endpointSlices, validateEndpointSlice(raw, source, sink)),
  },
  {
    apiVersion: 'v1',
    kind: 'Pod',
    rootType: 'V1Pod',
    types: K8S_TYPES,
    add: (raw, source, sink, out) => push(out.pods, validatePod(raw, source, sink)),
  },
  workload('Deployment'),
  workload('ReplicaSet'),
  workload('StatefulSet'),
  workload('DaemonSet'),
  workload('ReplicationController'),
  {
    apiVersion: FAULT_API_VERSION,
    kind: 'Fault',
    rootType: 'Fault',
    // The table holds the envelope and metadata; validateFault checks spec's fields itself (a toxic's attributes depend on its type).
    types: withKubernetesTypes({ Fault: { apiVersion: 'string', kind: 'string', metadata: 'V1ObjectMeta', spec: 'any' } }),
    add: (raw, source, sink, out) => push(out.faults, validateFault(raw, source, sink)),
  },
  {
    apiVersion: FAULT_API_VERSION,
    kind: 'WorkloadBinding',
    rootType: 'WorkloadBinding',
    types: withKubernetesTypes(WORKLOAD_BINDING_TYPES),
    add: (raw, source, sink, out) => push(out.bindings, validateWorkloadBinding(raw, source, sink)),
  },
];

/** The group of an apiVersion: '' for the core group (`v1`). */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}

/**
 * Groups whose kinds are known: Kubernetes' own (the core group, the
 * unqualified ones such as `apps`, `batch`, `extensions`, and `*.k8s.io`)
 * and svcproxy's. A kind svcproxy reads, written with another version of
 * one of these groups, is a mistake (`extensions/v1beta1` Deployment,
 * `svcproxy.dev/v1` Fault); under any other group it is a CRD that happens
 * to share the name (Knative's `serving.knative.dev/v1` Service) and is not
 * read.
 */
export function isKnownGroup(group: string): boolean {
  return group === '' || !group.includes('.') || group.endsWith('.k8s.io') || group === apiGroup(FAULT_API_VERSION);
}
