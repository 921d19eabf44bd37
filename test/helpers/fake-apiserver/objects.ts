/**
 * What a test writes to create a Service or a Pod, and the object the API server would store for it:
 * the defaults the real server fills in (clusterIP, ipFamilies, sessionAffinity, protocol TCP,
 * targetPort = port) and the status a kubelet would report for a running Pod.
 */
import type { ContainerPort, NewObject, PodObject, ServicePort } from './types.js';

export interface ServiceInput {
  readonly namespace: string;
  readonly name: string;
  /** Absent: a Service without selector (no EndpointSlices are managed for it). */
  readonly selector?: Record<string, string>;
  readonly ports?: ReadonlyArray<{
    readonly name?: string;
    readonly port: number;
    readonly targetPort?: number | string;
    readonly protocol?: ServicePort['protocol'];
    readonly nodePort?: number;
  }>;
  readonly type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  /** 'None' for a headless Service. Default: the next free address of 10.96.0.0/16. */
  readonly clusterIP?: string;
  readonly externalName?: string;
  readonly labels?: Record<string, string>;
  readonly publishNotReadyAddresses?: boolean;
}

export function serviceObject(input: ServiceInput, allocatedIp: string): NewObject {
  const type = input.type ?? 'ClusterIP';
  const ports: ServicePort[] = (input.ports ?? []).map((p) => ({
    ...(p.name === undefined ? {} : { name: p.name }),
    protocol: p.protocol ?? 'TCP',
    port: p.port,
    targetPort: p.targetPort ?? p.port,
    ...(p.nodePort === undefined ? {} : { nodePort: p.nodePort }),
  }));
  const spec: Record<string, unknown> =
    type === 'ExternalName'
      ? { type, externalName: input.externalName ?? '', sessionAffinity: 'None', ...(ports.length > 0 ? { ports } : {}) }
      : {
          type,
          ...(input.selector === undefined ? {} : { selector: input.selector }),
          ports,
          clusterIP: input.clusterIP ?? allocatedIp,
          clusterIPs: [input.clusterIP ?? allocatedIp],
          ipFamilies: ['IPv4'],
          ipFamilyPolicy: 'SingleStack',
          sessionAffinity: 'None',
          internalTrafficPolicy: 'Cluster',
          ...(input.publishNotReadyAddresses === true ? { publishNotReadyAddresses: true } : {}),
          ...(type === 'ClusterIP' ? {} : { externalTrafficPolicy: 'Cluster' }),
        };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: input.namespace, name: input.name, ...(input.labels === undefined ? {} : { labels: input.labels }) },
    spec,
    status: { loadBalancer: {} },
  };
}

export interface PodInput {
  readonly namespace: string;
  /** Absent: `generateName` from `generateName` (default 'pod-'). */
  readonly name?: string;
  readonly generateName?: string;
  readonly labels?: Record<string, string>;
  /** The Pod IP; absent: the next loopback address of the cluster's Pod range. */
  readonly ip?: string;
  /** Default true (Running and Ready). */
  readonly ready?: boolean;
  readonly containerPorts?: ReadonlyArray<{ readonly name?: string; readonly containerPort: number; readonly protocol?: ContainerPort['protocol'] }>;
  readonly hostname?: string;
  readonly subdomain?: string;
  readonly nodeName?: string;
}

const nowStamp = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** The conditions and container statuses of a running Pod whose readiness is `ready`. */
export function podStatus(ip: string, ready: boolean, startTime: string): PodObject['status'] {
  const now = nowStamp();
  const flag = ready ? 'True' : 'False';
  return {
    phase: 'Running',
    hostIP: '127.0.0.1',
    hostIPs: [{ ip: '127.0.0.1' }],
    podIP: ip,
    podIPs: [{ ip }],
    startTime,
    qosClass: 'BestEffort',
    conditions: [
      { type: 'PodReadyToStartContainers', status: 'True', lastTransitionTime: startTime },
      { type: 'Initialized', status: 'True', lastTransitionTime: startTime },
      { type: 'Ready', status: flag, lastTransitionTime: now },
      { type: 'ContainersReady', status: flag, lastTransitionTime: now },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: startTime },
    ],
    containerStatuses: [
      {
        name: 'app',
        image: 'registry.k8s.io/e2e-test-images/agnhost:2.52',
        imageID: '',
        containerID: 'containerd://fake',
        ready,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: startTime } },
      },
    ],
  };
}

export function podObject(input: PodInput, ip: string): NewObject {
  const ports = (input.containerPorts ?? []).map((p) => ({
    ...(p.name === undefined ? {} : { name: p.name }),
    containerPort: p.containerPort,
    protocol: p.protocol ?? 'TCP',
  }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace: input.namespace,
      ...(input.name === undefined ? { generateName: input.generateName ?? 'pod-' } : { name: input.name }),
      ...(input.labels === undefined ? {} : { labels: input.labels }),
    },
    spec: {
      containers: [{ name: 'app', image: 'registry.k8s.io/e2e-test-images/agnhost:2.52', ...(ports.length > 0 ? { ports } : {}) }],
      nodeName: input.nodeName ?? 'fake-node',
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      ...(input.hostname === undefined ? {} : { hostname: input.hostname }),
      ...(input.subdomain === undefined ? {} : { subdomain: input.subdomain }),
    },
    status: podStatus(ip, input.ready ?? true, nowStamp()),
  };
}
