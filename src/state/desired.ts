/**
 * ConfigSnapshot -> DesiredState: one ServicePortPlan per proxied Service
 * port and one ListenerPlan per socket to bind (clusterIP or bind address in
 * each family, nodePort, load balancer and external IPs), plus the rules
 * that need the bind addresses to check (two ports on one address, port and
 * protocol). Pure: the local-address test and the previous nodePort
 * allocations come in as arguments.
 */
import { formatSource, type ConfigIssue, type ConfigNote, type ConfigSnapshot, type PodSpec, type ServicePortSpec, type ServiceSpec } from '../config/types.js';
import { parseLoopbackRange, type Ipv4Range } from './address-allocator.js';
import { adminEndpoints, declaredEndpoints } from './endpoints.js';
import { faultPlans } from './faults.js';
import { listenAddresses } from './listen-addresses.js';
import { decideLocalhost, overlaps, type BoundClaim, type LocalhostCandidate } from './localhost-rule.js';
import { NodePortAllocator, nodePortKey } from './node-ports.js';
import { podEndpoints, selectedPods, selects } from './pod-endpoints.js';
import { addProbe, noteUnrunProbes, podTable, probeHeadlessPods } from './pod-probes.js';
import { assignServiceAddresses, DEFAULT_SERVICE_CIDR, hasClusterAddress, serviceKey, type ServiceAddress } from './service-addresses.js';
import { serviceInfo } from './service-info.js';
import { DEFAULT_POD_CIDR, workloadPods, type OwnedPod } from './workload-pods.js';
import {
  hostPort,
  listenerKey,
  servicePortKey,
  type DesiredState,
  type EndpointPlan,
  type ListenerKey,
  type ListenerPlan,
  type PodProbePlan,
  type ServedAddress,
  type ServiceInfo,
  type ServicePortKey,
  type ServicePortPlan,
  type ServicePortPolicy,
} from './types.js';

export interface ListenEnvironment {
  /** Where Service ports are also published when the localhost rule allows (`--bind-address`). */
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
  /** `--service-cidr`: where Services without a local clusterIP get their address (default DEFAULT_SERVICE_CIDR). */
  readonly serviceRange?: Ipv4Range;
  /** Service addresses of the running state, kept across reloads. */
  readonly previousAddresses?: ReadonlyMap<string, string>;
  /** `--pod-cidr`: where workload Pods get their addresses (default DEFAULT_POD_CIDR). */
  readonly podRange?: Ipv4Range;
  /** The running state's workload Pods: their addresses are kept, and removed ones terminate from here. */
  readonly previousOwnedPods?: ReadonlyMap<string, OwnedPod>;
  /** What WorkloadBinding DNS names resolve to now. */
  readonly resolved?: ReadonlyMap<string, readonly string[]>;
  /** ms since the epoch: when removed Pods start (and end) terminating. */
  readonly now?: number;
}

export interface DesiredResult {
  readonly state: DesiredState;
  readonly issues: readonly ConfigIssue[];
  readonly notes: readonly ConfigNote[];
}

/** A bind-address candidate and where its messages go. */
interface PendingCandidate extends LocalhostCandidate {
  readonly where: string;
  readonly object: string;
  readonly index: number;
  readonly role: 'bindAddress';
}

/** Everything one run of desiredState() accumulates. */
interface Build {
  readonly servicePorts: Map<ServicePortKey, ServicePortPlan>;
  readonly listeners: Map<ListenerKey, ListenerPlan>;
  readonly probes: Map<string, PodProbePlan>;
  readonly issues: ConfigIssue[];
  readonly notes: ConfigNote[];
  readonly owners: Map<string, BoundClaim[]>; // `${protocol}/${port}` -> who binds it
  readonly candidates: PendingCandidate[];
  readonly nodePorts: NodePortAllocator;
}

const DEFAULT_RANGE = parseLoopbackRange(DEFAULT_SERVICE_CIDR) as Ipv4Range;
const DEFAULT_POD_RANGE = parseLoopbackRange(DEFAULT_POD_CIDR) as Ipv4Range;

export function desiredState(written: ConfigSnapshot, env: ListenEnvironment): DesiredResult {
  const build: Build = {
    servicePorts: new Map(),
    listeners: new Map(),
    probes: new Map(),
    issues: [],
    notes: [],
    owners: new Map(),
    candidates: [],
    nodePorts: new NodePortAllocator(env.previousNodePorts ?? new Map()),
  };
  for (const r of env.reserved) {
    build.owners.set(`TCP/${r.port}`, [
      { owner: '', protocol: 'TCP', address: r.address, port: r.port, role: 'clusterIP', label: `the ${r.what} (${hostPort(r.address, r.port)})` },
    ]);
  }
  for (const service of written.services) {
    for (const port of service.ports) if (port.nodePort !== 0) build.nodePorts.reserve(port.nodePort, port.protocol);
  }
  const reserved = [env.bindAddress, env.nodeAddress ?? env.bindAddress, ...env.reserved.map((r) => r.address)];
  const assigned = assignServiceAddresses(written.services, {
    range: env.serviceRange ?? DEFAULT_RANGE,
    isLocalAddress: env.isLocalAddress,
    previous: env.previousAddresses ?? new Map(),
    reserved,
  });
  build.issues.push(...assigned.issues);
  build.notes.push(...assigned.notes);
  const workload = workloadPods(written, {
    range: env.podRange ?? DEFAULT_POD_RANGE,
    previous: env.previousOwnedPods ?? new Map(),
    resolved: env.resolved ?? new Map(),
    now: env.now ?? 0,
    taken: new Set([...reserved, ...[...assigned.addresses.values()].map((a) => a.ipv4)]),
  });
  build.issues.push(...workload.issues);
  build.notes.push(...workload.notes);
  // From here on, the Pods of workloads are Pods like any other.
  const snapshot: ConfigSnapshot = { ...written, pods: [...written.pods, ...[...workload.owned.values()].map((o) => o.pod)] };
  for (const service of snapshot.services) {
    const address = assigned.addresses.get(serviceKey(service));
    if (address !== undefined || !hasClusterAddress(service)) addService(build, snapshot, service, env, address);
  }
  probeHeadlessPods(build.probes, snapshot);
  const localhost = applyLocalhostRule(build);
  noteUnrunProbes(build.notes, snapshot);
  const services = new Map<string, ServiceInfo>();
  for (const service of snapshot.services) {
    const address = assigned.addresses.get(serviceKey(service));
    services.set(serviceKey(service), serviceInfo(snapshot, service, address, portInfos(build, service, localhost)));
  }
  const serviceAddresses = new Map([...assigned.addresses].map(([key, a]) => [key, a.ipv4]));
  const { servicePorts, listeners, probes, issues, notes } = build;
  const faults = faultPlans(snapshot.faults, servicePorts, snapshot.pods, notes);
  const pods = podTable(snapshot, workload.owned);
  return {
    state: { servicePorts, listeners, probes, nodePorts: build.nodePorts.allocated, services, serviceAddresses, faults, pods, ownedPods: workload.owned },
    issues,
    notes,
  };
}

function addService(build: Build, snapshot: ConfigSnapshot, service: ServiceSpec, env: ListenEnvironment, address: ServiceAddress | undefined): void {
  const where = formatSource(service.source);
  const object = `Service ${service.namespace}/${service.name}`;
  const note = (level: ConfigNote['level'], msg: string): void => {
    build.notes.push({ level, msg, where, object });
  };
  const skip = skipReason(service);
  if (skip !== undefined || address === undefined) {
    note('info', `not proxied: ${skip ?? 'no address'}`);
    return;
  }
  const pods = selectedPods(snapshot.pods, service);
  if (service.selector !== undefined && pods.length === 0) {
    const selector = Object.entries(service.selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const named = namedBy(snapshot, service);
    // Pods that come from a binding's DNS name when it resolves are not missing (--check does not resolve).
    if (named !== '') note('info', `selector ${selector} matches no Pod yet; its Pods are the addresses ${named} resolves to`);
    else note('warn', `selector ${selector} matches no Pod; the Service has no endpoints`);
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
    const endpoints = service.options.endpoints === 'admin' ? adminEndpoints(env.reserved) : writtenEndpoints(snapshot, pods, service, port, build.notes);
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
    if (port.protocol === 'UDP' && env.udp === false) return;
    const nodeAddress = env.nodeAddress ?? env.bindAddress;
    const { own, candidates } = listenAddresses({ service, address, port: port.port, nodePort }, { ...env, nodeAddress }, warnOnce);
    for (const l of own) {
      const label = `${object} spec.ports[${i}] (${l.role} ${hostPort(l.address, l.port)}/${port.protocol})`;
      const clash = claim(build.owners, { owner: key, protocol: port.protocol, address: l.address, port: l.port, role: l.role, label });
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
    for (const c of candidates) {
      build.candidates.push({
        owner: key,
        protocol: port.protocol,
        address: c.address,
        port: c.port,
        service: serviceKey(service),
        where,
        object,
        index: i,
        role: 'bindAddress',
      });
    }
  });
}

/** The DNS name of a binding whose workload's Pod template the Service selects, '' when none. */
/** A Service's endpoints as its manifests give them: hand-written when it has no selector, else its Pods. */
function writtenEndpoints(
  snapshot: ConfigSnapshot,
  pods: readonly PodSpec[],
  service: ServiceSpec,
  port: ServicePortSpec,
  notes: ConfigNote[],
): EndpointPlan[] {
  // A Service with a selector ignores hand-written Endpoints for itself, as Kubernetes does.
  return service.selector === undefined ? declaredEndpoints(snapshot, service, port) : podEndpoints(pods, service, port, notes);
}

function namedBy(snapshot: ConfigSnapshot, service: ServiceSpec): string {
  const selector = service.selector ?? {};
  for (const b of snapshot.bindings) {
    if (b.dnsName === '' || b.namespace !== service.namespace) continue;
    const w = snapshot.workloads.find((x) => x.namespace === b.namespace && x.kind === b.workload.kind && x.name === b.workload.name);
    if (w !== undefined && selects(selector, w.template.labels)) return b.dnsName;
  }
  return '';
}

/**
 * Publishes the candidates the localhost rule grants (see localhost-rule.ts)
 * and notes the others. Returns, per Service port key, why it is not on the
 * bind address.
 */
function applyLocalhostRule(build: Build): Map<string, string> {
  const bound = [...build.owners.values()].flat();
  const reasons = new Map<string, string>();
  for (const decision of decideLocalhost(build.candidates, bound)) {
    const c = decision.candidate as PendingCandidate;
    if (!decision.granted) {
      reasons.set(c.owner, decision.reason);
      build.notes.push({ level: 'info', msg: `spec.ports[${c.index}]: ${decision.reason}; it is served on its own address`, where: c.where, object: c.object });
      continue;
    }
    for (const covered of decision.covers) build.listeners.delete(listenerKey(covered.protocol as ServicePortPlan['protocol'], covered.address, covered.port));
    const key = listenerKey(c.protocol as ServicePortPlan['protocol'], c.address, c.port);
    build.listeners.set(key, {
      key,
      servicePort: c.owner as ServicePortKey,
      protocol: c.protocol as ServicePortPlan['protocol'],
      address: c.address,
      port: c.port,
      role: 'bindAddress',
    });
  }
  return reasons;
}

/** Every port of a Service with the addresses it is served on (listeners, and addresses a wildcard serves). */
function portInfos(build: Build, service: ServiceSpec, localhost: ReadonlyMap<string, string>) {
  return service.ports.map((port) => {
    const key = servicePortKey(service.namespace, service.name, port.name);
    const mine = [...build.listeners.values()].filter((l) => l.servicePort === key && l.protocol === port.protocol);
    const servedOn: ServedAddress[] = mine.map((l) => ({ address: hostPort(l.address, l.port), protocol: l.protocol, role: l.role, via: '' }));
    for (const own of [...build.owners.values()].flat()) {
      if (
        own.owner !== key ||
        own.protocol !== port.protocol ||
        own.role !== 'clusterIP' ||
        build.listeners.has(listenerKey(port.protocol, own.address, own.port))
      )
        continue;
      const wildcard = mine.find((l) => l.role === 'bindAddress' && l.port === own.port && overlaps(l.address, own.address));
      if (wildcard !== undefined)
        servedOn.push({ address: hostPort(own.address, own.port), protocol: port.protocol, role: 'clusterIP', via: hostPort(wildcard.address, wildcard.port) });
    }
    const order = ['clusterIP', 'bindAddress', 'nodePort', 'loadBalancer', 'externalIP'];
    servedOn.sort((a, b) => order.indexOf(a.role) - order.indexOf(b.role) || a.address.localeCompare(b.address));
    return {
      name: port.name,
      protocol: port.protocol,
      port: port.port,
      targetPort: port.targetPort.kind === 'number' ? String(port.targetPort.port) : port.targetPort.name,
      servedOn,
      localhost: localhost.get(key) ?? '',
    };
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

/** Registers a bind; returns who already holds an overlapping one, if anyone. */
function claim(owners: Map<string, BoundClaim[]>, bind: BoundClaim): string | undefined {
  const id = `${bind.protocol}/${bind.port}`;
  const list = owners.get(id) ?? [];
  const clash = list.find((o) => overlaps(o.address, bind.address));
  if (clash !== undefined) return clash.label;
  list.push(bind);
  owners.set(id, list);
  return undefined;
}

/** Valid Kubernetes that kube-proxy does not proxy either. */
function skipReason(service: ServiceSpec): string | undefined {
  if (service.type === 'ExternalName') return 'type ExternalName is answered by DNS, not by a proxy';
  if (service.clusterIP === 'None') return 'headless Service (clusterIP: None)';
  return undefined;
}
