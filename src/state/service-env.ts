/**
 * The Service environment variables the kubelet gives every container
 * (pkg/kubelet/envvars FromServices), with the addresses svcproxy serves:
 *
 *   REDIS_MASTER_SERVICE_HOST=10.0.0.11           the Service's address
 *   REDIS_MASTER_SERVICE_PORT=6379                 its first port
 *   REDIS_MASTER_SERVICE_PORT_REDIS=6379           each named port
 *   REDIS_MASTER_PORT=tcp://10.0.0.11:6379         first port (Docker links)
 *   REDIS_MASTER_PORT_6379_TCP=tcp://10.0.0.11:6379   and for every port:
 *   REDIS_MASTER_PORT_6379_TCP_PROTO=tcp / _PORT=6379 / _ADDR=10.0.0.11
 *
 * Services without an address (headless, ExternalName) get none, as in a
 * cluster. Pure.
 */
import type { ServiceInfo } from './types.js';

export type EnvVar = readonly [name: string, value: string];

/** makeEnvVariableName: upper case, `-` becomes `_`. */
function envName(text: string): string {
  return text.toUpperCase().replace(/-/g, '_');
}

/** net.JoinHostPort: brackets around an IPv6 host. */
function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The variables of one Service, in the kubelet's order. */
export function serviceEnvVars(service: ServiceInfo): EnvVar[] {
  const host = service.addresses[0];
  const first = service.ports[0];
  if (host === undefined || first === undefined) return [];
  const prefix = envName(service.name);
  const out: EnvVar[] = [
    [`${prefix}_SERVICE_HOST`, host],
    [`${prefix}_SERVICE_PORT`, String(first.port)],
  ];
  for (const p of service.ports) if (p.name !== '') out.push([`${prefix}_SERVICE_PORT_${envName(p.name)}`, String(p.port)]);
  service.ports.forEach((p, i) => {
    const protocol = p.protocol.toLowerCase();
    const url = `${protocol}://${joinHostPort(host, p.port)}`;
    if (i === 0) out.push([`${prefix}_PORT`, url]);
    const portPrefix = `${prefix}_PORT_${p.port}_${p.protocol.toUpperCase()}`;
    out.push([portPrefix, url], [`${portPrefix}_PROTO`, protocol], [`${portPrefix}_PORT`, String(p.port)], [`${portPrefix}_ADDR`, host]);
  });
  return out;
}

/** Every Service of `namespace`, sorted by name (the kubelet's order is a map's, i.e. none). */
export function namespaceEnvVars(services: Iterable<ServiceInfo>, namespace: string): EnvVar[] {
  return [...services]
    .filter((s) => s.namespace === namespace)
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap(serviceEnvVars);
}

/** `export NAME='value'` lines for `eval "$(svcproxy env)"`, or `NAME=value` lines for a compose env_file. */
export function formatEnvVars(vars: readonly EnvVar[], format: 'shell' | 'dotenv'): string {
  if (format === 'dotenv') return vars.map(([k, v]) => `${k}=${v}\n`).join('');
  return vars.map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'\n`).join('');
}
