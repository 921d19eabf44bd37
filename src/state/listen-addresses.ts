/**
 * Where one Service port listens: its clusterIP (or the bind address), in
 * each of its IP families; its nodePort on the node address; each local
 * load balancer ingress IP and external IP. Pure: the local-address test is
 * passed in.
 */
import { ipFamily } from '../config/fields.js';
import type { IpFamilyName, ServiceSpec } from '../config/types.js';
import type { ListenerRole } from './types.js';

export interface ListenAddress {
  readonly address: string;
  readonly port: number;
  readonly role: ListenerRole;
}

export interface AddressEnvironment {
  readonly bindAddress: string;
  readonly nodeAddress: string;
  readonly isLocalAddress: (ip: string) => boolean;
}

const COUNTERPART: Readonly<Record<string, string>> = { '0.0.0.0': '::', '::': '0.0.0.0', '::1': '127.0.0.1' };

/** `base` if it is of `family`; else its natural counterpart (loopback <-> loopback, wildcard <-> wildcard). */
export function addressInFamily(base: string, family: IpFamilyName): string | undefined {
  const want = family === 'IPv4' ? 4 : 6;
  if (ipFamily(base) === want) return base;
  const other = base.startsWith('127.') ? '::1' : COUNTERPART[base];
  return other !== undefined && ipFamily(other) === want ? other : undefined;
}

/** The families a Service listens in: its own, or the bind address's. */
function serviceFamilies(service: ServiceSpec, bindAddress: string): readonly IpFamilyName[] {
  if (service.families.length > 0) return service.families;
  return [ipFamily(bindAddress) === 6 ? 'IPv6' : 'IPv4'];
}

export function listenAddresses(
  service: ServiceSpec,
  port: number,
  nodePort: number,
  env: AddressEnvironment,
  warn: (msg: string) => void,
): ListenAddress[] {
  const out: ListenAddress[] = [];
  const clusterIPs = [service.clusterIP, service.secondaryClusterIP].filter((ip) => ip !== '' && ip !== 'None');
  for (const family of serviceFamilies(service, env.bindAddress)) {
    const want = family === 'IPv4' ? 4 : 6;
    const clusterIP = clusterIPs.find((ip) => ipFamily(ip) === want);
    if (clusterIP !== undefined && env.isLocalAddress(clusterIP)) {
      out.push({ address: clusterIP, port, role: 'clusterIP' });
    } else {
      const fallback = addressInFamily(env.bindAddress, family);
      if (clusterIP !== undefined) {
        warn(`clusterIP ${clusterIP} is not an address of this machine; listening on ${fallback ?? `no ${family} address`} instead`);
      }
      if (fallback === undefined) warn(`no ${family} bind address (--bind-address is ${env.bindAddress}); give the Service a local ${family} clusterIP`);
      else out.push({ address: fallback, port, role: 'bindAddress' });
    }
    if (nodePort !== 0) {
      const node = addressInFamily(env.nodeAddress, family);
      if (node === undefined) warn(`no ${family} node address (--node-address is ${env.nodeAddress}); nodePort ${nodePort} not served in ${family}`);
      else out.push({ address: node, port: nodePort, role: 'nodePort' });
    }
  }
  for (const [ips, role, what] of [
    [service.loadBalancerIPs, 'loadBalancer', 'load balancer ingress IP'],
    [service.externalIPs, 'externalIP', 'external IP'],
  ] as const) {
    for (const ip of ips) {
      if (env.isLocalAddress(ip)) out.push({ address: ip, port, role });
      else warn(`${what} ${ip} is not an address of this machine; not listening on it`);
    }
  }
  return out;
}
