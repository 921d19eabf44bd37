/**
 * One human line per Service port saying every address it is served on, for
 * `--check` and the start-up log:
 *
 *   Service default/details port http 9080/TCP: 127.96.29.244:9080, 127.0.0.1:9080 (bind address)
 *   Service default/ratings port http 9080/TCP: 127.96.7.3:9080 (not on 127.0.0.1:9080/TCP: Service default/details uses the same port)
 */
import type { ServedAddress, ServiceInfo, ServicePortInfo } from '../state/types.js';

const ROLE: Readonly<Record<ServedAddress['role'], string>> = {
  clusterIP: '',
  bindAddress: 'bind address',
  nodePort: 'nodePort',
  loadBalancer: 'load balancer IP',
  externalIP: 'external IP',
};

function describeAddress(a: ServedAddress): string {
  const notes = [ROLE[a.role], a.via === '' ? '' : `through ${a.via}`].filter((n) => n !== '');
  return notes.length === 0 ? a.address : `${a.address} (${notes.join(', ')})`;
}

/** ` (from cluster:kind-dev)` for a cluster's Service, '' for a file's (the usual case needs no word). */
function origin(service: ServiceInfo): string {
  const source = service.source ?? '';
  return source.startsWith('cluster:') ? ` (from ${source.replace(/\[0\]$/, '')})` : '';
}

export function describeServicePort(service: ServiceInfo, port: ServicePortInfo): string {
  const head = `Service ${service.key}${origin(service)} port ${port.name === '' ? '' : `${port.name} `}${port.port}/${port.protocol}`;
  if (port.servedOn.length === 0) {
    const why =
      port.notServed ??
      (service.type === 'ExternalName' ? 'ExternalName' : service.headless ? 'headless' : port.protocol === 'SCTP' ? 'SCTP is not supported' : 'no listener');
    return `${head}: not proxied (${why})`;
  }
  const localhost = port.localhost === '' ? '' : ` (${port.localhost.replace(/^not published on /, 'not on ')})`;
  return `${head}: ${port.servedOn.map(describeAddress).join(', ')}${localhost}`;
}
