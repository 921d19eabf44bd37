/**
 * Where one Service port listens. Two kinds of address:
 *
 * - its own, always bound: the Service's address (service-addresses.ts) in
 *   IPv4 and a local IPv6 clusterIP if the manifest has one; its nodePort on
 *   the node address in each family; each local load balancer ingress IP and
 *   external IP;
 * - the bind address (`--bind-address` and its counterpart in the other
 *   family), only a *candidate*: localhost-rule.ts decides whether the port is
 *   published there, so that two Services on one port never collide.
 *
 * Pure: the local-address test is passed in.
 */
import { ipFamily } from '../config/fields.js';
import type { IpFamilyName, ServiceSpec } from '../config/types.js';
import { isLoopback } from '../loopback.js';
import type { ServiceAddress } from './service-addresses.js';
import type { ListenerRole } from './types.js';

interface ListenAddress {
  readonly address: string;
  readonly port: number;
  readonly role: ListenerRole;
}

export interface AddressEnvironment {
  readonly bindAddress: string;
  readonly nodeAddress: string;
  readonly isLocalAddress: (ip: string) => boolean;
}

export interface PortAddresses {
  /** Bound whatever the other Services do (a clash among these is a config error). */
  readonly own: readonly ListenAddress[];
  /** Bind-address listeners, published only where the localhost rule allows. */
  readonly candidates: readonly ListenAddress[];
}

const COUNTERPART: Readonly<Record<string, string>> = { '0.0.0.0': '::', '::': '0.0.0.0', '::1': '127.0.0.1' };

/** `base` if it is of `family`; else its natural counterpart (loopback <-> loopback, wildcard <-> wildcard). */
export function addressInFamily(base: string, family: IpFamilyName): string | undefined {
  const want = family === 'IPv4' ? 4 : 6;
  if (ipFamily(base) === want) return base;
  const other = ipFamily(base) === 4 && isLoopback(base) ? '::1' : COUNTERPART[base];
  return other !== undefined && ipFamily(other) === want ? other : undefined;
}

/** The families a Service listens in: its own, or the bind address's. */
function serviceFamilies(service: ServiceSpec, bindAddress: string): readonly IpFamilyName[] {
  if (service.families.length > 0) return service.families;
  return [ipFamily(bindAddress) === 6 ? 'IPv6' : 'IPv4'];
}

/** One Service port to place: its Service, the Service's addresses, the port and its nodePort (0: none). */
export interface PortToPlace {
  readonly service: ServiceSpec;
  readonly address: ServiceAddress;
  readonly port: number;
  readonly nodePort: number;
}

export function listenAddresses({ service, address, port, nodePort }: PortToPlace, env: AddressEnvironment, warn: (msg: string) => void): PortAddresses {
  const own: ListenAddress[] = [{ address: address.ipv4, port, role: 'clusterIP' }];
  const candidates: ListenAddress[] = [];
  if (address.ipv6 !== '') own.push({ address: address.ipv6, port, role: 'clusterIP' });
  for (const family of serviceFamilies(service, env.bindAddress)) {
    // A clusterIP written in the manifest and bound as is keeps the Service off the bind address, as before.
    const written = family === 'IPv4' ? address.origin === 'manifest' : address.ipv6 !== '';
    if (!written) {
      const fallback = addressInFamily(env.bindAddress, family);
      if (fallback !== undefined) candidates.push({ address: fallback, port, role: 'bindAddress' });
      else if (family === 'IPv6') warn(`no IPv6 bind address (--bind-address is ${env.bindAddress}); served in IPv4 only, on ${address.ipv4}`);
    }
    if (nodePort !== 0) {
      const node = addressInFamily(env.nodeAddress, family);
      if (node === undefined) warn(`no ${family} node address (--node-address is ${env.nodeAddress}); nodePort ${nodePort} not served in ${family}`);
      else own.push({ address: node, port: nodePort, role: 'nodePort' });
    }
  }
  for (const [ips, role, what] of [
    [service.loadBalancerIPs, 'loadBalancer', 'load balancer ingress IP'],
    [service.externalIPs, 'externalIP', 'external IP'],
  ] as const) {
    for (const ip of ips) {
      if (env.isLocalAddress(ip)) own.push({ address: ip, port, role });
      else warn(`${what} ${ip} is not an address of this machine; not listening on it`);
    }
  }
  return { own, candidates };
}
