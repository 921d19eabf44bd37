/**
 * Typed, validated, defaulted views of the Kubernetes objects svcproxy reads.
 * Everything here is plain immutable data: no sockets, no timers. The rest of
 * the program never sees raw YAML.
 */

import type { ToxicSpec } from '../faults/toxics.js';

/** Where an object came from, so every message can point at it. */
export interface ObjectSource {
  /** The file as the user named it (config path joined with the file name). */
  readonly file: string;
  /** 0-based index of the document in a multi-document YAML file. */
  readonly doc: number;
  /** 0-based index in `items` when the document is a `kind: List`. */
  readonly item?: number;
}

/** `file[doc]` or `file[doc].items[i]`: how messages point at an object. */
export function formatSource(source: ObjectSource): string {
  const base = `${source.file}[${source.doc}]`;
  return source.item === undefined ? base : `${base}.items[${source.item}]`;
}

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** How a Service port names its backend port: a number, or a named container port. */
export type TargetPort = { readonly kind: 'number'; readonly port: number } | { readonly kind: 'name'; readonly name: string };

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';

export type IpFamilyName = 'IPv4' | 'IPv6';

/** svcproxy's per-Service options, from `svcproxy.dev/*` annotations (see config/annotations.ts). */
export interface ServiceOptions {
  /** Per dial attempt; 0 = kube-proxy's escalating 250/500/1000/2000 ms. */
  readonly connectTimeoutMs: number;
  /** Close a connection with no bytes either way for this long; 0 = never. */
  readonly idleTimeoutMs: number;
  /** Concurrent connections per Service port beyond which new ones are reset; 0 = no limit. */
  readonly maxConnections: number;
  /** Send a PROXY protocol header to the upstream ('' = none). */
  readonly proxyProtocol: '' | 'v1' | 'v2';
  /** A UDP flow with no datagram either way for this long is closed. */
  readonly udpIdleTimeoutMs: number;
  /** Most UDP flows per Service port; the oldest is evicted beyond it. */
  readonly udpMaxFlows: number;
}

/** One validated entry of `spec.ports`, defaults applied. */
export interface ServicePortSpec {
  /** '' only when the Service has a single unnamed port. */
  readonly name: string;
  readonly protocol: Protocol;
  /** The port clients dial: what our listener binds. */
  readonly port: number;
  /** Defaults to `port`. */
  readonly targetPort: TargetPort;
  /** 0 when not set (allocated later for NodePort/LoadBalancer). */
  readonly nodePort: number;
}

export interface ServiceSpec {
  readonly kind: 'Service';
  readonly namespace: string;
  readonly name: string;
  readonly source: ObjectSource;
  readonly type: ServiceType;
  /** '' (unset), 'None' (headless) or an IP address. */
  readonly clusterIP: string;
  /** undefined when the Service has no selector (endpoints are hand-written). */
  readonly selector: Readonly<Record<string, string>> | undefined;
  readonly ports: readonly ServicePortSpec[];
  readonly sessionAffinity: 'None' | 'ClientIP';
  /** Seconds; 10800 by default, meaningful only with ClientIP affinity. */
  readonly affinityTimeoutSeconds: number;
  readonly externalIPs: readonly string[];
  readonly publishNotReadyAddresses: boolean;
  readonly annotations: Readonly<Record<string, string>>;
  /** Families to listen on, primary first; [] = the family of --bind-address only. */
  readonly families: readonly IpFamilyName[];
  /** `clusterIPs[1]`: a dual-stack Service's address in its second family ('' when unset). */
  readonly secondaryClusterIP: string;
  /** `status.loadBalancer.ingress[].ip`. */
  readonly loadBalancerIPs: readonly string[];
  /** CIDRs allowed to connect (loadBalancerSourceRanges or its legacy annotation); [] = everyone. */
  readonly sourceRanges: readonly string[];
  readonly options: ServiceOptions;
  /** `spec.externalName` without a trailing dot ('' unless type is ExternalName): DNS answers it as a CNAME. */
  readonly externalName: string;
}

/** A port of an Endpoints subset or an EndpointSlice. */
export interface EndpointPortSpec {
  /** '' when unnamed: matches a Service's single unnamed port. */
  readonly name: string;
  /**
   * 0 when the manifest gives no number ("not restricted; interpreted by the
   * consumer", per the EndpointSlice API): svcproxy dials the Service port's
   * numeric targetPort then.
   */
  readonly port: number;
  readonly protocol: Protocol;
}

export interface EndpointsSubsetSpec {
  /** Ready addresses (`subsets[].addresses[].ip`). notReadyAddresses are never used, as in kube-proxy. */
  readonly addresses: readonly string[];
  /** `addresses[].hostname` by IP, where given: the endpoint's DNS name under a headless Service. */
  readonly hostnames: Readonly<Record<string, string>>;
  /**
   * Empty when the subset lists no ports, which svcproxy reads as "every
   * Service port, at its numeric targetPort" (a documented local deviation:
   * the API server requires ports on Endpoints).
   */
  readonly ports: readonly EndpointPortSpec[];
}

export interface EndpointsSpec {
  readonly kind: 'Endpoints';
  readonly namespace: string;
  readonly name: string;
  readonly source: ObjectSource;
  readonly subsets: readonly EndpointsSubsetSpec[];
}

export type AddressType = 'IPv4' | 'IPv6' | 'FQDN';

/** One endpoint of a slice, with conditions as kube-proxy reads them. */
export interface SliceEndpointSpec {
  /** `addresses[0]`: kube-proxy uses only the first address of each endpoint. */
  readonly address: string;
  /** ready missing = true. */
  readonly ready: boolean;
  /** serving missing = true. */
  readonly serving: boolean;
  /** terminating missing = false. */
  readonly terminating: boolean;
  /** `hostname`, '' when not set: the endpoint's DNS name under a headless Service. */
  readonly hostname: string;
  /**
   * `namespace/name` of the Pod its `targetRef` names, set only for a cluster's slices
   * (sources/cluster-objects.ts): such an endpoint may be reached through pods/portforward.
   */
  readonly targetPod?: string;
}

export interface EndpointSliceSpec {
  readonly kind: 'EndpointSlice';
  readonly namespace: string;
  readonly name: string;
  readonly source: ObjectSource;
  /** The `kubernetes.io/service-name` label. */
  readonly serviceName: string;
  readonly addressType: AddressType;
  /** Empty when the slice lists no ports ("all ports"): each Service port's numeric targetPort is dialled. */
  readonly ports: readonly EndpointPortSpec[];
  readonly endpoints: readonly SliceEndpointSpec[];
}

/** A container port of a Pod, with the container that declares it. */
export interface ContainerPortSpec {
  readonly container: string;
  /** '' when unnamed. */
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
  /**
   * Where the Pod's process serves this port: `port`, except in a Pod a
   * WorkloadBinding places on something already running, whose `ports`
   * (or `host:port`) may map it elsewhere.
   */
  readonly servedPort: number;
}

/** A probe's port: the number, and the container port name it was given as ('' for a number). */
export interface ProbePort {
  readonly port: number;
  readonly name: string;
}

/** Kubernetes probe timing, defaults applied (seconds and counts). */
interface ProbeTiming {
  readonly initialDelaySeconds: number;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

/**
 * One container's readinessProbe. tcpSocket, httpGet and grpc run as the
 * kubelet runs them; exec cannot run here (svcproxy runs no containers), so
 * it connects to `fallbackPort`, the container's first TCP port, instead
 * (with a note); a container without ports is counted ready.
 */
export type ProbeSpec = ProbeTiming & { readonly container: string } & (
    | { readonly kind: 'tcpSocket'; readonly port: ProbePort; readonly host: string }
    | {
        readonly kind: 'httpGet';
        readonly port: ProbePort;
        /** '' = the Pod's address. */
        readonly host: string;
        readonly path: string;
        readonly scheme: 'HTTP' | 'HTTPS';
        readonly headers: ReadonlyArray<{ readonly name: string; readonly value: string }>;
      }
    | {
        readonly kind: 'grpc';
        /** grpc.port: a number only (the kubelet takes no port names here). */
        readonly port: number;
        /** grpc.service, '' = the whole server. */
        readonly service: string;
      }
    | { readonly kind: 'exec'; readonly command: readonly string[]; readonly fallbackPort: ProbePort | undefined }
  );

export interface PodSpec {
  readonly kind: 'Pod';
  readonly namespace: string;
  readonly name: string;
  readonly source: ObjectSource;
  readonly labels: Readonly<Record<string, string>>;
  /** status.podIP, else the svcproxy.dev/address annotation (IP or host name), else 127.0.0.1. */
  readonly address: string;
  /** metadata.deletionTimestamp is set. */
  readonly terminating: boolean;
  /** status.phase is Succeeded or Failed: never an endpoint, as with the EndpointSlice controller. */
  readonly finished: boolean;
  /** `spec.hostname` ('' when unset): with a matching `spec.subdomain`, the Pod's name under a headless Service. */
  readonly hostname: string;
  /** `spec.subdomain` ('' when unset): the headless Service that gives the Pod a DNS name. */
  readonly subdomain: string;
  /** Every container port, in container order (FindPort takes the first match). */
  readonly ports: readonly ContainerPortSpec[];
  readonly probes: readonly ProbeSpec[];
  /** The workload this Pod is a replica of; undefined for a Pod written by hand. */
  readonly owner: PodOwner | undefined;
  /** `terminationGracePeriodSeconds` (default 30): how long a removed workload Pod stays terminating. */
  readonly gracePeriodSeconds: number;
  /**
   * True when `probes` holds the probe svcproxy adds to a workload Pod
   * without a readinessProbe: a TCP connect to its first TCP port.
   */
  readonly implicitProbe: boolean;
}

/** Who made a Pod: its workload, and the WorkloadBinding that placed it, if any. */
interface PodOwner {
  readonly kind: WorkloadKind;
  readonly name: string;
  /** The WorkloadBinding (same namespace) that gives the Pod its address; '' when the Pod has an address of the pod range. */
  readonly binding: string;
}

export type WorkloadKind = 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet';

/** A label selector: every matchLabels pair and every expression must hold. */
export interface LabelSelectorSpec {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: ReadonlyArray<{
    readonly key: string;
    readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    readonly values: readonly string[];
  }>;
}

/** A workload's Pod template: what each of its Pods starts from. */
export interface PodTemplate {
  readonly labels: Readonly<Record<string, string>>;
  readonly hostname: string;
  readonly subdomain: string;
  readonly ports: readonly ContainerPortSpec[];
  readonly probes: readonly ProbeSpec[];
  readonly gracePeriodSeconds: number;
}

/**
 * An apps/v1 workload (Deployment, ReplicaSet, StatefulSet, DaemonSet),
 * strictly checked against its OpenAPI fields, its template validated as a
 * Pod: what the workloads room (src/workloads/) needs to make its Pods.
 */
export interface WorkloadSpec {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
  readonly source: ObjectSource;
  /** `spec.replicas` (default 1); always 1 for a DaemonSet (one node). */
  readonly replicas: number;
  readonly selector: LabelSelectorSpec;
  readonly template: PodTemplate;
  /** FNV-32a of the template as written (keys sorted): the input of pod-template-hash and controller-revision-hash. */
  readonly templateHash: number;
  /** StatefulSet `spec.serviceName` ('' when unset or another kind): the subdomain of its Pods. */
  readonly serviceName: string;
  /** StatefulSet `spec.ordinals.start` (default 0). */
  readonly ordinalStart: number;
}

/** One entry of a WorkloadBinding's `addresses`: a host and, optionally, the port of the workload's first TCP container port there. */
export interface BoundAddress {
  /** An IP address or a host name. */
  readonly host: string;
  /** 0 when the entry gives no port. */
  readonly port: number;
}

/**
 * svcproxy's own `kind: WorkloadBinding`: a workload's Pods are processes
 * already running (at `addresses`, or at every address `dnsName` resolves
 * to) instead of addresses of the pod range.
 */
export interface WorkloadBindingSpec {
  readonly kind: 'WorkloadBinding';
  readonly namespace: string;
  readonly name: string;
  readonly source: ObjectSource;
  /** The workload it places (same namespace). */
  readonly workload: { readonly kind: WorkloadKind; readonly name: string };
  /** One Pod per entry ([] when `dnsName` is used). */
  readonly addresses: readonly BoundAddress[];
  /** A host name whose every address is one Pod, re-resolved while svcproxy runs ('' when `addresses` are used). */
  readonly dnsName: string;
  /** The port given with `dnsName` (`app:8080`), 0 when none: stands for the first TCP container port. */
  readonly dnsPort: number;
  /** Container port (name, or number as text) -> the port the process serves it on. */
  readonly ports: Readonly<Record<string, number>>;
}

/** What a Fault aims at; at least one of service, pod, endpoint, podSelector. */
export interface FaultTargetSpec {
  /** A Service of the Fault's namespace; undefined = any Service (with pod, endpoint or podSelector). */
  readonly service: string | undefined;
  /** One port of that Service, by name or number; undefined = every TCP port. */
  readonly port: string | number | undefined;
  /** One Pod of the Fault's namespace, by name. */
  readonly pod: string | undefined;
  /** One endpoint, `host:port` as dialled (hand-written endpoints have no Pod). */
  readonly endpoint: string | undefined;
  /** Pods of the Fault's namespace whose labels include all of these. */
  readonly podSelector: Readonly<Record<string, string>> | undefined;
}

export interface FaultSpec {
  readonly kind: 'Fault';
  readonly namespace: string;
  readonly name: string;
  readonly source: ObjectSource;
  readonly target: FaultTargetSpec;
  readonly toxics: readonly ToxicSpec[];
  /** ms after the Fault is applied before it starts; 0 = at once. */
  readonly afterMs: number;
  /** ms it lasts once started; 0 = until removed. */
  readonly forMs: number;
  /** undefined = random choices differ from run to run. */
  readonly seed: number | undefined;
}

/** A whole validated configuration: what one reload produces. */
export interface ConfigSnapshot {
  readonly services: readonly ServiceSpec[];
  readonly endpoints: readonly EndpointsSpec[];
  readonly endpointSlices: readonly EndpointSliceSpec[];
  readonly pods: readonly PodSpec[];
  readonly workloads: readonly WorkloadSpec[];
  /** svcproxy's own `kind: WorkloadBinding` objects (config/workload-binding.ts). */
  readonly bindings: readonly WorkloadBindingSpec[];
  /** svcproxy's own `kind: Fault` objects (config/fault.ts). */
  readonly faults: readonly FaultSpec[];
}

/** One problem found in the config, with enough context to find and fix it. */
export interface ConfigIssue {
  /** `file[doc]`, or the config path itself for problems reading it. */
  readonly where: string;
  /** `Kind namespace/name`, or '' when the object could not be identified. */
  readonly object: string;
  /** Field path such as `spec.ports[1].name`, or '' for the whole object. */
  readonly path: string;
  readonly message: string;
}

/** Renders an issue as one line: `web.yaml[1] Service default/web: spec.ports[1].name: Required value: ...`. */
export function formatIssue(issue: ConfigIssue): string {
  const head = issue.object === '' ? issue.where : `${issue.where} ${issue.object}`;
  return issue.path === '' ? `${head}: ${issue.message}` : `${head}: ${issue.path}: ${issue.message}`;
}

/** Something worth a log line but not an error (headless Service, unknown kind, ...). */
export interface ConfigNote {
  readonly level: 'debug' | 'info' | 'warn';
  readonly msg: string;
  readonly where: string;
  readonly object: string;
}
