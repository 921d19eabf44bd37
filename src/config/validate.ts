/**
 * Parsed documents -> one validated ConfigSnapshot, or every issue found.
 * A snapshot with any issue is rejected whole: nothing from it is applied.
 */
import { validateEndpointSlice, validateEndpoints, SERVICE_NAME_LABEL } from './endpoints.js';
import { FAULT_API_VERSION, validateFault } from './fault.js';
import { IssueSink, isRecord, type JsonRecord } from './fields.js';
import type { ParsedDocument } from './parse.js';
import { validatePod } from './pod.js';
import { validateService } from './service.js';
import {
  formatSource,
  type ConfigIssue,
  type ConfigNote,
  type ConfigSnapshot,
  type FaultSpec,
  type EndpointSliceSpec,
  type EndpointsSpec,
  type ObjectSource,
  type PodSpec,
  type ServiceSpec,
} from './types.js';

export interface ValidationResult {
  readonly snapshot: ConfigSnapshot;
  readonly issues: readonly ConfigIssue[];
  readonly notes: readonly ConfigNote[];
}

interface KindRule {
  readonly apiVersion: string;
  readonly add: (raw: JsonRecord, source: ObjectSource, sink: IssueSink, out: Collected) => void;
}

interface Collected {
  services: ServiceSpec[];
  endpoints: EndpointsSpec[];
  endpointSlices: EndpointSliceSpec[];
  pods: PodSpec[];
  faults: FaultSpec[];
}

const KINDS: Readonly<Record<string, KindRule>> = {
  Service: {
    apiVersion: 'v1',
    add: (raw, source, sink, out) => push(out.services, validateService(raw, source, sink)),
  },
  Endpoints: {
    apiVersion: 'v1',
    add: (raw, source, sink, out) => push(out.endpoints, validateEndpoints(raw, source, sink)),
  },
  EndpointSlice: {
    apiVersion: 'discovery.k8s.io/v1',
    add: (raw, source, sink, out) => push(out.endpointSlices, validateEndpointSlice(raw, source, sink)),
  },
  Pod: {
    apiVersion: 'v1',
    add: (raw, source, sink, out) => push(out.pods, validatePod(raw, source, sink)),
  },
  Fault: {
    apiVersion: FAULT_API_VERSION,
    add: (raw, source, sink, out) => push(out.faults, validateFault(raw, source, sink)),
  },
};

function push<T>(list: T[], item: T | undefined): void {
  if (item !== undefined) list.push(item);
}

/** Validates every object of every document and the rules that span objects (duplicate names). */
export function validateDocuments(documents: readonly ParsedDocument[]): ValidationResult {
  const out: Collected = { services: [], endpoints: [], endpointSlices: [], pods: [], faults: [] };
  const issues: ConfigIssue[] = [];
  const notes: ConfigNote[] = [];
  for (const document of documents) {
    if (document.value === null || document.value === undefined) continue; // an empty document, e.g. a trailing `---`
    const source: ObjectSource = { file: document.file, doc: document.doc };
    const raw = document.value;
    if (isRecord(raw) && raw['kind'] === 'List' && Array.isArray(raw['items'])) {
      raw['items'].forEach((item: unknown, i) => validateObject(item, { ...source, item: i }, out, issues, notes));
    } else validateObject(raw, source, out, issues, notes);
  }
  issues.push(...duplicates(out.services), ...duplicates(out.endpoints), ...duplicates(out.endpointSlices), ...duplicates(out.pods), ...duplicates(out.faults));
  for (const slice of out.endpointSlices) {
    if (slice.serviceName === '') {
      notes.push({
        level: 'warn',
        msg: `EndpointSlice has no ${SERVICE_NAME_LABEL} label, so it belongs to no Service and is ignored (as kube-proxy does)`,
        where: formatSource(slice.source),
        object: `EndpointSlice ${slice.namespace}/${slice.name}`,
      });
    }
  }
  return { snapshot: out, issues, notes };
}

function validateObject(raw: unknown, source: ObjectSource, out: Collected, issues: ConfigIssue[], notes: ConfigNote[]): void {
  const sink = new IssueSink(source, '');
  if (!isRecord(raw)) {
    sink.add('', 'must be a Kubernetes object (a mapping with apiVersion and kind)');
    issues.push(...sink.issues);
    return;
  }
  const kind = raw['kind'];
  if (typeof kind !== 'string' || kind === '') {
    sink.required('kind');
    issues.push(...sink.issues);
    return;
  }
  const rule = KINDS[kind];
  if (rule === undefined) {
    const metaName = isRecord(raw['metadata']) ? raw['metadata']['name'] : undefined;
    const name = typeof metaName === 'string' ? metaName : '';
    notes.push({ level: 'debug', msg: `kind ${kind} is not used by svcproxy; skipped`, where: formatSource(source), object: `${kind} ${name}` });
    return;
  }
  if (raw['apiVersion'] !== rule.apiVersion) {
    sink.identify(kind);
    sink.unsupported('apiVersion', raw['apiVersion'], [rule.apiVersion]);
    issues.push(...sink.issues);
    return;
  }
  rule.add(raw, source, sink, out);
  issues.push(...sink.issues);
}

/** Two objects of one kind with the same namespace/name: the later one is an error naming the first. */
function duplicates(objects: readonly (ServiceSpec | EndpointsSpec | EndpointSliceSpec | PodSpec | FaultSpec)[]): ConfigIssue[] {
  const seen = new Map<string, ObjectSource>();
  const issues: ConfigIssue[] = [];
  for (const o of objects) {
    const key = `${o.namespace}/${o.name}`;
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, o.source);
      continue;
    }
    issues.push({
      where: formatSource(o.source),
      object: `${o.kind} ${key}`,
      path: 'metadata.name',
      message: `Duplicate value: "${o.name}": ${o.kind} ${key} is already defined at ${formatSource(first)}`,
    });
  }
  return issues;
}
