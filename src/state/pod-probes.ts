/**
 * The Pods part of desiredState(): the Pods table, which Pods are probed and
 * for which Services, and the notes about probes that cannot run here. Pure.
 */
import { formatSource, type ConfigNote, type ConfigSnapshot } from '../config/types.js';
import { isProbed, isRunnable, selectedPods, selects } from './pod-endpoints.js';
import { podInfo } from './pod-info.js';
import { serviceKey } from './service-addresses.js';
import type { PodInfo, PodProbePlan } from './types.js';
import { podKey, type OwnedPod } from './workload-pods.js';

/** Every Pod for the Pods table, by key, with the Services that select it. */
export function podTable(snapshot: ConfigSnapshot, owned: ReadonlyMap<string, OwnedPod>): Map<string, PodInfo> {
  const rows = snapshot.pods.map((pod) => {
    const services = snapshot.services
      .filter((s) => s.selector !== undefined && s.namespace === pod.namespace && !pod.finished && selects(s.selector, pod.labels))
      .map((s) => serviceKey(s));
    return podInfo(pod, owned.get(podKey(pod)), services);
  });
  return new Map(rows.sort((a, b) => a.key.localeCompare(b.key)).map((r) => [r.key, r]));
}

/**
 * Pods behind a headless Service are probed too: it has no listener, but
 * DNS answers only its ready endpoints (a StatefulSet's per-Pod names).
 */
export function probeHeadlessPods(probes: Map<string, PodProbePlan>, snapshot: ConfigSnapshot): void {
  for (const service of snapshot.services) {
    if (service.clusterIP !== 'None' || service.type === 'ExternalName' || service.selector === undefined) continue;
    for (const pod of selectedPods(snapshot.pods, service)) {
      if (isProbed(pod)) addProbe(probes, snapshot, podKey(pod), serviceKey(service));
    }
  }
}

/** An exec probe cannot run here: a note says what counts instead (once per workload and container). */
export function noteUnrunProbes(notes: ConfigNote[], snapshot: ConfigSnapshot): void {
  const noted = new Set<string>();
  for (const pod of snapshot.pods) {
    for (const probe of pod.probes) {
      if (probe.kind !== 'exec') continue;
      // Once per workload and container, not once per replica.
      const once = pod.owner === undefined ? '' : `${pod.namespace}/${pod.owner.kind}/${pod.owner.name}/${probe.container}`;
      if (once !== '' && noted.has(once)) continue;
      noted.add(once);
      const port = probe.fallbackPort;
      notes.push({
        level: 'warn',
        msg:
          port === undefined
            ? `container ${probe.container}: an exec readiness probe cannot run here and the container declares no port to connect to instead; it counts as ready`
            : `container ${probe.container}: an exec readiness probe cannot run here; svcproxy connects to its port ${port.name === '' ? port.port : `${port.name} (${port.port})`} instead`,
        where: formatSource(pod.source),
        object: pod.owner === undefined ? `Pod ${pod.namespace}/${pod.name}` : `${pod.owner.kind} ${pod.namespace}/${pod.owner.name}`,
      });
    }
  }
}

/** Records that a probed Pod backs a Service (one probe plan per Pod, whatever the number of Services). */
export function addProbe(probes: Map<string, PodProbePlan>, snapshot: ConfigSnapshot, podKey: string, service: string): void {
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
