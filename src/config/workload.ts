/**
 * apps/v1 Deployment, ReplicaSet, StatefulSet and DaemonSet, and v1
 * ReplicationController (a ReplicaSet whose selector is a plain map of
 * labels, defaulted to the template's labels when left out). Their fields
 * are checked strictly against the OpenAPI table (kinds.ts); here what the
 * API server checks on top (ValidateDeployment & co.) and what the workloads
 * room needs to make Pods: replicas, the selector (which must match the
 * template's labels), the template validated as a Pod (every problem
 * reported with the workload's path, `spec.template.spec.containers[0]…`),
 * and a hash of the template for the names and labels controllers derive
 * from it.
 */
import { fnv1a32 } from '../hash.js';
import { dns1035LabelError, isRecord, labelMap, optionalList, optionalRecord, optionalString, show, type IssueSink, type JsonRecord } from './fields.js';
import { readMetadata } from './metadata.js';
import { readPodSpec } from './pod.js';
import type { ConfigIssue, LabelSelectorSpec, ObjectSource, PodTemplate, WorkloadBindingSpec, WorkloadKind, WorkloadSpec } from './types.js';
import { formatSource } from './types.js';

/**
 * The most Pods svcproxy makes from workloads, all together. Each one gets an
 * address, a readiness probe loop and a line in every table; a typo such as
 * `replicas: 100000` must be an error, not 100,000 probes.
 */
export const MAX_WORKLOAD_PODS = 1000;

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
type Operator = (typeof OPERATORS)[number];

export function validateWorkload(kind: WorkloadKind, raw: JsonRecord, source: ObjectSource, sink: IssueSink): WorkloadSpec | undefined {
  const before = sink.count;
  const meta = readMetadata(raw, kind, sink);
  const spec = optionalRecord(raw, 'spec', 'spec', sink) ?? {};
  const replicas = kind === 'DaemonSet' ? 1 : readReplicas(spec, sink);
  const beforeSelector = sink.count;
  const templateRaw = optionalRecord(spec, 'template', 'spec.template', sink);
  const templateMeta = templateRaw === undefined ? undefined : optionalRecord(templateRaw, 'metadata', 'spec.template.metadata', sink);
  const labels = (templateMeta === undefined ? undefined : labelMap(templateMeta, 'labels', 'spec.template.metadata.labels', sink)) ?? {};
  const selector = kind === 'ReplicationController' ? readMapSelector(spec, templateRaw, labels, sink) : readSelector(spec, kind, sink);
  const selectorValid = sink.count === beforeSelector;
  const podSpec = templateRaw === undefined ? undefined : optionalRecord(templateRaw, 'spec', 'spec.template.spec', sink);
  const fields = readPodSpec(podSpec, 'spec.template.spec', sink);
  if (selector !== undefined && selectorValid && !selectorMatches(selector, labels)) {
    sink.invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`');
  }
  const serviceName = kind === 'StatefulSet' ? (optionalString(spec, 'serviceName', 'spec.serviceName', sink) ?? '') : '';
  if (serviceName !== '') {
    const err = dns1035LabelError(serviceName);
    if (err !== '') sink.invalid('spec.serviceName', serviceName, err);
  }
  const ordinalStart = kind === 'StatefulSet' ? readOrdinalStart(spec, sink) : 0;
  if (sink.count > before || selector === undefined) return undefined;
  const template: PodTemplate = { labels, ...fields };
  return {
    kind,
    namespace: meta.namespace,
    name: meta.name,
    source,
    replicas,
    selector,
    template,
    templateHash: fnv1a32(canonicalJson(templateRaw ?? {})),
    serviceName,
    ordinalStart,
  };
}

function readReplicas(spec: JsonRecord, sink: IssueSink): number {
  const value = spec['replicas'];
  if (value === undefined || value === null) return 1;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    sink.invalid('spec.replicas', value, 'must be an integer');
    return 0;
  }
  if (value < 0) {
    sink.invalid('spec.replicas', value, 'must be greater than or equal to 0');
    return 0;
  }
  if (value > MAX_WORKLOAD_PODS) {
    sink.invalid(
      'spec.replicas',
      value,
      `svcproxy makes at most ${MAX_WORKLOAD_PODS} Pods from workloads (each gets an address and a readiness probe); lower it, or bind the workload to processes already running with a WorkloadBinding`,
    );
    return 0;
  }
  return value;
}

function readOrdinalStart(spec: JsonRecord, sink: IssueSink): number {
  const ordinals = optionalRecord(spec, 'ordinals', 'spec.ordinals', sink);
  const value = ordinals?.['start'];
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    sink.invalid('spec.ordinals.start', value, 'must be greater than or equal to 0');
    return 0;
  }
  return value;
}

/** `spec.selector`: required and not empty for apps/v1 workloads (ValidateLabelSelector and the workload validators). */
function readSelector(spec: JsonRecord, kind: WorkloadKind, sink: IssueSink): LabelSelectorSpec | undefined {
  const raw = optionalRecord(spec, 'selector', 'spec.selector', sink);
  if (raw === undefined) {
    if (spec['selector'] === undefined || spec['selector'] === null) sink.required('spec.selector');
    return undefined;
  }
  const matchLabels = labelMap(raw, 'matchLabels', 'spec.selector.matchLabels', sink) ?? {};
  const matchExpressions: Array<LabelSelectorSpec['matchExpressions'][number]> = [];
  optionalList(raw, 'matchExpressions', 'spec.selector.matchExpressions', sink).forEach((item, i) => {
    const path = `spec.selector.matchExpressions[${i}]`;
    if (!isRecord(item)) {
      sink.invalid(path, item, 'must be a mapping');
      return;
    }
    const key = optionalString(item, 'key', `${path}.key`, sink) ?? '';
    if (key === '') sink.required(`${path}.key`);
    const operator = item['operator'];
    if (typeof operator !== 'string' || !(OPERATORS as readonly string[]).includes(operator)) {
      if (operator === undefined || operator === null) sink.required(`${path}.operator`);
      else sink.invalid(`${path}.operator`, operator, 'not a valid selector operator');
      return;
    }
    const values = optionalList(item, 'values', `${path}.values`, sink).filter((v): v is string => typeof v === 'string');
    const op = operator as Operator;
    if ((op === 'In' || op === 'NotIn') && values.length === 0) sink.required(`${path}.values`, "must be specified when `operator` is 'In' or 'NotIn'");
    if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0)
      sink.forbidden(`${path}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    matchExpressions.push({ key, operator: op, values });
  });
  if (Object.keys(matchLabels).length === 0 && matchExpressions.length === 0) {
    sink.invalid('spec.selector', raw, `empty selector is invalid for ${kind.toLowerCase()}`);
    return undefined;
  }
  return { matchLabels, matchExpressions };
}

/**
 * A ReplicationController's `spec.selector`: a plain map of labels. Left out
 * or empty, it is the template's labels (SetDefaults_ReplicationController);
 * then it must not be empty, and a template is required
 * (ValidateReplicationControllerSpec).
 */
function readMapSelector(
  spec: JsonRecord,
  template: JsonRecord | undefined,
  labels: Readonly<Record<string, string>>,
  sink: IssueSink,
): LabelSelectorSpec | undefined {
  if (template === undefined) {
    if (spec['template'] === undefined || spec['template'] === null) sink.required('spec.template');
    return undefined;
  }
  const given = labelMap(spec, 'selector', 'spec.selector', sink) ?? {};
  const matchLabels = Object.keys(given).length > 0 ? given : labels;
  if (Object.keys(matchLabels).length === 0) {
    sink.required('spec.selector', 'a ReplicationController selects its Pods by labels: give spec.selector or spec.template.metadata.labels');
    return undefined;
  }
  return { matchLabels, matchExpressions: [] };
}

/** True when `labels` satisfy every term of the selector. */
function selectorMatches(selector: LabelSelectorSpec, labels: Readonly<Record<string, string>>): boolean {
  if (!Object.entries(selector.matchLabels).every(([k, v]) => labels[k] === v)) return false;
  return selector.matchExpressions.every((e) => {
    const value = labels[e.key];
    switch (e.operator) {
      case 'In':
        return value !== undefined && e.values.includes(value);
      case 'NotIn':
        return value === undefined || !e.values.includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
    }
  });
}

/** JSON with every object's keys sorted: the same text for the same template, however its keys were ordered. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return show(value);
}

/**
 * The cap on Pods from workloads, over the whole config: a binding's
 * `addresses` replace its workload's replicas (a `dnsName` is counted when
 * it resolves, with a cap of its own). One issue, at the workload that
 * crosses the limit.
 */
export function podTotalIssues(workloads: readonly WorkloadSpec[], bindings: readonly WorkloadBindingSpec[]): ConfigIssue[] {
  let total = 0;
  for (const w of workloads) {
    const binding = bindings.find((b) => b.namespace === w.namespace && b.workload.kind === w.kind && b.workload.name === w.name);
    total += binding === undefined ? w.replicas : binding.addresses.length;
    if (total > MAX_WORKLOAD_PODS) {
      return [
        {
          where: formatSource(w.source),
          object: `${w.kind} ${w.namespace}/${w.name}`,
          path: w.kind === 'DaemonSet' ? '' : 'spec.replicas',
          message: `with this workload the config makes ${total} or more Pods from workloads; svcproxy makes at most ${MAX_WORKLOAD_PODS} (each gets an address and a readiness probe)`,
        },
      ];
    }
  }
  return [];
}
