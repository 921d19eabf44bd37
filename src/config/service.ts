/**
 * `kind: Service` (v1): validation and defaulting as the API server does it
 * (ValidateService, SetDefaults_Service), so a manifest that passes here is
 * one a cluster accepts, apart from the documented local deviations.
 */
import {
  dns1035LabelError,
  dns1123LabelError,
  dns1123SubdomainError,
  ipFamily,
  isPortNumber,
  isRecord,
  labelMap,
  optionalList,
  optionalRecord,
  optionalString,
  portNameError,
  protocolField,
  type IssueSink,
  type JsonRecord,
} from './fields.js';
import { readServiceOptions } from './annotations.js';
import { readMetadata } from './metadata.js';
import { readServiceNetwork } from './service-network.js';
import type { ObjectSource, ServicePortSpec, ServiceSpec, ServiceType, TargetPort } from './types.js';

const SERVICE_TYPES: readonly ServiceType[] = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;
/** v1.DefaultClientIPServiceAffinitySeconds: 3 hours. */
const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
/** v1.MaxClientIPServiceAffinitySeconds: 1 day. */
const MAX_AFFINITY_TIMEOUT_SECONDS = 86400;

export function validateService(raw: JsonRecord, source: ObjectSource, sink: IssueSink): ServiceSpec | undefined {
  const meta = readMetadata(raw, 'Service', sink, dns1035LabelError);
  const spec = raw['spec'];
  if (!isRecord(spec)) {
    sink.required('spec');
    return undefined;
  }
  const before = sink.count;
  const type = serviceType(spec, sink);
  const clusterIP = readClusterIP(spec, type, sink);
  const headless = clusterIP === 'None';
  const ports = readPorts(spec, type, headless, sink);
  const affinity = readAffinity(spec, sink);
  const selector = labelMap(spec, 'selector', 'spec.selector', sink);
  const externalName = readExternalName(spec, type, sink);
  const externalIPs = readExternalIPs(spec, sink);
  readTrafficPolicies(spec, type, externalIPs.length > 0, sink);
  const network = readServiceNetwork({ spec, raw, type, clusterIP, annotations: meta.annotations }, sink);
  const options = readServiceOptions(meta.annotations, sink);
  const publishNotReady = spec['publishNotReadyAddresses'];
  if (publishNotReady !== undefined && typeof publishNotReady !== 'boolean') {
    sink.invalid('spec.publishNotReadyAddresses', publishNotReady, 'must be a boolean');
  }
  if (sink.count > before) return undefined;
  return {
    kind: 'Service',
    namespace: meta.namespace,
    name: meta.name,
    source,
    type,
    clusterIP,
    // An empty selector means "no selector" for Services: endpoints are managed by hand.
    selector: selector !== undefined && Object.keys(selector).length > 0 ? selector : undefined,
    ports,
    sessionAffinity: affinity.type,
    affinityTimeoutSeconds: affinity.timeoutSeconds,
    externalIPs,
    publishNotReadyAddresses: publishNotReady === true,
    annotations: meta.annotations,
    families: network.families,
    secondaryClusterIP: network.secondaryClusterIP,
    loadBalancerIPs: network.loadBalancerIPs,
    sourceRanges: network.sourceRanges,
    options,
    externalName,
  };
}

function serviceType(spec: JsonRecord, sink: IssueSink): ServiceType {
  const value = spec['type'];
  if (value === undefined || value === null || value === '') return 'ClusterIP';
  if (typeof value === 'string' && (SERVICE_TYPES as readonly string[]).includes(value)) return value as ServiceType;
  sink.unsupported('spec.type', value, SERVICE_TYPES);
  return 'ClusterIP';
}

/** `clusterIP`, falling back to `clusterIPs[0]`; '' when unset. */
function readClusterIP(spec: JsonRecord, type: ServiceType, sink: IssueSink): string {
  const single = optionalString(spec, 'clusterIP', 'spec.clusterIP', sink) ?? '';
  const list = optionalList(spec, 'clusterIPs', 'spec.clusterIPs', sink);
  const first = list[0];
  if (list.length > 2) sink.invalid('spec.clusterIPs', list, 'may only hold up to 2 values');
  if (single !== '' && first !== undefined && first !== single) {
    sink.invalid('spec.clusterIPs[0]', first, 'must be empty or the same value as spec.clusterIP');
  }
  const clusterIP = single !== '' ? single : typeof first === 'string' ? first : '';
  if (type === 'ExternalName') {
    if (clusterIP !== '') sink.forbidden('spec.clusterIP', 'may not be set for ExternalName services');
    return '';
  }
  if (clusterIP === 'None') {
    if (type === 'NodePort' || type === 'LoadBalancer') {
      sink.invalid('spec.clusterIP', clusterIP, `may not be set to 'None' for ${type} services`);
    }
    return clusterIP;
  }
  if (clusterIP !== '' && ipFamily(clusterIP) === 0) {
    sink.invalid('spec.clusterIP', clusterIP, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)');
  }
  return clusterIP;
}

function readPorts(spec: JsonRecord, type: ServiceType, headless: boolean, sink: IssueSink): ServicePortSpec[] {
  const list = optionalList(spec, 'ports', 'spec.ports', sink);
  if (list.length === 0 && !headless && type !== 'ExternalName') sink.required('spec.ports');
  const requireName = list.length > 1;
  const ports: ServicePortSpec[] = [];
  const names = new Set<string>();
  const portKeys = new Set<string>();
  const nodePortKeys = new Set<string>();
  list.forEach((item, i) => {
    const port = readPort(item, `spec.ports[${i}]`, type, requireName, sink);
    if (port === undefined) return;
    const path = `spec.ports[${i}]`;
    if (port.name !== '') {
      if (names.has(port.name)) sink.duplicate(`${path}.name`, port.name);
      names.add(port.name);
    }
    const key = `${port.port}/${port.protocol}`;
    if (portKeys.has(key)) sink.duplicate(path, key, 'port and protocol must be unique within a Service');
    portKeys.add(key);
    if (port.nodePort !== 0) {
      const nodeKey = `${port.nodePort}/${port.protocol}`;
      if (nodePortKeys.has(nodeKey)) sink.duplicate(`${path}.nodePort`, port.nodePort);
      nodePortKeys.add(nodeKey);
    }
    ports.push(port);
  });
  return ports;
}

function readPort(raw: unknown, path: string, type: ServiceType, requireName: boolean, sink: IssueSink): ServicePortSpec | undefined {
  if (!isRecord(raw)) {
    sink.invalid(path, raw, 'must be a mapping');
    return undefined;
  }
  const before = sink.count;
  const name = optionalString(raw, 'name', `${path}.name`, sink) ?? '';
  if (name === '' && requireName) sink.required(`${path}.name`, 'must be set when a Service has more than one port');
  if (name !== '') {
    const err = dns1123LabelError(name);
    if (err !== '') sink.invalid(`${path}.name`, name, err);
  }
  const protocol = protocolField(raw, `${path}.protocol`, sink);
  const port = raw['port'];
  if (port === undefined || port === null) sink.required(`${path}.port`);
  else if (!isPortNumber(port)) sink.invalid(`${path}.port`, port, 'must be between 1 and 65535, inclusive');
  const targetPort = readTargetPort(raw['targetPort'], `${path}.targetPort`, isPortNumber(port) ? port : 0, sink);
  const nodePort = readNodePort(raw['nodePort'], `${path}.nodePort`, type, sink);
  if (sink.count > before || !isPortNumber(port) || targetPort === undefined) return undefined;
  return { name, protocol, port, targetPort, nodePort };
}

/** int -> that number; string -> a port name; 0 or "" or missing -> `port` (SetDefaults_Service). */
function readTargetPort(value: unknown, path: string, port: number, sink: IssueSink): TargetPort | undefined {
  if (value === undefined || value === null || value === 0 || value === '') return { kind: 'number', port };
  if (typeof value === 'number') {
    if (isPortNumber(value)) return { kind: 'number', port: value };
    sink.invalid(path, value, 'must be between 1 and 65535, inclusive');
    return undefined;
  }
  if (typeof value === 'string') {
    const err = portNameError(value);
    if (err === '') return { kind: 'name', name: value };
    sink.invalid(path, value, err);
    return undefined;
  }
  sink.invalid(path, value, 'must be a port number or a port name');
  return undefined;
}

function readNodePort(value: unknown, path: string, type: ServiceType, sink: IssueSink): number {
  if (value === undefined || value === null || value === 0) return 0;
  if (type !== 'NodePort' && type !== 'LoadBalancer') {
    sink.forbidden(path, `may not be used when \`type\` is '${type}'`);
    return 0;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < NODE_PORT_MIN || value > NODE_PORT_MAX) {
    sink.invalid(path, value, `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`);
    return 0;
  }
  return value;
}

function readAffinity(spec: JsonRecord, sink: IssueSink): { type: 'None' | 'ClientIP'; timeoutSeconds: number } {
  const value = spec['sessionAffinity'];
  const config = optionalRecord(spec, 'sessionAffinityConfig', 'spec.sessionAffinityConfig', sink);
  let type: 'None' | 'ClientIP' = 'None';
  if (value === 'ClientIP') type = 'ClientIP';
  else if (value !== undefined && value !== null && value !== '' && value !== 'None') {
    sink.unsupported('spec.sessionAffinity', value, ['ClientIP', 'None']);
  }
  if (type === 'None') {
    if (config !== undefined) {
      sink.invalid('spec.sessionAffinityConfig', config, 'must not be set when session affinity is None');
    }
    return { type, timeoutSeconds: DEFAULT_AFFINITY_TIMEOUT_SECONDS };
  }
  const clientIP = config === undefined ? undefined : optionalRecord(config, 'clientIP', 'spec.sessionAffinityConfig.clientIP', sink);
  const timeout = clientIP?.['timeoutSeconds'];
  if (timeout === undefined || timeout === null) return { type, timeoutSeconds: DEFAULT_AFFINITY_TIMEOUT_SECONDS };
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout <= 0 || timeout > MAX_AFFINITY_TIMEOUT_SECONDS) {
    sink.invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout, `must be greater than 0 and less than ${MAX_AFFINITY_TIMEOUT_SECONDS}`);
    return { type, timeoutSeconds: DEFAULT_AFFINITY_TIMEOUT_SECONDS };
  }
  return { type, timeoutSeconds: timeout };
}

/** The name without a trailing dot; '' for other types (the API server ignores it there). */
function readExternalName(spec: JsonRecord, type: ServiceType, sink: IssueSink): string {
  const name = optionalString(spec, 'externalName', 'spec.externalName', sink);
  if (type !== 'ExternalName') return '';
  if (name === undefined || name === '') {
    sink.required('spec.externalName');
    return '';
  }
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const err = dns1123SubdomainError(trimmed);
  if (err !== '') sink.invalid('spec.externalName', name, err);
  return trimmed;
}

/** Each entry a valid IP. Loopback is accepted here (a local deviation: the API server refuses it). */
function readExternalIPs(spec: JsonRecord, sink: IssueSink): string[] {
  const out: string[] = [];
  optionalList(spec, 'externalIPs', 'spec.externalIPs', sink).forEach((ip, i) => {
    if (typeof ip !== 'string' || ipFamily(ip) === 0) {
      sink.invalid(`spec.externalIPs[${i}]`, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)');
    } else out.push(ip);
  });
  return out;
}

function readTrafficPolicies(spec: JsonRecord, type: ServiceType, hasExternalIPs: boolean, sink: IssueSink): void {
  const policies = ['Cluster', 'Local'];
  const external = spec['externalTrafficPolicy'];
  if (external !== undefined && external !== null && external !== '') {
    const exposed = type === 'NodePort' || type === 'LoadBalancer' || hasExternalIPs;
    if (!exposed) {
      sink.invalid('spec.externalTrafficPolicy', external, 'may only be set for externally-accessible services');
    } else if (typeof external !== 'string' || !policies.includes(external)) {
      sink.unsupported('spec.externalTrafficPolicy', external, policies);
    }
  }
  const internal = spec['internalTrafficPolicy'];
  if (internal !== undefined && internal !== null && internal !== '') {
    if (typeof internal !== 'string' || !policies.includes(internal)) {
      sink.unsupported('spec.internalTrafficPolicy', internal, policies);
    }
  }
}
