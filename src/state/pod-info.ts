/**
 * The table of Pods: where each Pod's process is expected (its address and
 * ports), what decides its readiness, and which Services it backs. `--check`
 * and the start-up log print it, /api/pods serves it with live readiness.
 * Pure.
 */
import type { PodSpec, ProbeSpec } from '../config/types.js';
import { isRunnable } from './pod-endpoints.js';
import { hostPort, type PodInfo } from './types.js';
import type { OwnedPod } from './workload-pods.js';

function portText(port: number, name: string): string {
  return name === '' ? `:${port}` : `:${port} (${name})`;
}

/** One probe as a short line: `httpGet http://:8080/healthz`, `tcpSocket :9080`, `grpc :9090 service foo`. */
export function describeProbe(probe: ProbeSpec): string {
  switch (probe.kind) {
    case 'tcpSocket':
      return `tcpSocket ${probe.host}${portText(probe.port.port, probe.port.name)}`;
    case 'httpGet':
      return `httpGet ${probe.scheme.toLowerCase()}://${probe.host}:${probe.port.port}${probe.path}`;
    case 'grpc':
      return `grpc :${probe.port}${probe.service === '' ? '' : ` service ${probe.service}`}`;
    case 'exec':
      return probe.fallbackPort === undefined
        ? 'exec (cannot run here; counted ready)'
        : `exec (cannot run here; connects to ${portText(probe.fallbackPort.port, probe.fallbackPort.name)} instead)`;
  }
}

/** What decides a Pod's readiness, in words. */
function readinessOf(pod: PodSpec): string {
  if (pod.implicitProbe) return `${pod.probes.map(describeProbe).join('; ')} (implied: no readinessProbe)`;
  if (pod.probes.length > 0) return pod.probes.map(describeProbe).join('; ');
  return pod.owner === undefined ? 'none: ready as written' : 'none: no TCP container port to connect to; ready';
}

export function podInfo(pod: PodSpec, owned: OwnedPod | undefined, services: readonly string[]): PodInfo {
  return {
    key: `${pod.namespace}/${pod.name}`,
    namespace: pod.namespace,
    name: pod.name,
    workloadKind: pod.owner?.kind ?? '',
    workloadName: pod.owner?.name ?? '',
    binding: pod.owner?.binding ?? '',
    address: pod.address,
    ports: pod.ports.map((p) => ({ container: p.container, name: p.name, port: p.port, protocol: p.protocol, servedAt: hostPort(pod.address, p.servedPort) })),
    readiness: readinessOf(pod),
    probed: pod.probes.some(isRunnable),
    terminating: pod.terminating,
    removeAt: owned?.removeAt ?? 0,
    services,
  };
}
