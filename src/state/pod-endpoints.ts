/**
 * The EndpointSlice controller's job, for Services with a selector: every
 * Pod of the namespace whose labels match the selector becomes an endpoint
 * of each Service port, at the port the targetPort names in *that* Pod.
 */
import type { ConfigNote, PodSpec, ProbeSpec, ServicePortSpec, ServiceSpec } from '../config/types.js';
import { formatSource } from '../config/types.js';
import { podConditions } from './endpoints.js';
import type { EndpointPlan } from './types.js';

/** Equality-based selector: every pair must be present in the labels. */
export function selects(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/**
 * FindPort (pkg/api/v1/pod/util.go): a number is used as is; a name is the
 * first container port with that name *and* the Service port's protocol.
 * The port dialled is where the Pod's process serves that container port:
 * the same number, unless a WorkloadBinding maps it (servedPort).
 */
export function findPort(pod: PodSpec, servicePort: ServicePortSpec): number | undefined {
  const { targetPort, protocol } = servicePort;
  if (targetPort.kind === 'number') return pod.ports.find((p) => p.port === targetPort.port && p.protocol === protocol)?.servedPort ?? targetPort.port;
  return pod.ports.find((p) => p.name === targetPort.name && p.protocol === protocol)?.servedPort;
}

/** A probe svcproxy can run: all but an exec probe of a container without a port to connect to instead. */
export function isRunnable(probe: ProbeSpec): boolean {
  return probe.kind !== 'exec' || probe.fallbackPort !== undefined;
}

/** A Pod svcproxy probes: one with a runnable readiness probe. */
export function isProbed(pod: PodSpec): boolean {
  return pod.probes.some(isRunnable);
}

/** The Pods a Service selects: same namespace, labels matching, not finished. */
export function selectedPods(pods: readonly PodSpec[], service: ServiceSpec): PodSpec[] {
  const selector = service.selector;
  if (selector === undefined) return [];
  return pods.filter((p) => p.namespace === service.namespace && !p.finished && selects(selector, p.labels));
}

/**
 * The Pod's DNS name under `service`: `spec.hostname` when `spec.subdomain`
 * names the Service (the EndpointSlice controller's ShouldSetHostname).
 */
export function podHostname(pod: PodSpec, service: Pick<ServiceSpec, 'name' | 'namespace'>): string {
  return pod.hostname !== '' && pod.subdomain === service.name && pod.namespace === service.namespace ? pod.hostname : '';
}

export function podEndpoints(pods: readonly PodSpec[], service: ServiceSpec, servicePort: ServicePortSpec, notes: ConfigNote[]): EndpointPlan[] {
  const out: EndpointPlan[] = [];
  for (const pod of pods) {
    const port = findPort(pod, servicePort);
    if (port === undefined) {
      notes.push({
        level: 'debug',
        msg: `Pod has no ${servicePort.protocol} container port named "${servicePort.targetPort.kind === 'name' ? servicePort.targetPort.name : ''}"; left out of Service port ${servicePort.name || servicePort.port}`,
        where: formatSource(pod.source),
        object: `Pod ${pod.namespace}/${pod.name}`,
      });
      continue;
    }
    const probed = isProbed(pod);
    // Without a probe the Pod is ready; a probed Pod starts not ready until its first success.
    const conditions = podConditions(!probed, pod.terminating, service.publishNotReadyAddresses);
    out.push({ host: pod.address, port, ...conditions, source: 'Pod', pod: `${pod.namespace}/${pod.name}`, hostname: podHostname(pod, service), probed });
  }
  return out;
}
