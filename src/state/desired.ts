/**
 * ConfigSnapshot -> DesiredState: one ServicePortPlan per proxied Service
 * port and one ListenerPlan per socket to bind (clusterIP or bind address in
 * each family, nodePort, load balancer and external IPs), plus the rules
 * that need the bind addresses to check (two ports on one address, port and
 * protocol). Pure: the local-address test and the previous nodePort
 * allocations come in as arguments.
 */
import { ipFamily } from '../config/fields.js';
import {
  formatSource,
  type ConfigIssue,
  type ConfigNote,
  type ConfigSnapshot,
  type Protocol,
  type ServicePortSpec,
  type ServiceSpec,
} from '../config/types.js';
import { declaredEndpoints } from './endpoints.js';
import { faultPlans } from './faults.js';
import { listenAddresses } from './listen-addresses.js';
import { NodePortAllocator, nodePortKey } from './node-ports.js';
import { isProbed, isRunnable, podEndpoints, selectedPods } from './pod-endpoints.js';
import {
  hostPort,
  listenerKey,
  servicePortKey,
  type DesiredState,
  type ListenerKey,
  type ListenerPlan,
  type PodProbePlan,
  type ServicePortKey,
  type ServicePortPlan,
  type ServicePortPolicy,
} from './types.js';

export interface ListenEnvironment {
  /** Where a Service listens when it has no usable clusterIP (`--bind-address`). */
  readonly bindAddress: string;
  /** Where nodePorts listen (`--node-address`, default the bind address). */
  readonly nodeAddress?: string;
  /** True when `ip` is an address of this machine (all of 127.0.0.0/8 is, on Linux). */
  readonly isLocalAddress: (ip: string) => boolean;
  /** Sockets svcproxy holds for itself (the admin server), which no Service may take. */
  readonly reserved: readonly { readonly address: string; readonly port: number; readonly what: string }[];
  /** nodePorts allocated by the running state, kept across reloads. */
  readonly previousNodePorts?: ReadonlyMap<string, number>;
  /** false: plan no UDP listeners (a cluster worker other than the first; see workers.ts). */
  readonly udp?: boolean;
}

export interface DesiredResult {
  readonly state: DesiredState;
  readonly issues: readonly ConfigIssue[];
  readonly notes: readonly ConfigNote[];
}

interface Owner {
  readonly address: string;
  readonly label: string;
}

/** Everything one run of desiredState() accumulates. */
interface Build {
  readonly servicePorts: Map<ServicePortKey, ServicePortPlan>;
  readonly listeners: Map<ListenerKey, ListenerPlan>;
  readonly probes: Map<string, PodProbePlan>;
  readonly issues: ConfigIssue[];
  readonly notes: ConfigNote[];
  readonly owners: Map<string, Owner[]>; // `${protocol}/${port}` -> who binds it
  readonly nodePorts: NodePortAllocator;
}

/**
 * Two binds collide when the addresses are equal or one is the wildcard of
 * the other's family (`0.0.0.0` takes every IPv4 address; `::` is bound
 * IPv6-only, so it takes every IPv6 address and no IPv4 one).
 */
function overlaps(a: string, b: string): boolean {
  if (a === b) return true;
  const wildcard = (w: string, other: string): boolean => (w === '0.0.0.0' && ipFamily(other) === 4) || (w === '::' && ipFamily(other) === 6);
  return wildcard(a, b) || wildcard(b, a);
}

export function desiredState(snapshot: ConfigSnapshot, env: ListenEnvironment): DesiredResult {
  const build: Build = {
    servicePorts: new Map(),
    listeners: new Map(),
    probes: new Map(),
    issues: [],
    notes: [],
    owners: new Map(),
    nodePorts: new NodePortAllocator(env.previousNodePorts ?? new Map()),
  };
  for (const r of env.reserved) {
    build.owners.set(`TCP/${r.port}`, [{ address: r.address, label: `the ${r.what} (${hostPort(r.address, r.port)})` }]);
  }
  for (const service of snapshot.services) {
    for (const port of service.ports) if (port.nodePort !== 0) build.nodePorts.reserve(port.nodePort, port.protocol);
  }
  for (const service of snapshot.services) addService(build, snapshot, service, env);
  noteUnrunProbes(build, snapshot);
  const { servicePorts, listeners, probes, issues, notes } = build;
  const faults = faultPlans(snapshot.faults, servicePorts, snapshot.pods, notes);
  return { state: { servicePorts, listeners, probes, nodePorts: build.nodePorts.allocated, faults }, issues, notes };
}

function addService(build: Build, snapshot: ConfigSnapshot, service: ServiceSpec, env: ListenEnvironment): void {
  const where = formatSource(service.source);
  const object = `Service ${service.namespace}/${service.name}`;
  const note = (level: ConfigNote['level'], msg: string): void => {
    build.notes.push({ level, msg, where, object });
  };
  const skip = skipReason(service);
  if (skip !== undefined) {
    note('info', `not proxied: ${skip}`);
    return;
  }
  const pods = selectedPods(snapshot.pods, service);
  if (service.selector !== undefined && pods.length === 0) {
    const selector = Object.entries(service.selector).map(([k, v]) => `${k}=${v}`).join(',');
    note('warn', `selector ${selector} matches no Pod; the Service has no endpoints`);
  }
  const warned = new Set<string>();
  const warnOnce = (msg: string): void => {
    if (!warned.has(msg)) note('warn', msg);
    warned.add(msg);
  };
  service.ports.forEach((port, i) => {
    if (port.protocol === 'SCTP') {
      note('warn', `spec.ports[${i}]: SCTP is not supported; no listener`);
      return;
    }
    const key = servicePortKey(service.namespace, service.name, port.name);
    const nodePort = resolveNodePort(build, service, port, key, note);
    // A Service with a selector ignores hand-written Endpoints for itself, as Kubernetes does.
    const endpoints = service.selector === undefined ? declaredEndpoints(snapshot, service, port) : podEndpoints(pods, service, port, build.notes);
    for (const e of endpoints) if (e.probed) addProbe(build.probes, snapshot, e.pod, `${service.namespace}/${service.name}`);
    build.servicePorts.set(key, {
      key,
      namespace: service.namespace,
      service: service.name,
      portName: port.name,
      port: port.port,
      protocol: port.protocol,
      targetPort: port.targetPort.kind === 'number' ? String(port.targetPort.port) : port.targetPort.name,
      endpoints,
      publishNotReadyAddresses: service.publishNotReadyAddresses,
      nodePort,
      policy: policyOf(service),
    });
    const nodeAddress = env.nodeAddress ?? env.bindAddress;
    const addresses = port.protocol === 'UDP' && env.udp === false ? [] : listenAddresses(service, port.port, nodePort, { ...env, nodeAddress }, warnOnce);
    for (const l of addresses) {
      const label = `${object} spec.ports[${i}] (${l.role} ${hostPort(l.address, l.port)}/${port.protocol})`;
      const clash = claim(build.owners, port.protocol, l.address, l.port, label);
      if (clash !== undefined) {
        build.issues.push({
          where,
          object,
          path: l.role === 'nodePort' ? `spec.ports[${i}].nodePort` : `spec.ports[${i}]`,
          message: `Duplicate value: "${hostPort(l.address, l.port)}/${port.protocol}": would listen on the same address, port and protocol as ${clash}`,
        });
        continue;
      }
      const lkey = listenerKey(port.protocol, l.address, l.port);
      build.listeners.set(lkey, { key: lkey, servicePort: key, protocol: port.protocol, address: l.address, port: l.port, role: l.role });
    }
  });
}

/** The written nodePort, or an allocated one (logged) for NodePort and LoadBalancer Services. */
function resolveNodePort(
  build: Build,
  service: ServiceSpec,
  port: ServicePortSpec,
  key: ServicePortKey,
  note: (level: ConfigNote['level'], msg: string) => void,
): number {
  if (service.type !== 'NodePort' && service.type !== 'LoadBalancer') return 0;
  if (port.nodePort !== 0) return port.nodePort;
  const allocated = build.nodePorts.allocate(nodePortKey(key, port.protocol), port.protocol);
  if (allocated === undefined) note('warn', `port ${port.port}/${port.protocol}: no free nodePort left in the range`);
  else note('info', `port ${port.port}/${port.protocol}: allocated nodePort ${allocated}`);
  return allocated ?? 0;
}

function policyOf(service: ServiceSpec): ServicePortPolicy {
  return {
    ...service.options,
    sourceRanges: service.sourceRanges,
    affinityTimeoutSeconds: service.sessionAffinity === 'ClientIP' ? service.affinityTimeoutSeconds : 0,
  };
}

function noteUnrunProbes(build: Build, snapshot: ConfigSnapshot): void {
  for (const pod of snapshot.pods) {
    for (const probe of pod.probes) {
      if (probe.kind !== 'exec') continue;
      const port = probe.fallbackPort;
      build.notes.push({
        level: 'warn',
        msg:
          port === undefined
            ? `container ${probe.container}: an exec readiness probe cannot run here and the container declares no port to connect to instead; it counts as ready`
            : `container ${probe.container}: an exec readiness probe cannot run here; svcproxy connects to its port ${port.name === '' ? port.port : `${port.name} (${port.port})`} instead`,
        where: formatSource(pod.source),
        object: `Pod ${pod.namespace}/${pod.name}`,
      });
    }
  }
}

/** Records that a probed Pod backs a Service (one probe plan per Pod, whatever the number of Services). */
function addProbe(probes: Map<string, PodProbePlan>, snapshot: ConfigSnapshot, podKey: string, service: string): void {
  const existing = probes.get(podKey);
  if (existing !== undefined) {
    if (!existing.services.includes(service)) probes.set(podKey, { ...existing, services: [...existing.services, service] });
    return;
  }
  const pod = snapshot.pods.find((p) => `${p.namespace}/${p.name}` === podKey);
  if (pod === undefined || !isProbed(pod)) return;
  const runnable = pod.probes.filter(isRunnable);
  probes.set(podKey, { pod: podKey, address: pod.address, probes: runnable, services: [service] });
}

/** Registers a bind; returns who already holds an overlapping one, if anyone. */
function claim(owners: Map<string, Owner[]>, protocol: Protocol, address: string, port: number, label: string): string | undefined {
  const id = `${protocol}/${port}`;
  const list = owners.get(id) ?? [];
  const clash = list.find((o) => overlaps(o.address, address));
  if (clash !== undefined) return clash.label;
  list.push({ address, label });
  owners.set(id, list);
  return undefined;
}

/** Valid Kubernetes that kube-proxy does not proxy either. */
function skipReason(service: ServiceSpec): string | undefined {
  if (service.type === 'ExternalName') return 'type ExternalName is answered by DNS, not by a proxy';
  if (service.clusterIP === 'None') return 'headless Service (clusterIP: None)';
  return undefined;
}
