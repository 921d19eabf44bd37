/**
 * `kind: Pod` (v1): local development's stand-in for a process. svcproxy
 * reads what the EndpointSlice controller and the kubelet's prober need:
 * labels, container ports, readiness probes, the Pod's address and whether
 * it is terminating.
 */
import {
  dns1123LabelError,
  dns1123SubdomainError,
  ipFamily,
  isPortNumber,
  isRecord,
  optionalList,
  optionalRecord,
  optionalString,
  portNameError,
  protocolField,
  type IssueSink,
  type JsonRecord,
} from './fields.js';
import { readMetadata } from './metadata.js';
import type { ContainerPortSpec, ObjectSource, PodSpec, ProbePort, ProbeSpec } from './types.js';

/** Where a Pod without status.podIP can be reached (an IP or a host name). */
const ADDRESS_ANNOTATION = 'svcproxy.dev/address';
const DEFAULT_POD_ADDRESS = '127.0.0.1';

/** Kubernetes' probe defaults (v1.Probe). */
const PROBE_DEFAULTS = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
} as const;

export function validatePod(raw: JsonRecord, source: ObjectSource, sink: IssueSink): PodSpec | undefined {
  const meta = readMetadata(raw, 'Pod', sink);
  const before = sink.count;
  const spec = optionalRecord(raw, 'spec', 'spec', sink);
  const template = readPodSpec(spec, 'spec', sink);
  const status = optionalRecord(raw, 'status', 'status', sink);
  const address = podAddress(status, meta.annotations[ADDRESS_ANNOTATION], sink);
  const phase = status === undefined ? undefined : optionalString(status, 'phase', 'status.phase', sink);
  if (sink.count > before) return undefined;
  return {
    kind: 'Pod',
    namespace: meta.namespace,
    name: meta.name,
    source,
    labels: meta.labels,
    address,
    terminating: meta.deletionTimestamp !== undefined,
    finished: phase === 'Succeeded' || phase === 'Failed',
    hostname: template.hostname,
    subdomain: template.subdomain,
    ports: template.ports,
    probes: template.probes,
    owner: undefined,
    gracePeriodSeconds: template.gracePeriodSeconds,
    implicitProbe: false,
  };
}

/** What svcproxy reads of a PodSpec: the same for a Pod and for a workload's Pod template. */
export interface PodSpecFields {
  readonly hostname: string;
  readonly subdomain: string;
  readonly ports: readonly ContainerPortSpec[];
  readonly probes: readonly ProbeSpec[];
  /** `terminationGracePeriodSeconds`, default 30. */
  readonly gracePeriodSeconds: number;
}

/** Kubernetes' default `terminationGracePeriodSeconds`. */
const DEFAULT_GRACE_SECONDS = 30;

/**
 * Reads a PodSpec found at `base` (`spec` in a Pod, `spec.template.spec` in
 * a workload), reporting every problem with its full path.
 */
export function readPodSpec(spec: JsonRecord | undefined, base: string, sink: IssueSink): PodSpecFields {
  const containers = spec === undefined ? [] : optionalList(spec, 'containers', `${base}.containers`, sink);
  if (containers.length === 0) sink.required(`${base}.containers`);
  const ports: ContainerPortSpec[] = [];
  const probes: ProbeSpec[] = [];
  const names = new Set<string>();
  containers.forEach((item, i) => {
    const path = `${base}.containers[${i}]`;
    if (!isRecord(item)) {
      sink.invalid(path, item, 'must be a mapping');
      return;
    }
    const name = optionalString(item, 'name', `${path}.name`, sink) ?? '';
    if (name === '') sink.required(`${path}.name`);
    else if (names.has(name)) sink.duplicate(`${path}.name`, name);
    else {
      const err = dns1123LabelError(name);
      if (err !== '') sink.invalid(`${path}.name`, name, err);
    }
    names.add(name);
    const own = readContainerPorts(item, path, name, sink);
    ports.push(...own);
    const probe = readProbe(item, `${path}.readinessProbe`, name, own, sink);
    if (probe !== undefined) probes.push(probe);
  });
  return {
    hostname: spec === undefined ? '' : dnsLabelField(spec, 'hostname', base, sink),
    subdomain: spec === undefined ? '' : dnsLabelField(spec, 'subdomain', base, sink),
    ports,
    probes,
    gracePeriodSeconds: spec === undefined ? DEFAULT_GRACE_SECONDS : gracePeriod(spec, base, sink),
  };
}

/** `terminationGracePeriodSeconds`: a whole number of seconds, 0 or more (ValidatePodSpec). */
function gracePeriod(spec: JsonRecord, base: string, sink: IssueSink): number {
  const value = spec['terminationGracePeriodSeconds'];
  if (value === undefined || value === null) return DEFAULT_GRACE_SECONDS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    sink.invalid(`${base}.terminationGracePeriodSeconds`, value, 'must be greater than or equal to 0');
    return DEFAULT_GRACE_SECONDS;
  }
  return value;
}

/** `hostname` / `subdomain`: a DNS-1123 label when set (ValidatePodSpec). */
function dnsLabelField(spec: JsonRecord, key: string, base: string, sink: IssueSink): string {
  const value = optionalString(spec, key, `${base}.${key}`, sink) ?? '';
  if (value === '') return '';
  const err = dns1123LabelError(value);
  if (err !== '') sink.invalid(`${base}.${key}`, value, err);
  return value;
}

function readContainerPorts(container: JsonRecord, path: string, containerName: string, sink: IssueSink): ContainerPortSpec[] {
  const out: ContainerPortSpec[] = [];
  const names = new Set<string>();
  optionalList(container, 'ports', `${path}.ports`, sink).forEach((item, j) => {
    const portPath = `${path}.ports[${j}]`;
    if (!isRecord(item)) {
      sink.invalid(portPath, item, 'must be a mapping');
      return;
    }
    const name = optionalString(item, 'name', `${portPath}.name`, sink) ?? '';
    if (name !== '') {
      const err = portNameError(name);
      if (err !== '') sink.invalid(`${portPath}.name`, name, err);
      if (names.has(name)) sink.duplicate(`${portPath}.name`, name);
      names.add(name);
    }
    const port = item['containerPort'];
    if (port === undefined || port === null) sink.required(`${portPath}.containerPort`);
    else if (!isPortNumber(port)) sink.invalid(`${portPath}.containerPort`, port, 'must be between 1 and 65535, inclusive');
    const protocol = protocolField(item, `${portPath}.protocol`, sink);
    if (isPortNumber(port)) out.push({ container: containerName, name, port, protocol, servedPort: port });
  });
  return out;
}

const HANDLERS = ['tcpSocket', 'httpGet', 'exec', 'grpc'] as const;

function readProbe(container: JsonRecord, path: string, containerName: string, ports: readonly ContainerPortSpec[], sink: IssueSink): ProbeSpec | undefined {
  const probe = optionalRecord(container, 'readinessProbe', path, sink);
  if (probe === undefined) return undefined;
  const handlers = HANDLERS.filter((h) => probe[h] !== undefined && probe[h] !== null);
  if (handlers.length === 0) {
    sink.required(path, 'must specify a handler type');
    return undefined;
  }
  if (handlers.length > 1) {
    sink.forbidden(`${path}.${handlers[1] ?? ''}`, 'may not specify more than 1 handler type');
    return undefined;
  }
  const c: ProbeContext = { path, containerName, ports, sink, timing: readTiming(probe, path, sink) };
  const handler = handlers[0];
  if (handler === 'exec') return execProbe(probe, c);
  if (handler === 'grpc') return grpcProbe(probe, c);
  return socketProbe(probe, handler ?? 'tcpSocket', c);
}

/** What every handler's reader needs: where the probe is, its container and ports, and its timing (already read). */
interface ProbeContext {
  readonly path: string;
  readonly containerName: string;
  readonly ports: readonly ContainerPortSpec[];
  readonly sink: IssueSink;
  readonly timing: ReturnType<typeof readTiming>;
}

function execProbe(probe: JsonRecord, { path, containerName, ports, sink, timing }: ProbeContext): ProbeSpec {
  const action = optionalRecord(probe, 'exec', `${path}.exec`, sink) ?? {};
  const command = optionalList(action, 'command', `${path}.exec.command`, sink).filter((c): c is string => typeof c === 'string');
  const first = ports.find((p) => p.protocol === 'TCP');
  return { container: containerName, kind: 'exec', command, fallbackPort: first === undefined ? undefined : { port: first.port, name: first.name }, ...timing };
}

function grpcProbe(probe: JsonRecord, { path, containerName, sink, timing }: ProbeContext): ProbeSpec | undefined {
  const action = optionalRecord(probe, 'grpc', `${path}.grpc`, sink) ?? {};
  const port = action['port'];
  if (port === undefined || port === null) {
    sink.required(`${path}.grpc.port`);
    return undefined;
  }
  if (!isPortNumber(port)) {
    sink.invalid(`${path}.grpc.port`, port, 'must be between 1 and 65535, inclusive');
    return undefined;
  }
  const service = optionalString(action, 'service', `${path}.grpc.service`, sink) ?? '';
  return { container: containerName, kind: 'grpc', port, service, ...timing };
}

/** tcpSocket and httpGet: a port (a number or a container port's name) and a host; httpGet also a scheme, a path and headers. */
function socketProbe(probe: JsonRecord, handler: 'tcpSocket' | 'httpGet', { path, containerName, ports, sink, timing }: ProbeContext): ProbeSpec | undefined {
  const action = optionalRecord(probe, handler, `${path}.${handler}`, sink) ?? {};
  const port = readProbePort(action, `${path}.${handler}.port`, ports, sink);
  const host = optionalString(action, 'host', `${path}.${handler}.host`, sink) ?? '';
  if (port === undefined) return undefined;
  if (handler === 'tcpSocket') return { container: containerName, kind: 'tcpSocket', port, host, ...timing };
  const scheme = action['scheme'] ?? 'HTTP';
  if (scheme !== 'HTTP' && scheme !== 'HTTPS') sink.unsupported(`${path}.httpGet.scheme`, scheme, ['HTTP', 'HTTPS']);
  let rawPath = optionalString(action, 'path', `${path}.httpGet.path`, sink) ?? '/';
  if (!rawPath.startsWith('/')) rawPath = `/${rawPath}`;
  const headers = httpHeaders(action, `${path}.httpGet.httpHeaders`, sink);
  return { container: containerName, kind: 'httpGet', port, host, path: rawPath, scheme: scheme === 'HTTPS' ? 'HTTPS' : 'HTTP', headers, ...timing };
}

function httpHeaders(action: JsonRecord, path: string, sink: IssueSink): Array<{ name: string; value: string }> {
  const headers: Array<{ name: string; value: string }> = [];
  optionalList(action, 'httpHeaders', path, sink).forEach((h, k) => {
    const name = isRecord(h) ? h['name'] : undefined;
    const value = isRecord(h) ? h['value'] : undefined;
    if (typeof name !== 'string' || name === '' || typeof value !== 'string') {
      sink.invalid(`${path}[${k}]`, h, 'must have a name and a string value');
    } else headers.push({ name, value });
  });
  return headers;
}

/** A probe port: a number, or the name of a port of the same container (resolved here). */
function readProbePort(action: JsonRecord, path: string, ports: readonly ContainerPortSpec[], sink: IssueSink): ProbePort | undefined {
  const value = action['port'];
  if (value === undefined || value === null) {
    sink.required(path);
    return undefined;
  }
  if (typeof value === 'number') {
    if (isPortNumber(value)) return { port: value, name: '' };
    sink.invalid(path, value, 'must be between 1 and 65535, inclusive');
    return undefined;
  }
  if (typeof value !== 'string' || portNameError(value) !== '') {
    sink.invalid(path, value, typeof value === 'string' ? portNameError(value) : 'must be a port number or a port name');
    return undefined;
  }
  const named = ports.find((p) => p.name === value);
  if (named === undefined) {
    sink.add(path, `Not found: ${JSON.stringify(value)}: the container declares no port with this name`);
    return undefined;
  }
  return { port: named.port, name: value };
}

function readTiming(probe: JsonRecord, path: string, sink: IssueSink): Omit<ProbeSpec & { kind: 'tcpSocket' }, 'kind' | 'container' | 'port' | 'host'> {
  const read = (key: keyof typeof PROBE_DEFAULTS, min: number): number => {
    const value = probe[key];
    if (value === undefined || value === null) return PROBE_DEFAULTS[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      sink.invalid(`${path}.${key}`, value, min === 0 ? 'must be greater than or equal to 0' : `must be greater than or equal to ${min}`);
      return PROBE_DEFAULTS[key];
    }
    return value;
  };
  return {
    initialDelaySeconds: read('initialDelaySeconds', 0),
    periodSeconds: read('periodSeconds', 1),
    timeoutSeconds: read('timeoutSeconds', 1),
    successThreshold: read('successThreshold', 1),
    failureThreshold: read('failureThreshold', 1),
  };
}

/** status.podIP (or podIPs[0]), else the svcproxy.dev/address annotation, else 127.0.0.1. */
function podAddress(status: JsonRecord | undefined, annotation: string | undefined, sink: IssueSink): string {
  const podIP = status === undefined ? undefined : optionalString(status, 'podIP', 'status.podIP', sink);
  const podIPs = status === undefined ? [] : optionalList(status, 'podIPs', 'status.podIPs', sink);
  const ips: string[] = [];
  podIPs.forEach((entry, i) => {
    const ip = isRecord(entry) ? entry['ip'] : undefined;
    if (typeof ip !== 'string' || ipFamily(ip) === 0) sink.invalid(`status.podIPs[${i}].ip`, ip, 'must be a valid IP address');
    else ips.push(ip);
  });
  if (podIP !== undefined && podIP !== '') {
    if (ipFamily(podIP) === 0) sink.invalid('status.podIP', podIP, 'must be a valid IP address');
    if (ips.length > 0 && ips[0] !== podIP) sink.invalid('status.podIPs[0].ip', ips[0], 'must be the same as status.podIP');
    return podIP;
  }
  if (ips[0] !== undefined) return ips[0];
  if (annotation !== undefined && annotation !== '') {
    if (ipFamily(annotation) === 0 && dns1123SubdomainError(annotation) !== '') {
      sink.invalid(`metadata.annotations[${ADDRESS_ANNOTATION}]`, annotation, 'must be an IP address or a DNS host name');
    }
    return annotation;
  }
  return DEFAULT_POD_ADDRESS;
}
