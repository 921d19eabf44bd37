/**
 * The desired state: what should listen where and which endpoints each
 * Service port may use. Pure data derived from a ConfigSnapshot; the proxy
 * layer receives only these, never config objects.
 */
import { SERVICE_OPTION_DEFAULTS } from '../config/annotations.js';
import type { ProbeSpec, Protocol } from '../config/types.js';
import type { FaultPlan } from '../faults/fault-plan.js';
import type { OwnedPod } from './workload-pods.js';

/** `namespace/name` or `namespace/name:portName`: kube-proxy's ServicePortName. */
export type ServicePortKey = string & { readonly __brand: 'ServicePortKey' };

export function servicePortKey(namespace: string, name: string, portName: string): ServicePortKey {
  return `${namespace}/${name}${portName === '' ? '' : `:${portName}`}` as ServicePortKey;
}

/** `TCP 127.0.0.1:8080` / `TCP [::1]:8080`: one bound socket. */
export type ListenerKey = string & { readonly __brand: 'ListenerKey' };

export function listenerKey(protocol: Protocol, address: string, port: number): ListenerKey {
  return `${protocol} ${hostPort(address, port)}` as ListenerKey;
}

/** `host:port`, with brackets around an IPv6 host. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export type EndpointSource = 'Endpoints' | 'EndpointSlice' | 'Pod';

/** One backend of a Service port as declared, with its conditions. */
export interface EndpointPlan {
  /** An IP address or, for FQDN endpoints, a host name. */
  readonly host: string;
  readonly port: number;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly source: EndpointSource;
  /** `namespace/name` of the Pod behind it; '' for hand-written endpoints. */
  readonly pod: string;
  /** Its DNS name under a headless Service (`hostname` of the endpoint, or of a Pod whose subdomain is the Service); '' when none. */
  readonly hostname: string;
  /**
   * The Pod's readiness comes from svcproxy's own probes, so ready/serving
   * above are only the start state (not ready) and are recomputed at run time.
   */
  readonly probed: boolean;
  /**
   * A cluster's endpoint whose targetRef names its Pod (`pod`): with `--pod-network portforward`
   * it is reached through the API server's pods/{name}/portforward, not dialled. Absent: dialled.
   */
  readonly portForward?: boolean;
}

/** Everything the data path needs to serve one Service port. */
export interface ServicePortPlan {
  readonly key: ServicePortKey;
  readonly namespace: string;
  readonly service: string;
  /** The Service port's name; '' when unnamed. */
  readonly portName: string;
  readonly port: number;
  readonly protocol: Protocol;
  /** As written: a number or a port name; for display. */
  readonly targetPort: string;
  /** Every declared endpoint; the balancer decides which are usable. */
  readonly endpoints: readonly EndpointPlan[];
  /** spec.publishNotReadyAddresses: not-ready Pods count as ready. */
  readonly publishNotReadyAddresses: boolean;
  /** The nodePort (given or allocated); 0 for ClusterIP Services. */
  readonly nodePort: number;
  readonly policy: ServicePortPolicy;
}

/** What svcproxy must probe for one Pod that backs at least one Service port. */
export interface PodProbePlan {
  /** `namespace/name`. */
  readonly pod: string;
  readonly address: string;
  /** The probes svcproxy runs (an exec probe connects to its container's first port instead). */
  readonly probes: readonly ProbeSpec[];
  /** The Services (`namespace/name`) it backs, for log lines. */
  readonly services: readonly string[];
}

export type ListenerRole = 'clusterIP' | 'bindAddress' | 'nodePort' | 'loadBalancer' | 'externalIP';

/** How the data path treats one Service port's connections. */
export interface ServicePortPolicy {
  /** Per dial attempt; 0 = kube-proxy's escalating 250/500/1000/2000 ms. */
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly proxyProtocol: '' | 'v1' | 'v2';
  /** CIDRs allowed to connect; [] = everyone. */
  readonly sourceRanges: readonly string[];
  /** ClientIP affinity timeout; 0 = no affinity. */
  readonly affinityTimeoutSeconds: number;
  readonly udpIdleTimeoutMs: number;
  readonly udpMaxFlows: number;
}

/** A Service port with no svcproxy.dev annotations, no source ranges and no affinity. */
export const DEFAULT_POLICY: ServicePortPolicy = { ...SERVICE_OPTION_DEFAULTS, sourceRanges: [], affinityTimeoutSeconds: 0 };

/** One socket to bind, feeding one Service port. */
export interface ListenerPlan {
  readonly key: ListenerKey;
  readonly servicePort: ServicePortKey;
  readonly protocol: Protocol;
  readonly address: string;
  readonly port: number;
  readonly role: ListenerRole;
}

/** One address a Service port is served on, as `--check`, the start-up log and the admin API show it. */
export interface ServedAddress {
  /** `host:port`. */
  readonly address: string;
  readonly protocol: Protocol;
  readonly role: ListenerRole;
  /** `host:port` of the wildcard listener that serves this address, '' when bound itself. */
  readonly via: string;
}

/** One port of a Service, with every address it is served on. */
export interface ServicePortInfo {
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** As written: a number or a port name. */
  readonly targetPort: string;
  /** [] for ports that are not proxied (SCTP, headless, ExternalName). */
  readonly servedOn: readonly ServedAddress[];
  /** Why the port is not on the bind address, '' when it is or was never a candidate. */
  readonly localhost: string;
  /** Why a port that would be proxied is not served (a cluster UDP port under --pod-network portforward); absent when served. */
  readonly notServed?: string;
}

/** An endpoint as DNS sees it (headless Services): its address, name and conditions. */
export interface EndpointName {
  /** An IP address (host-name endpoints are left out: DNS cannot give an A record for them). */
  readonly address: string;
  readonly hostname: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  /** A probed Pod's readiness is looked up live (see currentConditions). */
  readonly probed: boolean;
  /** `namespace/name` of the Pod behind it; '' for hand-written endpoints. */
  readonly pod: string;
  /** Named Service ports this endpoint serves, with the port dialled there (for SRV). */
  readonly ports: ReadonlyArray<{ readonly name: string; readonly protocol: Protocol; readonly port: number }>;
}

/**
 * A Service as names see it: DNS, the hosts file, `svcproxy env`, the admin
 * API. Pure data; the DNS records and env vars are built from it.
 */
export interface ServiceInfo {
  /** `namespace/name`. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  readonly headless: boolean;
  /** Where the Service came from: its file (`web.yaml[0]`), or `cluster:<context>[0]` for a cluster's. */
  readonly source?: string;
  /** The CNAME target of an ExternalName Service, '' otherwise. */
  readonly externalName: string;
  /** The Service's own addresses, primary family first; [] for headless and ExternalName Services. */
  readonly addresses: readonly string[];
  /** An IPv6 bind address (`::1`) every port of the Service is published on, when it has no IPv6 address of its own; ''. */
  readonly ipv6Alias: string;
  /** Manifest clusterIPs that are not addresses of this machine (and were mapped). */
  readonly mappedFrom: readonly string[];
  readonly ports: readonly ServicePortInfo[];
  readonly publishNotReadyAddresses: boolean;
  /** Headless Services: every endpoint with an IP address; [] otherwise. */
  readonly endpoints: readonly EndpointName[];
}

/** One Pod as the Pods table shows it: where its process is expected and what decides its readiness. */
export interface PodInfo {
  /** `namespace/name`. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  /** The workload it is a replica of (`Deployment`…), '' for a Pod written by hand. */
  readonly workloadKind: string;
  readonly workloadName: string;
  /** The WorkloadBinding that placed it, '' when none. */
  readonly binding: string;
  /** Where its process is expected: an address of the pod range, a bound address, or a hand-written Pod's. */
  readonly address: string;
  readonly ports: ReadonlyArray<{
    readonly container: string;
    readonly name: string;
    /** The containerPort. */
    readonly port: number;
    readonly protocol: Protocol;
    /** `host:port` where the process serves it (the containerPort, or where a binding maps it). */
    readonly servedAt: string;
  }>;
  /** What decides readiness, in words (`tcpSocket :9080 (no readinessProbe: …)`, `httpGet http://:8080/healthz`). */
  readonly readiness: string;
  /** Its readiness comes from svcproxy's probes (live), not from the manifest. */
  readonly probed: boolean;
  readonly terminating: boolean;
  /** A removed workload Pod: when it is gone (ms since the epoch); 0 otherwise. */
  readonly removeAt: number;
  /** The Services (`namespace/name`) whose selector picks it. */
  readonly services: readonly string[];
}

export interface DesiredState {
  readonly servicePorts: ReadonlyMap<ServicePortKey, ServicePortPlan>;
  readonly listeners: ReadonlyMap<ListenerKey, ListenerPlan>;
  readonly probes: ReadonlyMap<string, PodProbePlan>;
  /** Allocated nodePorts (`servicePortKey/protocol` -> port), fed back into the next reload. */
  readonly nodePorts: ReadonlyMap<string, number>;
  /** Every Service (`namespace/name`), for names (DNS, hosts file, env) and the admin API. */
  readonly services: ReadonlyMap<string, ServiceInfo>;
  /** Each Service's IPv4 address (`namespace/name` -> address), fed back into the next reload so addresses stay put. */
  readonly serviceAddresses: ReadonlyMap<string, string>;
  /** Declared Faults resolved against this state (state/faults.ts). */
  readonly faults: readonly FaultPlan[];
  /** Every Pod (written by hand and made from workloads, terminating ones included), for the Pods table. */
  readonly pods: ReadonlyMap<string, PodInfo>;
  /** The workload Pods with their addresses and removal times, fed back into the next plan (workload-pods.ts). */
  readonly ownedPods: ReadonlyMap<string, OwnedPod>;
}

export const EMPTY_STATE: DesiredState = {
  servicePorts: new Map(),
  listeners: new Map(),
  probes: new Map(),
  nodePorts: new Map(),
  services: new Map(),
  serviceAddresses: new Map(),
  faults: [],
  pods: new Map(),
  ownedPods: new Map(),
};
