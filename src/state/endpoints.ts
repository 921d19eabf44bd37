/**
 * Which endpoints a selector-less Service port gets, as kube-proxy reads
 * them: the Endpoints object of the same name (ready `addresses` only) and
 * the EndpointSlices labelled with the Service's name, ports matched by the
 * Service port's name, duplicates collapsed.
 */
import type { ConfigSnapshot, EndpointPortSpec, ServicePortSpec, ServiceSpec } from '../config/types.js';
import type { EndpointPlan } from './types.js';

/**
 * The port to dial for one endpoint port list, or undefined when the list
 * has no port for this Service port. An empty list (no `ports` written) and
 * a matching port with no number both mean "the Service port's numeric
 * targetPort" (documented deviation; a named targetPort cannot be resolved
 * without a Pod, so such endpoints are left out).
 */
export function matchPort(ports: readonly EndpointPortSpec[], servicePort: ServicePortSpec): number | undefined {
  const fallback = servicePort.targetPort.kind === 'number' ? servicePort.targetPort.port : undefined;
  if (ports.length === 0) return fallback;
  const match = ports.find((p) => p.name === servicePort.name && p.protocol === servicePort.protocol);
  if (match === undefined) return undefined;
  return match.port === 0 ? fallback : match.port;
}

/**
 * Every declared endpoint of one Service port, deduplicated on host:port.
 * As in kube-proxy's endpointslicecache, a later duplicate replaces an
 * earlier one only when it is ready.
 */
export function declaredEndpoints(snapshot: ConfigSnapshot, service: ServiceSpec, servicePort: ServicePortSpec): EndpointPlan[] {
  const byAddress = new Map<string, EndpointPlan>();
  const add = (endpoint: EndpointPlan): void => {
    const id = `${endpoint.host}|${endpoint.port}`;
    if (!byAddress.has(id) || endpoint.ready) byAddress.set(id, endpoint);
  };
  for (const endpoints of snapshot.endpoints) {
    if (endpoints.namespace !== service.namespace || endpoints.name !== service.name) continue;
    for (const subset of endpoints.subsets) {
      const port = matchPort(subset.ports, servicePort);
      if (port === undefined) continue;
      for (const host of subset.addresses) {
        add({
          host,
          port,
          ready: true,
          serving: true,
          terminating: false,
          source: 'Endpoints',
          pod: '',
          hostname: subset.hostnames[host] ?? '',
          probed: false,
        });
      }
    }
  }
  for (const slice of snapshot.endpointSlices) {
    if (slice.namespace !== service.namespace || slice.serviceName !== service.name) continue;
    const port = matchPort(slice.ports, servicePort);
    if (port === undefined) continue;
    for (const e of slice.endpoints) {
      add({
        host: e.address,
        port,
        ready: e.ready,
        serving: e.serving,
        terminating: e.terminating,
        source: 'EndpointSlice',
        pod: e.targetPod ?? '',
        hostname: e.hostname,
        probed: false,
        ...(e.targetPod === undefined ? {} : { portForward: true }),
      });
    }
  }
  return [...byAddress.values()];
}

/**
 * The endpoints traffic may use (kube-proxy's CategorizeEndpoints, Cluster
 * policy): the ready ones; when none is ready, those that are serving and
 * terminating, a best effort not to drop connections during a rollout.
 */
export function usableEndpoints<E extends Pick<EndpointPlan, 'ready' | 'serving' | 'terminating'>>(endpoints: readonly E[]): E[] {
  const ready = endpoints.filter((e) => e.ready);
  if (ready.length > 0) return ready;
  return endpoints.filter((e) => e.serving && e.terminating);
}

export interface Conditions {
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

/**
 * A Pod endpoint's conditions as the EndpointSlice controller writes them:
 * ready only when the Pod is ready and not terminating, or always with
 * publishNotReadyAddresses; serving follows the Pod's readiness.
 */
export function podConditions(podReady: boolean, terminating: boolean, publishNotReady: boolean): Conditions {
  return { ready: publishNotReady || (podReady && !terminating), serving: podReady, terminating };
}

/** The conditions of an endpoint now: probed Pods are looked up in the live readiness. */
export function currentConditions(
  endpoint: Pick<EndpointPlan, 'ready' | 'serving' | 'terminating' | 'probed' | 'pod'>,
  podReady: (pod: string) => boolean,
  publishNotReady: boolean,
): Conditions {
  return endpoint.probed ? podConditions(podReady(endpoint.pod), endpoint.terminating, publishNotReady) : endpoint;
}
