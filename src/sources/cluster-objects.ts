/**
 * A cluster's API objects -> the typed specs a file gives (config/types.ts).
 * Pure: the cluster source (cluster-source.ts) hands in what its reflectors
 * hold and gets one SourceObjects back.
 *
 * - Services and EndpointSlices go through the same typed validators as a
 *   manifest (config/service.ts, config/endpoints.ts), but not through the
 *   strict field check: an API server's objects carry status, managedFields,
 *   uid and fields of newer versions, none of which is the user's mistake.
 * - An object that fails validation is refused alone, with a warning naming
 *   its kind, namespace and name; it never makes the snapshot an issue, so
 *   one bad object cannot stop the rest of a cluster from being served.
 * - A cluster Service keeps no selector: its endpoints are its EndpointSlices
 *   (label kubernetes.io/service-name), read as for a selector-less Service
 *   of a file (state/endpoints.ts: aggregated, de-duplicated, kube-proxy's
 *   conditions). Cluster Pods are never probed from here, nor emitted.
 * - The cluster's own addresses (clusterIP, clusterIPs, externalIPs, the
 *   load balancer's status) name nothing on this machine: they are dropped,
 *   and each Service gets an address of --service-cidr as a file's would.
 *   `clusterIP: None` (headless) is kept.
 */
import { validateEndpointSlice, SERVICE_NAME_LABEL } from '../config/endpoints.js';
import { IssueSink, isRecord, type JsonRecord } from '../config/fields.js';
import { validateService } from '../config/service.js';
import type { ConfigNote, ConfigSnapshot, EndpointSliceSpec, ObjectSource, ServiceSpec } from '../config/types.js';
import type { SourceObjects } from './source.js';

/** Where the objects of a cluster are said to come from: `cluster:<context>`. */
export function clusterOrigin(context: string): string {
  return `cluster:${context}`;
}

/** The raw objects of one read of a cluster, as its reflectors hold them. */
export interface ClusterObjectsInput {
  /** `cluster:<context>`: the `file` of every object's ObjectSource. */
  readonly origin: string;
  readonly services: Iterable<unknown>;
  readonly endpointSlices: Iterable<unknown>;
}

function metaOf(raw: unknown): { namespace: string; name: string } {
  const meta = isRecord(raw) && isRecord(raw['metadata']) ? raw['metadata'] : {};
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  return { namespace: text(meta['namespace']) || 'default', name: text(meta['name']) || '<unnamed>' };
}

/** A Service as an API server sends it, with what names the cluster's own network left out. */
function localService(raw: JsonRecord): JsonRecord {
  const spec = isRecord(raw['spec']) ? raw['spec'] : {};
  const headless = spec['clusterIP'] === 'None' || (Array.isArray(spec['clusterIPs']) && spec['clusterIPs'][0] === 'None');
  const { clusterIP: _ip, clusterIPs: _ips, externalIPs: _external, loadBalancerIP: _lb, ...rest } = spec;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: raw['metadata'],
    spec: { ...rest, ...(headless ? { clusterIP: 'None' } : {}) },
  };
}

function refused(notes: ConfigNote[], kind: string, raw: unknown, origin: string, sink: IssueSink): void {
  const { namespace, name } = metaOf(raw);
  const object = `${kind} ${namespace}/${name}`;
  const first = sink.issues[0];
  const why = first === undefined ? 'not an object' : first.path === '' ? first.message : `${first.path}: ${first.message}`;
  const more = sink.issues.length > 1 ? ` (and ${sink.issues.length - 1} more)` : '';
  notes.push({ level: 'warn', where: origin, object, msg: `${object} from the cluster is refused and not served: ${why}${more}` });
}

function convertService(raw: unknown, source: ObjectSource, notes: ConfigNote[]): ServiceSpec | undefined {
  const sink = new IssueSink(source, '');
  const spec = isRecord(raw) ? validateService(localService(raw), source, sink) : undefined;
  if (spec === undefined || sink.count > 0) {
    if (sink.count === 0) sink.add('', 'must be an object');
    refused(notes, 'Service', raw, source.file, sink);
    return undefined;
  }
  // No selector: the cluster's EndpointSlices are the endpoints, never Pods probed here.
  return { ...spec, selector: undefined };
}

/** `namespace/name` of the Pod an endpoint's targetRef names (kind Pod, its namespace defaulting to the slice's); undefined otherwise. */
function targetPod(endpoint: unknown, namespace: string): string | undefined {
  const ref = isRecord(endpoint) ? endpoint['targetRef'] : undefined;
  if (!isRecord(ref) || ref['kind'] !== 'Pod' || typeof ref['name'] !== 'string' || ref['name'] === '') return undefined;
  const ns = typeof ref['namespace'] === 'string' && ref['namespace'] !== '' ? ref['namespace'] : namespace;
  return `${ns}/${ref['name']}`;
}

function convertSlice(raw: unknown, source: ObjectSource, notes: ConfigNote[]): EndpointSliceSpec | undefined {
  const sink = new IssueSink(source, '');
  const spec = isRecord(raw) ? validateEndpointSlice({ ...raw, apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' }, source, sink) : undefined;
  if (spec === undefined || sink.count > 0 || !isRecord(raw)) {
    if (sink.count === 0) sink.add('', 'must be an object');
    refused(notes, 'EndpointSlice', raw, source.file, sink);
    return undefined;
  }
  // The validated endpoints are the raw ones in order (a slice with a bad endpoint is refused whole).
  const rawEndpoints = Array.isArray(raw['endpoints']) ? raw['endpoints'] : [];
  if (rawEndpoints.length !== spec.endpoints.length) return spec;
  const endpoints = spec.endpoints.map((e, i) => {
    const pod = targetPod(rawEndpoints[i], spec.namespace);
    return pod === undefined ? e : { ...e, targetPod: pod };
  });
  return { ...spec, endpoints };
}

const byKey = <T extends { namespace: string; name: string }>(a: T, b: T): number => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`);

/**
 * One SourceObjects from a cluster's Services and EndpointSlices: never an
 * issue, a warning note per refused object. Slices that belong to no
 * followed Service are kept (harmless: nothing reads them) so that a local
 * selector-less Service of the same name can still be backed by them.
 */
export function clusterObjects(input: ClusterObjectsInput): SourceObjects {
  const notes: ConfigNote[] = [];
  const source: ObjectSource = { file: input.origin, doc: 0 };
  const services: ServiceSpec[] = [];
  for (const raw of input.services) {
    const spec = convertService(raw, source, notes);
    if (spec !== undefined) services.push(spec);
  }
  const endpointSlices: EndpointSliceSpec[] = [];
  for (const raw of input.endpointSlices) {
    // A slice without the label is managed by someone else for no Service: not ours to read.
    const labels = isRecord(raw) && isRecord(raw['metadata']) && isRecord(raw['metadata']['labels']) ? raw['metadata']['labels'] : {};
    if (typeof labels[SERVICE_NAME_LABEL] !== 'string') continue;
    const spec = convertSlice(raw, source, notes);
    if (spec !== undefined) endpointSlices.push(spec);
  }
  const snapshot: ConfigSnapshot = {
    services: services.sort(byKey),
    endpoints: [],
    endpointSlices: endpointSlices.sort(byKey),
    pods: [],
    workloads: [],
    bindings: [],
    faults: [],
  };
  return { snapshot, issues: [], notes, ignored: {} };
}
