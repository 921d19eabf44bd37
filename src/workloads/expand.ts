/**
 * A workload -> its Pods, as its controller would make them: one per
 * replica (a DaemonSet: one, for the one node), named as the controller
 * names them (pod-names.ts), with the labels the controller adds and, for a
 * StatefulSet, hostname = Pod name and subdomain = spec.serviceName, so a
 * headless Service gives each Pod a DNS name. Pure: addresses of the pod
 * range are given later (state/pod-addresses.ts); a WorkloadBinding's
 * Pods come with the addresses it names (or that its DNS name resolved to).
 *
 * Readiness: the template's readinessProbe, as in a cluster; without one,
 * svcproxy adds a TCP connect to the first TCP container port (documented
 * deviation: in a cluster a started container is ready, but here nothing
 * says a process was started at the Pod's address until it answers).
 */
import type { ConfigNote, ContainerPortSpec, PodSpec, ProbeSpec, WorkloadBindingSpec, WorkloadSpec } from '../config/types.js';
import { formatSource } from '../config/types.js';
import { encodeHash, generatedName, nameSuffix, podHostname } from './pod-names.js';

/** Timing of the probe svcproxy adds to a Pod without a readinessProbe: the kubelet's defaults, but every 2 s, so a process started by hand is in the rotation soon. */
export const IMPLICIT_PROBE_TIMING = { initialDelaySeconds: 0, periodSeconds: 2, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 } as const;

/** A removed Pod stays terminating at most this long, whatever its terminationGracePeriodSeconds (it holds an address and a probe). */
export const MAX_GRACE_SECONDS = 600;

/** At most this many Pods from the addresses one DNS name resolves to. */
export const MAX_RESOLVED_PODS = 64;

/** What a workload needs besides itself: its binding, if any, and what binding names resolved to. */
export interface ExpandInput {
  readonly binding: WorkloadBindingSpec | undefined;
  /** dnsName -> the addresses it resolves to now; a name not (yet) resolved is absent. */
  readonly resolved: ReadonlyMap<string, readonly string[]>;
}

export interface Expanded {
  /** The Pods; `address` is '' for those that need one of the pod range. */
  readonly pods: readonly PodSpec[];
  readonly notes: readonly ConfigNote[];
}

/** Where one Pod of a workload is: a replica index, or a bound address (with the port its first TCP container port is served on). */
interface Placement {
  readonly index: number;
  readonly address: string;
  readonly firstPort: number;
  /** What its name's suffix derives from. */
  readonly seed: string;
}

export function expandWorkload(workload: WorkloadSpec, input: ExpandInput): Expanded {
  const notes: ConfigNote[] = [];
  const note = (level: ConfigNote['level'], msg: string): void =>
    void notes.push({ level, msg, where: formatSource(workload.source), object: `${workload.kind} ${workload.namespace}/${workload.name}` });
  const placements = placementsOf(workload, input, note);
  const hash = encodeHash(workload.templateHash);
  const used = new Set<string>();
  const pods = placements.map((place, i) => {
    const name = podName(workload, hash, place, i, used);
    used.add(name);
    return makePod(workload, { name, hash, ordinal: workload.ordinalStart + i }, place, input.binding);
  });
  return { pods, notes };
}

function placementsOf(workload: WorkloadSpec, input: ExpandInput, note: (level: ConfigNote['level'], msg: string) => void): Placement[] {
  const binding = input.binding;
  if (binding === undefined) return Array.from({ length: workload.replicas }, (_, index) => ({ index, address: '', firstPort: 0, seed: String(index) }));
  if (binding.dnsName === '') return binding.addresses.map((a, index) => ({ index, address: a.host, firstPort: a.port, seed: `${a.host}:${a.port}` }));
  const resolved = input.resolved.get(binding.dnsName);
  const bound = `WorkloadBinding ${binding.namespace}/${binding.name}`;
  if (resolved === undefined) {
    note('info', `${bound}: ${binding.dnsName} is not resolved yet; its Pods appear when it is (one per address)`);
    return [];
  }
  if (resolved.length === 0) note('warn', `${bound}: ${binding.dnsName} resolves to no address; the workload has no Pod`);
  if (resolved.length > MAX_RESOLVED_PODS)
    note('warn', `${bound}: ${binding.dnsName} resolves to ${resolved.length} addresses; the first ${MAX_RESOLVED_PODS} are used`);
  return resolved.slice(0, MAX_RESOLVED_PODS).map((address, index) => ({ index, address, firstPort: binding.dnsPort, seed: address }));
}

/** The controller's name for one Pod; a suffix that two Pods would share is derived again. */
function podName(workload: WorkloadSpec, hash: string, place: Placement, i: number, used: ReadonlySet<string>): string {
  if (workload.kind === 'StatefulSet') return `${workload.name}-${workload.ordinalStart + i}`;
  const owner = workload.kind === 'Deployment' ? `${workload.name}-${hash}` : workload.name;
  let seed = `${workload.kind}/${workload.namespace}/${owner}/${workload.templateHash}/${place.seed}`;
  let name = generatedName(owner, nameSuffix(seed));
  while (used.has(name)) {
    seed += '#';
    name = generatedName(owner, nameSuffix(seed));
  }
  return name;
}

/** The labels the controller adds to the template's. */
function controllerLabels(workload: WorkloadSpec, name: string, hash: string, ordinal: number): Record<string, string> {
  switch (workload.kind) {
    case 'Deployment':
      return { 'pod-template-hash': hash };
    case 'StatefulSet':
      return {
        'controller-revision-hash': `${workload.name}-${hash}`,
        'statefulset.kubernetes.io/pod-name': name,
        'apps.kubernetes.io/pod-index': String(ordinal),
      };
    case 'DaemonSet':
      return { 'controller-revision-hash': hash };
    case 'ReplicaSet':
    case 'ReplicationController':
      return {};
  }
}

/** Which replica a Pod is: its name, the template hash its labels carry, its StatefulSet ordinal. */
interface PodIdentity {
  readonly name: string;
  readonly hash: string;
  readonly ordinal: number;
}

function makePod(workload: WorkloadSpec, { name, hash, ordinal }: PodIdentity, place: Placement, binding: WorkloadBindingSpec | undefined): PodSpec {
  const { template } = workload;
  const served = servedPorts(template.ports, binding, place.firstPort);
  const ports: ContainerPortSpec[] = template.ports.map((p) => ({ ...p, servedPort: served.get(p.port) ?? p.port }));
  const serve = (port: number): number => served.get(port) ?? port;
  const first = ports.find((p) => p.protocol === 'TCP');
  const implicit = template.probes.length === 0 && first !== undefined;
  const probes: ProbeSpec[] = implicit
    ? [{ container: first.container, kind: 'tcpSocket', port: { port: first.servedPort, name: first.name }, host: '', ...IMPLICIT_PROBE_TIMING }]
    : template.probes.map((probe) => mapProbe(probe, serve));
  const sts = workload.kind === 'StatefulSet';
  return {
    kind: 'Pod',
    namespace: workload.namespace,
    name,
    source: workload.source,
    labels: { ...template.labels, ...controllerLabels(workload, name, hash, ordinal) },
    address: place.address,
    terminating: false,
    finished: false,
    hostname: sts ? podHostname(name) : template.hostname,
    subdomain: sts ? workload.serviceName : template.subdomain,
    ports,
    probes,
    owner: { kind: workload.kind, name: workload.name, binding: binding?.name ?? '' },
    gracePeriodSeconds: Math.min(template.gracePeriodSeconds, MAX_GRACE_SECONDS),
    implicitProbe: implicit,
  };
}

/**
 * Container port number -> the port its process serves it on, for a bound
 * Pod: the binding's `ports` (by name or number), then the port given with
 * the Pod's address for the first TCP container port.
 */
function servedPorts(ports: readonly ContainerPortSpec[], binding: WorkloadBindingSpec | undefined, firstPort: number): Map<number, number> {
  const out = new Map<number, number>();
  if (binding === undefined) return out;
  for (const [key, port] of Object.entries(binding.ports)) {
    const declared = /^\d+$/.test(key) ? ports.find((p) => p.port === Number(key)) : ports.find((p) => p.name === key);
    if (declared !== undefined) out.set(declared.port, port);
  }
  const first = ports.find((p) => p.protocol === 'TCP');
  if (first !== undefined && firstPort !== 0) out.set(first.port, firstPort);
  return out;
}

/** A template probe with its ports moved where a bound Pod serves them. */
function mapProbe(probe: ProbeSpec, serve: (port: number) => number): ProbeSpec {
  switch (probe.kind) {
    case 'tcpSocket':
    case 'httpGet':
      return { ...probe, port: { ...probe.port, port: serve(probe.port.port) } };
    case 'grpc':
      return { ...probe, port: serve(probe.port) };
    case 'exec':
      return probe.fallbackPort === undefined ? probe : { ...probe, fallbackPort: { ...probe.fallbackPort, port: serve(probe.fallbackPort.port) } };
  }
}
