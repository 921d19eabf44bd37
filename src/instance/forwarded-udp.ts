/**
 * `--pod-network portforward` and UDP: the API server's pods/portforward
 * carries TCP only (kubernetes/kubernetes#47862), so a cluster Service's UDP
 * port has no way to its Pods. Such a port is not served (no listener), and
 * says why where its addresses are said: `--check`, the log (a warning note,
 * once) and /api/services (`notServed`). `--pod-network direct` serves it.
 */
import type { ConfigNote } from '../config/types.js';
import type { DesiredResult } from '../state/desired.js';
import { servicePortKey, type ListenerKey, type ListenerPlan, type ServiceInfo } from '../state/types.js';

/** Why, as /api/services and `--check` give it. */
const UDP_NOT_FORWARDED = 'port-forward carries TCP only (kubernetes/kubernetes#47862); --pod-network direct serves it';

function fromCluster(service: ServiceInfo): boolean {
  return (service.source ?? '').startsWith('cluster:');
}

/** The plan without the listeners of cluster Services' UDP ports, each such port marked and noted. */
export function withoutForwardedUdp(result: DesiredResult): DesiredResult {
  const { state } = result;
  const dropped = new Set<string>();
  const notes: ConfigNote[] = [];
  const services = new Map<string, ServiceInfo>();
  for (const [key, service] of state.services) {
    if (!fromCluster(service) || !service.ports.some((p) => p.protocol === 'UDP' && p.servedOn.length > 0)) {
      services.set(key, service);
      continue;
    }
    const ports = service.ports.map((p) => {
      if (p.protocol !== 'UDP' || p.servedOn.length === 0) return p;
      dropped.add(servicePortKey(service.namespace, service.name, p.name));
      const object = `Service ${service.key}`;
      notes.push({
        level: 'warn',
        where: service.source ?? '',
        object,
        msg: `${object} port ${p.name === '' ? '' : `${p.name} `}${p.port}/UDP is not served: ${UDP_NOT_FORWARDED}`,
      });
      return { ...p, servedOn: [], notServed: UDP_NOT_FORWARDED };
    });
    services.set(key, { ...service, ports });
  }
  if (dropped.size === 0) return result;
  const listeners = new Map<ListenerKey, ListenerPlan>();
  for (const [key, l] of state.listeners) if (!(l.protocol === 'UDP' && dropped.has(l.servicePort))) listeners.set(key, l);
  return { ...result, state: { ...state, services, listeners }, notes: [...result.notes, ...notes] };
}
