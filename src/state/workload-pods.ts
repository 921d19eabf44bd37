/**
 * The Pods of the workloads, with their addresses and their lifecycle
 * across reloads. Pure: the previous Pods, what binding names resolved to
 * and the time come in as arguments.
 *
 * - Each workload's Pods come from the workloads room (names, labels,
 *   probes); each Pod without a bound address gets one of the pod range
 *   (`--pod-cidr`), keyed by `namespace/name`: the address it had before
 *   while it exists, so reloads never move a Pod (address-allocator.ts).
 * - A Pod the config no longer makes (replicas lowered, template changed,
 *   workload removed) is removed as a cluster removes it: it stays, marked
 *   terminating (its endpoints serving+terminating, not ready), for its
 *   terminationGracePeriodSeconds, then it is gone. Established connections
 *   are never cut by any of this.
 */
import { formatSource, type ConfigIssue, type ConfigNote, type ConfigSnapshot, type PodSpec } from '../config/types.js';
import { bindingOf } from '../config/workload-binding.js';
import { expandWorkload } from '../workloads/expand.js';
import { allocateAddresses, rangeContains, usableCount, type Ipv4Range } from './address-allocator.js';

/** The default `--pod-cidr`: a /16 of loopback apart from the service range and from 127.0.0.1 (after the 10.64/10.244 pod ranges of clusters). */
export const DEFAULT_POD_CIDR = '127.64.0.0/16';

/** At most this many removed Pods are kept terminating at once (each holds an address and a probe). */
export const MAX_TERMINATING_PODS = 1000;

/** A Pod made from a workload, as the running state keeps it. */
export interface OwnedPod {
  readonly pod: PodSpec;
  /** ms since the epoch when a removed Pod is gone; 0 while the config makes it. */
  readonly removeAt: number;
}

export interface PodEnvironment {
  readonly range: Ipv4Range;
  /** The running state's workload Pods (terminating ones included). */
  readonly previous: ReadonlyMap<string, OwnedPod>;
  /** WorkloadBinding dnsName -> its addresses now (absent: not resolved yet). */
  readonly resolved: ReadonlyMap<string, readonly string[]>;
  /** ms since the epoch. */
  readonly now: number;
  /** Addresses no Pod may be given (Service addresses, svcproxy's own binds). */
  readonly taken: ReadonlySet<string>;
}

export interface WorkloadPodsResult {
  /** Every workload Pod, wanted and terminating, keyed `namespace/name`. */
  readonly owned: ReadonlyMap<string, OwnedPod>;
  readonly issues: readonly ConfigIssue[];
  readonly notes: readonly ConfigNote[];
}

export function podKey(pod: Pick<PodSpec, 'namespace' | 'name'>): string {
  return `${pod.namespace}/${pod.name}`;
}

type PodSources = Pick<ConfigSnapshot, 'workloads' | 'bindings' | 'pods'>;

/** Every workload's Pods by key; a Pod whose name is taken (by a written Pod or another workload's) is an issue instead. */
function wantedPods(snapshot: PodSources, env: PodEnvironment, issues: ConfigIssue[], notes: ConfigNote[]): Map<string, PodSpec> {
  const written = new Map(snapshot.pods.map((p) => [podKey(p), p]));
  const wanted = new Map<string, PodSpec>();
  for (const workload of snapshot.workloads) {
    const expanded = expandWorkload(workload, { binding: bindingOf(snapshot.bindings, workload), resolved: env.resolved });
    notes.push(...expanded.notes);
    for (const pod of expanded.pods) {
      const key = podKey(pod);
      const clash = written.get(key) ?? wanted.get(key);
      if (clash !== undefined) {
        issues.push({
          where: formatSource(workload.source),
          object: `${workload.kind} ${workload.namespace}/${workload.name}`,
          path: 'metadata.name',
          message: `its Pod ${key} has the name of ${clash.owner === undefined ? `the Pod at ${formatSource(clash.source)}` : `a Pod of ${clash.owner.kind} ${clash.namespace}/${clash.owner.name}`}; rename one of them`,
        });
        continue;
      }
      wanted.set(key, pod);
    }
  }
  return wanted;
}

/** The Pods that are no longer wanted and still in their grace period, at most MAX_TERMINATING_PODS of them. */
function terminatingPods(wanted: ReadonlyMap<string, PodSpec>, env: PodEnvironment, notes: ConfigNote[]): Array<[string, OwnedPod]> {
  const leaving: Array<[string, OwnedPod]> = [];
  for (const [key, previous] of env.previous) {
    if (wanted.has(key)) continue;
    const removeAt = previous.removeAt !== 0 ? previous.removeAt : env.now + previous.pod.gracePeriodSeconds * 1000;
    if (removeAt > env.now) leaving.push([key, { pod: { ...previous.pod, terminating: true }, removeAt }]);
  }
  // Churn (a binding name whose answer keeps changing, edit after edit) must not pile up terminating Pods: the
  // ones due soonest go at once beyond the cap.
  leaving.sort(([, a], [, b]) => b.removeAt - a.removeAt);
  const room = MAX_TERMINATING_PODS;
  if (leaving.length > room) {
    notes.push({ level: 'warn', where: '', object: '', msg: `${leaving.length} Pods are terminating; beyond ${room}, those due soonest are removed now` });
  }
  return leaving.slice(0, room);
}

export function workloadPods(snapshot: PodSources, env: PodEnvironment): WorkloadPodsResult {
  const issues: ConfigIssue[] = [];
  const notes: ConfigNote[] = [];
  const wanted = wantedPods(snapshot, env, issues, notes);
  const owned = new Map<string, OwnedPod>();
  const taken = new Set(env.taken);
  for (const p of snapshot.pods) taken.add(p.address);
  for (const [key, o] of terminatingPods(wanted, env, notes)) {
    owned.set(key, o);
    taken.add(o.pod.address);
  }
  for (const pod of wanted.values()) if (pod.address !== '') taken.add(pod.address);
  const needing = [...wanted.values()].filter((p) => p.address === '');
  const previousAddresses = new Map<string, string>();
  for (const [key, o] of env.previous) if (o.pod.owner?.binding === '' && rangeContains(env.range, o.pod.address)) previousAddresses.set(key, o.pod.address);
  const allocation = allocateAddresses({ range: env.range, names: needing.map(podKey), previous: previousAddresses, taken });
  if (!allocation.ok) {
    const usable = usableCount(env.range);
    const message =
      `${allocation.needed} Pods need an address of the pod range ${env.range.cidr}, which has ${usable} usable addresses` +
      (allocation.free < usable ? ` (${usable - allocation.free} taken by other addresses)` : '') +
      '; give --pod-cidr a larger range';
    return { owned: new Map(), issues: [...issues, { where: '--pod-cidr', object: '', path: '', message }], notes };
  }
  for (const [key, pod] of wanted) {
    const address = pod.address !== '' ? pod.address : (allocation.addresses.get(key) ?? '');
    owned.set(key, { pod: { ...pod, address }, removeAt: 0 });
  }
  return { owned, issues, notes };
}

/** When the next terminating Pod is gone (ms since the epoch), or undefined when none is terminating. */
export function nextRemoval(owned: ReadonlyMap<string, OwnedPod>): number | undefined {
  let next: number | undefined;
  for (const o of owned.values()) if (o.removeAt !== 0 && (next === undefined || o.removeAt < next)) next = o.removeAt;
  return next;
}
