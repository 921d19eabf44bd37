/**
 * ServiceInfo: a Service as names see it (DNS, the hosts file, `svcproxy
 * env`, the admin API), built from its spec, its address and the listeners
 * desired.ts planned. Pure.
 *
 * Headless Services carry their endpoints, found the way the EndpointSlice
 * controller and CoreDNS find them: the Pods the selector picks (named by
 * `spec.hostname` when `spec.subdomain` is the Service), or the hand-written
 * Endpoints/EndpointSlices of a Service without a selector.
 */
import { ipFamily } from '../config/fields.js';
import { formatSource, type ConfigSnapshot, type ServiceSpec } from '../config/types.js';
import { matchPort, podConditions } from './endpoints.js';
import { findPort, isProbed, podHostname, selectedPods } from './pod-endpoints.js';
import type { ServiceAddress } from './service-addresses.js';
import type { EndpointName, ServiceInfo, ServicePortInfo } from './types.js';

type MutableEndpoint = { -readonly [K in keyof EndpointName]: EndpointName[K] } & { ports: Array<EndpointName['ports'][number]> };

/** Every IP endpoint of a headless Service, merged by address, with the named ports it serves. */
export function headlessEndpoints(snapshot: ConfigSnapshot, service: ServiceSpec): EndpointName[] {
  const byAddress = new Map<string, MutableEndpoint>();
  const named = service.ports.filter((p) => p.name !== '');
  const add = (e: Omit<EndpointName, 'ports'>, ports: EndpointName['ports']): void => {
    if (ipFamily(e.address) === 0) return;
    const was = byAddress.get(e.address);
    if (was === undefined) {
      byAddress.set(e.address, { ...e, ports: [...ports] });
      return;
    }
    // The same address listed twice (two slices, or Endpoints and a slice): ready if either says so.
    if (e.ready && !was.ready) Object.assign(was, { ready: true, serving: e.serving, terminating: e.terminating, probed: e.probed, pod: e.pod });
    if (was.hostname === '') was.hostname = e.hostname;
    for (const p of ports) if (!was.ports.some((q) => q.name === p.name && q.protocol === p.protocol)) was.ports.push(p);
  };
  if (service.selector !== undefined) {
    for (const pod of selectedPods(snapshot.pods, service)) {
      const probed = isProbed(pod);
      const conditions = podConditions(!probed, pod.terminating, service.publishNotReadyAddresses);
      const ports = named.flatMap((sp) => {
        const port = findPort(pod, sp);
        return port === undefined ? [] : [{ name: sp.name, protocol: sp.protocol, port }];
      });
      add({ address: pod.address, hostname: podHostname(pod, service), ...conditions, probed, pod: `${pod.namespace}/${pod.name}` }, ports);
    }
    return [...byAddress.values()];
  }
  const portsFor = (list: Parameters<typeof matchPort>[0]): EndpointName['ports'] =>
    named.flatMap((sp) => {
      const port = matchPort(list, sp);
      return port === undefined ? [] : [{ name: sp.name, protocol: sp.protocol, port }];
    });
  for (const endpoints of snapshot.endpoints) {
    if (endpoints.namespace !== service.namespace || endpoints.name !== service.name) continue;
    for (const subset of endpoints.subsets) {
      const ports = portsFor(subset.ports);
      for (const address of subset.addresses) {
        add({ address, hostname: subset.hostnames[address] ?? '', ready: true, serving: true, terminating: false, probed: false, pod: '' }, ports);
      }
    }
  }
  for (const slice of snapshot.endpointSlices) {
    if (slice.namespace !== service.namespace || slice.serviceName !== service.name || slice.addressType === 'FQDN') continue;
    const ports = portsFor(slice.ports);
    for (const e of slice.endpoints) {
      const ready = e.ready || service.publishNotReadyAddresses;
      add({ address: e.address, hostname: e.hostname, ready, serving: e.serving, terminating: e.terminating, probed: false, pod: '' }, ports);
    }
  }
  return [...byAddress.values()];
}

/** The Service's own addresses, primary family first. */
function ownAddresses(service: ServiceSpec, address: ServiceAddress | undefined): string[] {
  if (address === undefined) return [];
  if (address.ipv6 === '') return [address.ipv4];
  return service.families[0] === 'IPv6' ? [address.ipv6, address.ipv4] : [address.ipv4, address.ipv6];
}

export function serviceInfo(
  snapshot: ConfigSnapshot,
  service: ServiceSpec,
  address: ServiceAddress | undefined,
  ports: readonly ServicePortInfo[],
): ServiceInfo {
  const headless = service.clusterIP === 'None' && service.type !== 'ExternalName';
  // `::1` (or `::`) counts as the Service's IPv6 address for DNS only when every port is published there.
  const ipv6Binds = ports.map((p) => p.servedOn.find((s) => s.role === 'bindAddress' && s.address.startsWith('['))?.address ?? '');
  const ipv6Alias =
    address !== undefined && address.ipv6 === '' && ports.length > 0 && ipv6Binds.every((a) => a !== '')
      ? (ipv6Binds[0] ?? '').replace(/^\[(.*)\]:\d+$/, '$1').replace(/^::$/, '::1')
      : '';
  return {
    key: `${service.namespace}/${service.name}`,
    namespace: service.namespace,
    name: service.name,
    type: service.type,
    headless,
    source: formatSource(service.source),
    externalName: service.externalName,
    addresses: ownAddresses(service, address),
    ipv6Alias,
    mappedFrom: address?.mappedFrom ?? [],
    ports,
    publishNotReadyAddresses: service.publishNotReadyAddresses,
    endpoints: headless ? headlessEndpoints(snapshot, service) : [],
  };
}

/**
 * The names a client can use for a Service: the full one and the short forms
 * svcproxy's DNS server and hosts file answer (a bare name only in `default`).
 */
export function serviceNames(service: Pick<ServiceInfo, 'name' | 'namespace'>, domain: string): string[] {
  const names = [`${service.name}.${service.namespace}.svc.${domain}`, `${service.name}.${service.namespace}.svc`, `${service.name}.${service.namespace}`];
  return service.namespace === 'default' ? [...names, service.name] : names;
}
