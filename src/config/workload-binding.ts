/**
 * `kind: WorkloadBinding` (`svcproxy.dev/v1alpha1`): svcproxy's own object
 * that places a workload's Pods on processes already running, instead of on
 * addresses of the pod range, without touching the cluster manifests. Keep
 * it in a file of its own in the config folder: a cluster never sees it.
 *
 *   apiVersion: svcproxy.dev/v1alpha1
 *   kind: WorkloadBinding
 *   metadata: {name: details-local}
 *   spec:
 *     workload: {kind: Deployment, name: details-v1}
 *     addresses: [127.0.0.1:3000, 127.0.0.1:3001]   # one Pod each
 *     # or: dnsName: details:9080                   # one Pod per address the name resolves to
 *     ports: {metrics: 9100}                         # container port (name or number) -> port there
 *
 * An address's port (`127.0.0.1:3000`, `details:9080`) stands for the
 * workload's first TCP container port; `ports` maps any container port, for
 * every Pod. Container ports left unmapped are served at their own number.
 */
import {
  dns1123SubdomainError,
  ipFamily,
  isPortNumber,
  optionalList,
  optionalRecord,
  optionalString,
  portNameError,
  type IssueSink,
  type JsonRecord,
} from './fields.js';
import { readMetadata } from './metadata.js';
import {
  formatSource,
  type BoundAddress,
  type ConfigIssue,
  type ConfigNote,
  type ObjectSource,
  type WorkloadBindingSpec,
  type WorkloadKind,
  type WorkloadSpec,
} from './types.js';
import { MAX_WORKLOAD_PODS } from './workload.js';

const WORKLOAD_KINDS: readonly WorkloadKind[] = ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'ReplicationController'];

/** The field table of the kind (kinds.ts adds the Kubernetes types it names). */
export const WORKLOAD_BINDING_TYPES = {
  WorkloadBinding: { apiVersion: 'string', kind: 'string', metadata: 'V1ObjectMeta', spec: 'WorkloadBindingSpec' },
  WorkloadBindingSpec: { workload: 'WorkloadReference', addresses: '[]string', dnsName: 'string', ports: '{}integer' },
  WorkloadReference: { kind: 'string', name: 'string' },
} as const;

/** `host`, `host:port` or `[ipv6]:port`: the parts, or why the text is none of these. */
export function splitHostPort(text: string): BoundAddress | string {
  let host = text;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed !== null) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
    if (ipFamily(host) !== 6) return 'brackets hold an IPv6 address, as in [::1]:3000';
  } else if ((text.match(/:/g) ?? []).length === 1) {
    const colon = text.indexOf(':');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  if (host === '') return 'must be HOST or HOST:PORT, such as 127.0.0.1:3000 or app:8080';
  if (ipFamily(host) === 0 && dns1123SubdomainError(host) !== '') return 'the host must be an IP address or a DNS name, such as 127.0.0.1 or app';
  if (portText === undefined) return { host, port: 0 };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!isPortNumber(port)) return 'the port must be a number from 1 to 65535';
  return { host, port };
}

export function validateWorkloadBinding(raw: JsonRecord, source: ObjectSource, sink: IssueSink): WorkloadBindingSpec | undefined {
  const before = sink.count;
  const meta = readMetadata(raw, 'WorkloadBinding', sink);
  const spec = optionalRecord(raw, 'spec', 'spec', sink);
  if (spec === undefined) {
    sink.required('spec');
    return undefined;
  }
  const workload = readWorkloadRef(spec, sink);
  const addresses = readAddresses(spec, sink);
  const dns = readDnsName(spec, sink);
  const given = (key: string): boolean => spec[key] !== undefined && spec[key] !== null && spec[key] !== '';
  if (!given('addresses') && !given('dnsName'))
    sink.required('spec.addresses', 'one of spec.addresses (one Pod each) or spec.dnsName (one Pod per address it resolves to)');
  if (addresses !== undefined && dns !== undefined) sink.forbidden('spec.dnsName', 'may not be given with spec.addresses; a binding places its Pods one way');
  const ports = readPorts(spec, sink);
  if (sink.count > before || workload === undefined) return undefined;
  return {
    kind: 'WorkloadBinding',
    namespace: meta.namespace,
    name: meta.name,
    source,
    workload,
    addresses: addresses ?? [],
    dnsName: dns?.host ?? '',
    dnsPort: dns?.port ?? 0,
    ports,
  };
}

function readWorkloadRef(spec: JsonRecord, sink: IssueSink): WorkloadBindingSpec['workload'] | undefined {
  const ref = optionalRecord(spec, 'workload', 'spec.workload', sink);
  if (ref === undefined) {
    sink.required('spec.workload', 'the workload (kind and name, in this namespace) whose Pods this binding places');
    return undefined;
  }
  const kind = optionalString(ref, 'kind', 'spec.workload.kind', sink) ?? '';
  const name = optionalString(ref, 'name', 'spec.workload.name', sink) ?? '';
  if (kind === '') sink.required('spec.workload.kind');
  else if (!(WORKLOAD_KINDS as readonly string[]).includes(kind)) sink.unsupported('spec.workload.kind', kind, WORKLOAD_KINDS);
  if (name === '') sink.required('spec.workload.name');
  else {
    const err = dns1123SubdomainError(name);
    if (err !== '') sink.invalid('spec.workload.name', name, err);
  }
  if (kind === '' || name === '' || !(WORKLOAD_KINDS as readonly string[]).includes(kind)) return undefined;
  return { kind: kind as WorkloadKind, name };
}

function readAddresses(spec: JsonRecord, sink: IssueSink): BoundAddress[] | undefined {
  if (spec['addresses'] === undefined || spec['addresses'] === null) return undefined;
  const list = optionalList(spec, 'addresses', 'spec.addresses', sink);
  if (list.length === 0) {
    sink.required('spec.addresses', 'at least one address (each is one Pod)');
    return [];
  }
  if (list.length > MAX_WORKLOAD_PODS) {
    sink.invalid('spec.addresses', `${list.length} addresses`, `at most ${MAX_WORKLOAD_PODS}`);
    return [];
  }
  const seen = new Set<string>();
  const out: BoundAddress[] = [];
  list.forEach((item, i) => {
    const path = `spec.addresses[${i}]`;
    if (typeof item !== 'string') {
      sink.invalid(path, item, 'must be a string such as 127.0.0.1:3000');
      return;
    }
    const parsed = splitHostPort(item.trim());
    if (typeof parsed === 'string') {
      sink.invalid(path, item, parsed);
      return;
    }
    const id = `${parsed.host}|${parsed.port}`;
    if (seen.has(id)) sink.duplicate(path, item, 'each address is one Pod');
    seen.add(id);
    out.push(parsed);
  });
  return out;
}

function readDnsName(spec: JsonRecord, sink: IssueSink): BoundAddress | undefined {
  const text = optionalString(spec, 'dnsName', 'spec.dnsName', sink);
  if (text === undefined || text === '') return undefined;
  const parsed = splitHostPort(text.trim());
  if (typeof parsed === 'string') {
    sink.invalid('spec.dnsName', text, parsed);
    return undefined;
  }
  if (ipFamily(parsed.host) !== 0) {
    sink.invalid('spec.dnsName', text, 'an IP address is not a name to resolve; list it in spec.addresses');
    return undefined;
  }
  return parsed;
}

function readPorts(spec: JsonRecord, sink: IssueSink): Record<string, number> {
  const map = optionalRecord(spec, 'ports', 'spec.ports', sink) ?? {};
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(map)) {
    const path = `spec.ports[${key}]`;
    const keyIsNumber = /^\d{1,5}$/.test(key);
    if (keyIsNumber ? !isPortNumber(Number(key)) : portNameError(key) !== '') {
      sink.invalid(path, key, 'must name a container port: its name, or its number from 1 to 65535');
      continue;
    }
    if (!isPortNumber(value)) {
      sink.invalid(path, value, 'must be a port number from 1 to 65535');
      continue;
    }
    out[key] = value;
  }
  return out;
}

/** The binding of a workload, if one names it. */
export function bindingOf(
  bindings: readonly WorkloadBindingSpec[],
  workload: Pick<WorkloadSpec, 'kind' | 'namespace' | 'name'>,
): WorkloadBindingSpec | undefined {
  return bindings.find((b) => b.namespace === workload.namespace && b.workload.kind === workload.kind && b.workload.name === workload.name);
}

/**
 * What holds across bindings and workloads: one binding per workload; a
 * mapped port the template declares; a port given with an address stands for
 * a TCP container port the template declares. A binding whose workload is
 * not in the config is a warning (it may be in the next edit).
 */
export function bindingChecks(workloads: readonly WorkloadSpec[], bindings: readonly WorkloadBindingSpec[]): { issues: ConfigIssue[]; notes: ConfigNote[] } {
  const issues: ConfigIssue[] = [];
  const notes: ConfigNote[] = [];
  const first = new Map<string, WorkloadBindingSpec>();
  for (const b of bindings) {
    const where = formatSource(b.source);
    const object = `WorkloadBinding ${b.namespace}/${b.name}`;
    const target = `${b.workload.kind} ${b.namespace}/${b.workload.name}`;
    const issue = (path: string, message: string): void => void issues.push({ where, object, path, message });
    const earlier = first.get(target);
    if (earlier !== undefined) {
      issue(
        'spec.workload',
        `Duplicate value: ${target} is already bound by WorkloadBinding ${earlier.namespace}/${earlier.name} at ${formatSource(earlier.source)}`,
      );
      continue;
    }
    first.set(target, b);
    const workload = workloads.find((w) => w.namespace === b.namespace && w.kind === b.workload.kind && w.name === b.workload.name);
    if (workload === undefined) {
      notes.push({ level: 'warn', where, object, msg: `binds ${target}, which the config does not declare; it places no Pod` });
      continue;
    }
    const ports = workload.template.ports;
    for (const key of Object.keys(b.ports)) {
      const found = /^\d+$/.test(key) ? ports.some((p) => p.port === Number(key)) : ports.some((p) => p.name === key);
      if (!found)
        issue(
          `spec.ports[${key}]`,
          `Not found: ${JSON.stringify(key)}: the Pod template of ${target} declares no container port ${/^\d+$/.test(key) ? 'with this number' : 'with this name'}`,
        );
    }
    const hasTcp = ports.some((p) => p.protocol === 'TCP');
    if (!hasTcp) {
      b.addresses.forEach((a, i) => {
        if (a.port !== 0)
          issue(
            `spec.addresses[${i}]`,
            `the port stands for the first TCP container port of ${target}, and its Pod template declares none; give the address without a port, or map ports in spec.ports`,
          );
      });
      if (b.dnsPort !== 0)
        issue(
          'spec.dnsName',
          `the port stands for the first TCP container port of ${target}, and its Pod template declares none; give the name without a port, or map ports in spec.ports`,
        );
    }
  }
  return { issues, notes };
}
