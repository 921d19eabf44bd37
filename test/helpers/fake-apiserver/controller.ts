/**
 * A small EndpointSlice controller (kube-controller-manager's, reduced): on every Pod or Service change
 * it recomputes the slices of the Services in that namespace and writes only what differs. Endpoints
 * stay in the slice they are in (so a change rewrites as few slices as it can), new ones fill slices
 * with room, then new slices of at most `maxEndpointsPerSlice`. Conditions as the real controller sets
 * them: serving = the Pod's Ready condition, terminating = deletionTimestamp set, ready = serving and
 * not terminating. A Service whose Pods resolve its ports differently gets one set of slices per port set.
 */
import type { Store, StoreEvent } from './store.js';
import type { Endpoint, EndpointPort, EndpointSliceObject, KubeObject, NewObject, PodObject, ServiceObject } from './types.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
const MANAGED_BY = 'endpointslice-controller.k8s.io';

const nsOf = (o: KubeObject): string => o.metadata.namespace ?? '';

const podReady = (pod: PodObject): boolean => pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

function selects(selector: Readonly<Record<string, string>>, pod: KubeObject): boolean {
  const labels = pod.metadata.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The slice ports of `svc` for `pod`: a named targetPort resolves to the Pod's container port of that name. */
function portsFor(svc: ServiceObject, pod: PodObject): EndpointPort[] | undefined {
  const out: EndpointPort[] = [];
  for (const p of svc.spec.ports ?? []) {
    let port: number | undefined = typeof p.targetPort === 'number' ? p.targetPort : undefined;
    if (typeof p.targetPort === 'string') {
      for (const c of pod.spec.containers) port ??= c.ports?.find((cp) => cp.name === p.targetPort && cp.protocol === p.protocol)?.containerPort;
    }
    if (port === undefined) return undefined; // as upstream: a Pod without the named port is left out
    out.push({ name: p.name ?? '', port, protocol: p.protocol });
  }
  return out;
}

function endpointOf(svc: ServiceObject, pod: PodObject): Endpoint {
  const serving = podReady(pod);
  const terminating = pod.metadata.deletionTimestamp !== undefined;
  const hostname = pod.spec.hostname !== undefined && pod.spec.subdomain === svc.metadata.name ? { hostname: pod.spec.hostname } : {};
  return {
    addresses: [pod.status.podIP ?? ''],
    conditions: { ready: serving && !terminating, serving, terminating },
    ...hostname,
    targetRef: { kind: 'Pod', namespace: nsOf(pod), name: pod.metadata.name, uid: pod.metadata.uid },
    ...(pod.spec.nodeName === undefined ? {} : { nodeName: pod.spec.nodeName }),
  };
}

const endpointKey = (e: Endpoint): string => e.targetRef?.uid ?? e.addresses.join(',');

interface Desired {
  readonly ports: EndpointPort[];
  readonly endpoints: Map<string, Endpoint>;
}

interface Planned {
  slice: EndpointSliceObject | undefined;
  readonly ports: EndpointPort[];
  readonly endpoints: Endpoint[];
}

export interface ControllerOptions {
  /** Default 100, the real controller's default. */
  readonly maxEndpointsPerSlice?: number;
}

export class EndpointSliceController {
  private readonly max: number;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: Store,
    options: ControllerOptions = {},
  ) {
    this.max = options.maxEndpointsPerSlice ?? 100;
    this.unsubscribe = store.subscribe((event) => this.onChange(event));
  }

  stop(): void {
    this.unsubscribe();
  }

  private onChange(event: StoreEvent): void {
    const { kind, metadata } = event.object;
    if (kind === 'Pod') for (const svc of this.store.list('Service', metadata.namespace ?? '')) this.sync(svc as ServiceObject);
    else if (kind === 'Service') {
      if (event.type === 'DELETED')
        for (const s of this.slicesOf(metadata.namespace ?? '', metadata.name)) this.store.delete('EndpointSlice', nsOf(s), s.metadata.name);
      else this.sync(event.object as ServiceObject);
    }
  }

  private slicesOf(namespace: string, service: string): EndpointSliceObject[] {
    return this.store
      .list('EndpointSlice', namespace)
      .filter((s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === service && s.metadata.labels[MANAGED_BY_LABEL] === MANAGED_BY) as EndpointSliceObject[];
  }

  /** The endpoints `svc` should have, grouped by their resolved ports. */
  private desired(svc: ServiceObject): Map<string, Desired> {
    const groups = new Map<string, Desired>();
    const selector = svc.spec.selector;
    if (selector === undefined || svc.spec.type === 'ExternalName') return groups;
    const publishNotReady = svc.spec['publishNotReadyAddresses'] === true;
    for (const object of this.store.list('Pod', nsOf(svc))) {
      const pod = object as PodObject;
      if (!selects(selector, pod) || pod.status.podIP === undefined || pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed') continue;
      const ports = portsFor(svc, pod);
      if (ports === undefined) continue;
      const endpoint = endpointOf(svc, pod);
      if (publishNotReady) endpoint.conditions.ready = true;
      const key = JSON.stringify(ports);
      const group = groups.get(key) ?? { ports, endpoints: new Map<string, Endpoint>() };
      groups.set(key, group);
      group.endpoints.set(endpointKey(endpoint), endpoint);
    }
    return groups;
  }

  private sync(svc: ServiceObject): void {
    const existing = this.slicesOf(nsOf(svc), svc.metadata.name);
    if (svc.spec.selector === undefined || svc.spec.type === 'ExternalName') {
      for (const s of existing) this.store.delete('EndpointSlice', nsOf(s), s.metadata.name);
      return;
    }
    const groups = this.desired(svc);
    const plan: Planned[] = [];
    const leftovers: EndpointSliceObject[] = [];
    for (const slice of existing) {
      const group = groups.get(JSON.stringify(slice.ports));
      const endpoints: Endpoint[] = [];
      for (const e of slice.endpoints) {
        const next = group?.endpoints.get(endpointKey(e));
        if (next === undefined) continue;
        group?.endpoints.delete(endpointKey(e)); // an endpoint in two slices stays in the first only
        endpoints.push(next);
      }
      if (group === undefined || endpoints.length === 0) leftovers.push(slice);
      else plan.push({ slice, ports: group.ports, endpoints });
    }
    for (const group of groups.values()) {
      const rest = [...group.endpoints.values()];
      for (const p of plan) {
        if (JSON.stringify(p.ports) !== JSON.stringify(group.ports)) continue;
        while (p.endpoints.length < this.max && rest.length > 0) p.endpoints.push(...rest.splice(0, 1));
      }
      while (rest.length > 0) plan.push({ slice: undefined, ports: group.ports, endpoints: rest.splice(0, this.max) });
    }
    // As upstream, a selecting Service without endpoints keeps one empty slice: clients see "none", not "unknown".
    if (plan.length === 0) plan.push({ slice: undefined, ports: [], endpoints: [] });
    for (const p of plan) p.slice ??= leftovers.shift();
    this.write(svc, plan, leftovers);
  }

  /** Creates and updates first, deletes last: an endpoint that moves is never in no slice at all. */
  private write(svc: ServiceObject, plan: readonly Planned[], unused: readonly EndpointSliceObject[]): void {
    for (const p of plan) {
      if (p.slice === undefined) this.store.create(this.newSlice(svc, p.ports, p.endpoints));
      else this.store.update('EndpointSlice', nsOf(p.slice), p.slice.metadata.name, (o) => Object.assign(o, { ports: p.ports, endpoints: p.endpoints }));
    }
    for (const s of unused) this.store.delete('EndpointSlice', nsOf(s), s.metadata.name);
  }

  private newSlice(svc: ServiceObject, ports: EndpointPort[], endpoints: Endpoint[]): NewObject {
    return {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        namespace: nsOf(svc),
        generateName: `${svc.metadata.name}-`,
        labels: { ...svc.metadata.labels, [SERVICE_NAME_LABEL]: svc.metadata.name, [MANAGED_BY_LABEL]: MANAGED_BY },
        annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: svc.metadata.name, uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      addressType: 'IPv4',
      endpoints,
      ports,
    };
  }
}
