/**
 * Each Service's own address, as a cluster gives one: the `clusterIP` of the
 * manifest when this machine can bind it, else an address of the service
 * range (`--service-cidr`). Pure: the local-address test and the previous
 * allocation come in as arguments.
 *
 * - IPv4: a manifest clusterIP that is local (all of 127.0.0.0/8 on Linux) or
 *   inside the range is honoured; one copied from a real cluster (10.96.x.y)
 *   is mapped to a range address, with a note; none at all gets a range address.
 * - IPv6: a local manifest clusterIP (`::1`) is honoured. There is no IPv6
 *   loopback range (only `::1` exists), so an IPv6 Service is otherwise served
 *   in IPv6 only through the localhost rule (localhost-rule.ts), and always on
 *   its IPv4 address.
 * - Headless and ExternalName Services get no address.
 */
import { ipFamily } from '../config/fields.js';
import type { ConfigIssue, ConfigNote, ServiceSpec } from '../config/types.js';
import { formatSource } from '../config/types.js';
import { allocateAddresses, rangeContains, usableCount, type Ipv4Range } from './address-allocator.js';

/** The default `--service-cidr`: a /16 of loopback that no default listener uses (after kubeadm's 10.96.0.0/12). */
export const DEFAULT_SERVICE_CIDR = '127.96.0.0/16';

/** Where a Service's IPv4 address came from. */
type AddressOrigin = 'manifest' | 'range' | 'mapped';

export interface ServiceAddress {
  /** The Service's IPv4 address: what its clusterIP listeners bind, DNS answers and env vars carry. */
  readonly ipv4: string;
  readonly origin: AddressOrigin;
  /** A local IPv6 clusterIP from the manifest (`::1`), '' when none. */
  readonly ipv6: string;
  /** Manifest clusterIPs that are not addresses of this machine (shown in --check and the admin API). */
  readonly mappedFrom: readonly string[];
}

export interface AddressEnvironmentInput {
  readonly range: Ipv4Range;
  readonly isLocalAddress: (ip: string) => boolean;
  /** `namespace/name` -> the IPv4 address the running state gave it. */
  readonly previous: ReadonlyMap<string, string>;
  /** Addresses svcproxy binds for other reasons (bind, node and admin addresses): never handed out. */
  readonly reserved: readonly string[];
}

export interface ServiceAddressResult {
  /** `namespace/name` -> its address, for every Service that has a cluster address. */
  readonly addresses: ReadonlyMap<string, ServiceAddress>;
  readonly issues: readonly ConfigIssue[];
  readonly notes: readonly ConfigNote[];
}

export function serviceKey(service: Pick<ServiceSpec, 'namespace' | 'name'>): string {
  return `${service.namespace}/${service.name}`;
}

/** True for Services that get an address of their own (and listeners on it). */
export function hasClusterAddress(service: ServiceSpec): boolean {
  return service.type !== 'ExternalName' && service.clusterIP !== 'None';
}

/** A Service's written cluster IPs: the ones this machine can serve (kept), and the others (mapped to an address of the range). */
interface Honoured {
  readonly ipv4: string;
  readonly ipv6: string;
  readonly mappedFrom: string[];
}

function honour(service: ServiceSpec, env: AddressEnvironmentInput): Honoured {
  const written = [service.clusterIP, service.secondaryClusterIP].filter((ip) => ip !== '' && ip !== 'None');
  let ipv4 = '';
  let ipv6 = '';
  const mappedFrom: string[] = [];
  for (const ip of written) {
    const family = ipFamily(ip);
    if (family === 4 && (env.isLocalAddress(ip) || rangeContains(env.range, ip))) ipv4 = ip;
    else if (family === 6 && env.isLocalAddress(ip)) ipv6 = ip;
    else mappedFrom.push(ip);
  }
  return { ipv4, ipv6, mappedFrom };
}

export function assignServiceAddresses(services: readonly ServiceSpec[], env: AddressEnvironmentInput): ServiceAddressResult {
  const notes: ConfigNote[] = [];
  const honoured = new Map<string, Honoured>();
  const taken = new Set<string>(env.reserved);
  for (const service of services) {
    if (!hasClusterAddress(service)) continue;
    const h = honour(service, env);
    for (const ip of [...env.reserved, ...service.externalIPs, ...service.loadBalancerIPs]) taken.add(ip);
    if (h.ipv4 !== '') taken.add(h.ipv4);
    honoured.set(serviceKey(service), h);
  }
  const needing = [...honoured].filter(([, h]) => h.ipv4 === '').map(([key]) => key);
  const allocation = allocateAddresses({ range: env.range, names: needing, previous: env.previous, taken });
  if (!allocation.ok) {
    const message =
      `${allocation.needed} Services need an address of the service range ${env.range.cidr}, which has ${usableCount(env.range)} usable addresses` +
      (allocation.free < usableCount(env.range) ? ` (${usableCount(env.range) - allocation.free} taken by addresses written in manifests or options)` : '') +
      '; give --service-cidr a larger range';
    return { addresses: new Map(), issues: [{ where: '--service-cidr', object: '', path: '', message }], notes };
  }
  const addresses = new Map<string, ServiceAddress>();
  for (const service of services) {
    const key = serviceKey(service);
    const h = honoured.get(key);
    if (h === undefined) continue;
    const allocated = allocation.addresses.get(key) ?? '';
    const origin: AddressOrigin = h.ipv4 !== '' ? 'manifest' : h.mappedFrom.some((ip) => ipFamily(ip) === 4) ? 'mapped' : 'range';
    const ipv4 = h.ipv4 !== '' ? h.ipv4 : allocated;
    for (const ip of h.mappedFrom) {
      notes.push({
        level: 'info',
        msg:
          ipFamily(ip) === 4
            ? `clusterIP ${ip} is not an address of this machine; the Service is served on ${ipv4} (from --service-cidr ${env.range.cidr}) instead`
            : `clusterIP ${ip} is not an address of this machine and there is no IPv6 service range; the Service is served on ${ipv4} and, where the localhost rule allows, on the IPv6 bind address`,
        where: formatSource(service.source),
        object: `Service ${key}`,
      });
    }
    addresses.set(key, { ipv4, origin, ipv6: h.ipv6, mappedFrom: h.mappedFrom });
  }
  return { addresses, issues: [], notes };
}
