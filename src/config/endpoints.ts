/**
 * Hand-written backends: v1 `Endpoints` and discovery.k8s.io/v1 `EndpointSlice`,
 * validated as the API server validates them, except that loopback addresses
 * are accepted (a local deviation) and ports may be left out (svcproxy then
 * dials each Service port's targetPort).
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
  protocolField,
  specialIpError,
  type IssueSink,
  type JsonRecord,
} from './fields.js';
import { readMetadata } from './metadata.js';
import type { AddressType, EndpointPortSpec, EndpointSliceSpec, EndpointsSpec, EndpointsSubsetSpec, ObjectSource, SliceEndpointSpec } from './types.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const ADDRESS_TYPES: readonly AddressType[] = ['IPv4', 'IPv6', 'FQDN'];

export function validateEndpoints(raw: JsonRecord, source: ObjectSource, sink: IssueSink): EndpointsSpec | undefined {
  const meta = readMetadata(raw, 'Endpoints', sink);
  const before = sink.count;
  const subsets: EndpointsSubsetSpec[] = [];
  optionalList(raw, 'subsets', 'subsets', sink).forEach((item, i) => {
    const path = `subsets[${i}]`;
    if (!isRecord(item)) {
      sink.invalid(path, item, 'must be a mapping');
      return;
    }
    const hostnames: Record<string, string> = {};
    const addresses = readSubsetAddresses(item, 'addresses', path, sink, hostnames);
    const notReady = readSubsetAddresses(item, 'notReadyAddresses', path, sink, {});
    if (addresses.length === 0 && notReady.length === 0) {
      sink.required(path, 'must specify `addresses` or `notReadyAddresses`');
    }
    subsets.push({ addresses, hostnames, ports: readPorts(item, `${path}.ports`, sink) });
  });
  if (sink.count > before) return undefined;
  return { kind: 'Endpoints', namespace: meta.namespace, name: meta.name, source, subsets };
}

/** The IPs of `addresses` or `notReadyAddresses`; each `hostname` given goes into `hostnames` by IP. */
function readSubsetAddresses(subset: JsonRecord, key: string, path: string, sink: IssueSink, hostnames: Record<string, string>): string[] {
  const out: string[] = [];
  optionalList(subset, key, `${path}.${key}`, sink).forEach((item, j) => {
    const itemPath = `${path}.${key}[${j}]`;
    const ip = isRecord(item) ? item['ip'] : undefined;
    if (typeof ip !== 'string' || ip === '') {
      sink.required(`${itemPath}.ip`);
      return;
    }
    if (ipFamily(ip) === 0) {
      sink.invalid(`${itemPath}.ip`, ip, 'must be a valid IP address');
      return;
    }
    const special = specialIpError(ip);
    if (special !== '') sink.invalid(`${itemPath}.ip`, ip, special);
    else out.push(ip);
    const hostname = hostnameField(item, itemPath, sink);
    if (hostname !== '') hostnames[ip] = hostname;
  });
  return out;
}

/** Ports of a subset or slice: names unique, required when there is more than one; port 1-65535 or absent. */
function readPorts(raw: JsonRecord, path: string, sink: IssueSink): EndpointPortSpec[] {
  const list = optionalList(raw, 'ports', path, sink);
  const names = new Set<string>();
  const out: EndpointPortSpec[] = [];
  list.forEach((item, k) => {
    const itemPath = `${path}[${k}]`;
    if (!isRecord(item)) {
      sink.invalid(itemPath, item, 'must be a mapping');
      return;
    }
    const name = optionalString(item, 'name', `${itemPath}.name`, sink) ?? '';
    if (name === '' && list.length > 1) sink.required(`${itemPath}.name`, 'must be set when there is more than one port');
    if (name !== '') {
      const err = dns1123LabelError(name);
      if (err !== '') sink.invalid(`${itemPath}.name`, name, err);
      if (names.has(name)) sink.duplicate(`${itemPath}.name`, name);
      names.add(name);
    }
    const port = item['port'];
    if (port !== undefined && port !== null && !isPortNumber(port)) {
      sink.invalid(`${itemPath}.port`, port, 'must be between 1 and 65535, inclusive');
    }
    out.push({ name, port: isPortNumber(port) ? port : 0, protocol: protocolField(item, `${itemPath}.protocol`, sink) });
  });
  return out;
}

export function validateEndpointSlice(raw: JsonRecord, source: ObjectSource, sink: IssueSink): EndpointSliceSpec | undefined {
  const meta = readMetadata(raw, 'EndpointSlice', sink);
  const before = sink.count;
  const addressType = raw['addressType'];
  if (addressType === undefined || addressType === null || addressType === '') sink.required('addressType');
  else if (typeof addressType !== 'string' || !(ADDRESS_TYPES as readonly string[]).includes(addressType)) {
    sink.unsupported('addressType', addressType, ADDRESS_TYPES);
  }
  const type = (ADDRESS_TYPES as readonly unknown[]).includes(addressType) ? (addressType as AddressType) : 'IPv4';
  const endpoints: SliceEndpointSpec[] = [];
  optionalList(raw, 'endpoints', 'endpoints', sink).forEach((item, i) => {
    const endpoint = readSliceEndpoint(item, `endpoints[${i}]`, type, sink);
    if (endpoint !== undefined) endpoints.push(endpoint);
  });
  const ports = readPorts(raw, 'ports', sink);
  if (sink.count > before) return undefined;
  return {
    kind: 'EndpointSlice',
    namespace: meta.namespace,
    name: meta.name,
    source,
    serviceName: meta.labels[SERVICE_NAME_LABEL] ?? '',
    addressType: type,
    ports,
    endpoints,
  };
}

function readSliceEndpoint(raw: unknown, path: string, type: AddressType, sink: IssueSink): SliceEndpointSpec | undefined {
  if (!isRecord(raw)) {
    sink.invalid(path, raw, 'must be a mapping');
    return undefined;
  }
  const addresses = optionalList(raw, 'addresses', `${path}.addresses`, sink);
  if (addresses.length === 0) sink.required(`${path}.addresses`, 'must contain at least 1 address');
  if (addresses.length > 100) sink.invalid(`${path}.addresses`, addresses.length, 'must have at most 100 items');
  addresses.forEach((address, j) => checkSliceAddress(address, `${path}.addresses[${j}]`, type, sink));
  const conditions = optionalRecord(raw, 'conditions', `${path}.conditions`, sink) ?? {};
  const first = addresses[0];
  if (typeof first !== 'string') return undefined;
  return {
    address: first,
    ready: condition(conditions, 'ready', true, `${path}.conditions`, sink),
    serving: condition(conditions, 'serving', true, `${path}.conditions`, sink),
    terminating: condition(conditions, 'terminating', false, `${path}.conditions`, sink),
    hostname: hostnameField(raw, path, sink),
  };
}

/** An endpoint's optional `hostname`: a DNS-1123 label (ValidateEndpoints, validateEndpointSlice). */
function hostnameField(raw: unknown, path: string, sink: IssueSink): string {
  if (!isRecord(raw)) return '';
  const value = optionalString(raw, 'hostname', `${path}.hostname`, sink) ?? '';
  if (value === '') return '';
  const err = dns1123LabelError(value);
  if (err !== '') sink.invalid(`${path}.hostname`, value, err);
  return value;
}

function checkSliceAddress(address: unknown, path: string, type: AddressType, sink: IssueSink): void {
  if (typeof address !== 'string') {
    sink.invalid(path, address, 'must be a string');
    return;
  }
  if (type === 'FQDN') {
    const err = dns1123SubdomainError(address);
    if (err !== '') sink.invalid(path, address, err);
    return;
  }
  const want = type === 'IPv4' ? 4 : 6;
  if (ipFamily(address) !== want) {
    sink.invalid(path, address, `must be a valid ${type} address`);
    return;
  }
  const special = specialIpError(address);
  if (special !== '') sink.invalid(path, address, special);
}

/** A nil condition takes kube-proxy's default: ready and serving true, terminating false. */
function condition(conditions: JsonRecord, key: string, fallback: boolean, path: string, sink: IssueSink): boolean {
  const value = conditions[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') {
    sink.invalid(`${path}.${key}`, value, 'must be a boolean');
    return fallback;
  }
  return value;
}
