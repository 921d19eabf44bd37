/**
 * The wire shapes the fake serves: JSON as kube-apiserver writes it (timestamps are RFC 3339 strings,
 * absent fields are left out). Only the fields the fake fills in or a test reads are spelled out.
 */

interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

interface ObjectMeta {
  name: string;
  /** Absent on cluster-scoped kinds (Namespace). */
  namespace?: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  generation?: number;
  generateName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
}

/** Any stored object. The store is kind-agnostic; the builders in objects.ts give the shapes. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** What a test passes for a new object: the server fills uid, resourceVersion, creationTimestamp. */
export interface NewObject {
  apiVersion: string;
  kind: string;
  metadata: Partial<ObjectMeta>;
  [field: string]: unknown;
}

export interface ServicePort {
  name?: string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port: number;
  targetPort: number | string;
  nodePort?: number;
}

export interface ServiceObject extends KubeObject {
  spec: {
    type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
    selector?: Record<string, string>;
    ports?: ServicePort[];
    clusterIP?: string;
    clusterIPs?: string[];
    externalName?: string;
    [field: string]: unknown;
  };
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface PodObject extends KubeObject {
  spec: {
    containers: Array<{ name: string; image: string; ports?: ContainerPort[]; [field: string]: unknown }>;
    nodeName?: string;
    hostname?: string;
    subdomain?: string;
    [field: string]: unknown;
  };
  status: {
    phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
    podIP?: string;
    podIPs?: Array<{ ip: string }>;
    conditions?: Array<{ type: string; status: 'True' | 'False' | 'Unknown'; lastTransitionTime?: string }>;
    [field: string]: unknown;
  };
}

export interface EndpointConditions {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export interface Endpoint {
  addresses: string[];
  conditions: EndpointConditions;
  targetRef?: { kind: string; namespace: string; name: string; uid: string };
  nodeName?: string;
  hostname?: string;
}

export interface EndpointPort {
  name?: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface EndpointSliceObject extends KubeObject {
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints: Endpoint[];
  ports: EndpointPort[];
}

/** One change, as a watch streams it. */
export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: KubeObject;
  /** The store's resourceVersion after this change, as a number (the wire form is its string). */
  readonly rv: number;
}
