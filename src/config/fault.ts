/**
 * `kind: Fault` (`svcproxy.dev/v1alpha1`): svcproxy's own object, declared
 * in the config folder next to the manifests (a cluster never sees it; keep
 * it in a file of its own). It aims toxiproxy's toxics at a Service (or one
 * of its ports), at one Pod or endpoint, or at the Pods a label selector
 * matches, optionally from `after` for `for`, with a `seed` that makes its
 * random choices repeat run after run. docs/faults.md has the reference.
 *
 *   apiVersion: svcproxy.dev/v1alpha1
 *   kind: Fault
 *   metadata: {name: slow-reviews}
 *   spec:
 *     target: {service: reviews, port: 9080}
 *     after: 10s
 *     for: 30s
 *     seed: 42
 *     toxics:
 *       - {type: latency, attributes: {latency: 100, jitter: 10}}
 *
 * svcproxy's own kinds are strict: an unknown field is an error.
 */
import { parseDuration } from '../duration.js';
import { TOXIC_TYPES, validateToxic, type ToxicSpec } from '../faults/toxics.js';
import {
  dns1035LabelError,
  dns1123SubdomainError,
  isPortNumber,
  isRecord,
  labelMap,
  optionalList,
  optionalRecord,
  optionalString,
  portNameError,
  type IssueSink,
  type JsonRecord,
} from './fields.js';
import { readMetadata } from './metadata.js';
import type { FaultSpec, FaultTargetSpec, ObjectSource } from './types.js';

export const FAULT_API_VERSION = 'svcproxy.dev/v1alpha1';

const MAX_SCHEDULE_MS = 7 * 24 * 3_600_000;
const MAX_TOXICS = 32;

const TOP_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec'];
const SPEC_FIELDS = ['target', 'toxics', 'after', 'for', 'seed'];
const TARGET_FIELDS = ['service', 'port', 'pod', 'endpoint', 'podSelector'];
const SELECTOR_FIELDS = ['matchLabels'];
const TOXIC_FIELDS = ['name', 'type', 'stream', 'toxicity', 'attributes'];

/** kubectl's strict decoding words an unknown field as `unknown field "spec.x"`. */
function unknownFields(raw: JsonRecord, known: readonly string[], path: string, sink: IssueSink): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) sink.add(path === '' ? key : `${path}.${key}`, `unknown field "${path === '' ? key : `${path}.${key}`}"`);
  }
}

function duration(raw: JsonRecord, key: string, sink: IssueSink, allowZero: boolean): number {
  const value = raw[key];
  if (value === undefined || value === null) return 0;
  const ms = typeof value === 'string' ? parseDuration(value.trim()) : undefined;
  if (ms === undefined || ms > MAX_SCHEDULE_MS || (!allowZero && ms === 0)) {
    sink.invalid(`spec.${key}`, value, `must be a duration ${allowZero ? 'from 0' : 'greater than 0'} to 168h, such as 500ms, 30s or 5m`);
    return 0;
  }
  return ms;
}

function readSeed(raw: JsonRecord, sink: IssueSink): number | undefined {
  const value = raw['seed'];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    sink.invalid('spec.seed', value, 'must be a whole number from 0 to 4294967295');
    return undefined;
  }
  return value;
}

function readPort(target: JsonRecord, sink: IssueSink): string | number | undefined {
  const value = target['port'];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') {
    if (!isPortNumber(value)) sink.invalid('spec.target.port', value, 'must be between 1 and 65535, inclusive');
    return value;
  }
  if (typeof value === 'string') {
    const err = portNameError(value);
    if (err !== '') sink.invalid('spec.target.port', value, err);
    return value;
  }
  sink.invalid('spec.target.port', value, 'must be a port number or a port name');
  return undefined;
}

function readTarget(spec: JsonRecord, sink: IssueSink): FaultTargetSpec {
  const target = optionalRecord(spec, 'target', 'spec.target', sink);
  const none: FaultTargetSpec = { service: undefined, port: undefined, pod: undefined, endpoint: undefined, podSelector: undefined };
  if (target === undefined) {
    sink.required('spec.target', 'one of service, pod, endpoint or podSelector');
    return none;
  }
  unknownFields(target, TARGET_FIELDS, 'spec.target', sink);
  const service = optionalString(target, 'service', 'spec.target.service', sink);
  if (service !== undefined) {
    const err = dns1035LabelError(service);
    if (err !== '') sink.invalid('spec.target.service', service, err);
  }
  const port = readPort(target, sink);
  if (port !== undefined && service === undefined) sink.forbidden('spec.target.port', 'may only be set with spec.target.service');
  const pod = optionalString(target, 'pod', 'spec.target.pod', sink);
  if (pod !== undefined) {
    const err = dns1123SubdomainError(pod);
    if (err !== '') sink.invalid('spec.target.pod', pod, err);
  }
  const endpoint = optionalString(target, 'endpoint', 'spec.target.endpoint', sink);
  if (endpoint !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):\d{1,5}$/.test(endpoint)) {
    sink.invalid('spec.target.endpoint', endpoint, 'must be host:port as dialled, such as 127.0.0.1:8080 or [::1]:8080');
  }
  let podSelector: Record<string, string> | undefined;
  const selector = optionalRecord(target, 'podSelector', 'spec.target.podSelector', sink);
  if (selector !== undefined) {
    unknownFields(selector, SELECTOR_FIELDS, 'spec.target.podSelector', sink);
    podSelector = labelMap(selector, 'matchLabels', 'spec.target.podSelector.matchLabels', sink) ?? {};
    if (Object.keys(podSelector).length === 0) sink.required('spec.target.podSelector.matchLabels', 'at least one label');
  }
  const narrowing = [pod, endpoint, podSelector].filter((x) => x !== undefined).length;
  if (narrowing > 1) sink.forbidden('spec.target', 'at most one of pod, endpoint and podSelector may be set');
  if (narrowing === 0 && service === undefined) sink.required('spec.target', 'one of service, pod, endpoint or podSelector');
  return { service, port, pod, endpoint, podSelector };
}

function readToxics(spec: JsonRecord, sink: IssueSink): ToxicSpec[] {
  const list = optionalList(spec, 'toxics', 'spec.toxics', sink);
  if (list.length === 0 && (spec['toxics'] === undefined || spec['toxics'] === null || Array.isArray(spec['toxics'])))
    sink.required('spec.toxics', 'at least one toxic');
  if (list.length > MAX_TOXICS) sink.invalid('spec.toxics', `${list.length} toxics`, `must have at most ${MAX_TOXICS} items`);
  const out: ToxicSpec[] = [];
  const names = new Set<string>();
  list.slice(0, MAX_TOXICS).forEach((item, i) => {
    const path = `spec.toxics[${i}]`;
    if (isRecord(item)) unknownFields(item, TOXIC_FIELDS, path, sink);
    const result = validateToxic(item);
    if (!result.ok) {
      for (const p of result.problems) {
        const at = p.path === '' ? path : `${path}.${p.path}`;
        if (p.kind === 'required') sink.required(at, p.message);
        else if (p.path === 'type') sink.unsupported(at, p.value, TOXIC_TYPES);
        else if (p.path === 'stream') sink.unsupported(at, p.value, ['upstream', 'downstream']);
        else sink.invalid(at, p.value, p.message);
      }
      return;
    }
    if (names.has(result.toxic.name)) {
      sink.duplicate(`${path}.name`, result.toxic.name, 'toxic names must be unique within a Fault (the default is <type>_<stream>)');
      return;
    }
    names.add(result.toxic.name);
    out.push(result.toxic);
  });
  return out;
}

/** Validates one Fault; undefined (with issues in the sink) when anything is wrong. */
export function validateFault(raw: JsonRecord, source: ObjectSource, sink: IssueSink): FaultSpec | undefined {
  const meta = readMetadata(raw, 'Fault', sink);
  const before = sink.count;
  unknownFields(raw, TOP_FIELDS, '', sink);
  const spec = optionalRecord(raw, 'spec', 'spec', sink);
  if (spec === undefined) {
    sink.required('spec');
    return undefined;
  }
  unknownFields(spec, SPEC_FIELDS, 'spec', sink);
  const target = readTarget(spec, sink);
  const toxics = readToxics(spec, sink);
  const afterMs = duration(spec, 'after', sink, true);
  const forMs = duration(spec, 'for', sink, false);
  const seed = readSeed(spec, sink);
  if (sink.count > before) return undefined;
  return { kind: 'Fault', namespace: meta.namespace, name: meta.name, source, target, toxics, afterMs, forMs, seed };
}
