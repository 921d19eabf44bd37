/**
 * ConfigSnapshot -> DesiredState: one ServicePortPlan per proxied Service
 * port and one ListenerPlan per socket to bind, plus the rules that need the
 * bind addresses to check (two ports on one address:port/protocol).
 * Pure: the local-address test comes in as a function.
 */
import { formatSource, type ConfigIssue, type ConfigNote, type ConfigSnapshot, type Protocol, type ServiceSpec } from '../config/types.js';
import { declaredEndpoints } from './endpoints.js';
import { isProbed, podEndpoints, selectedPods } from './pod-endpoints.js';
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
} from './types.js';

export interface ListenEnvironment {
  /** Where a Service listens when it has no usable clusterIP (`--bind-address`). */
  readonly bindAddress: string;
  /** True when `ip` is an address of this machine (all of 127.0.0.0/8 is, on Linux). */
  readonly isLocalAddress: (ip: string) => boolean;
  /** Sockets svcproxy holds for itself (the admin server), which no Service may take. */
  readonly reserved: readonly { readonly address: string; readonly port: number; readonly what: string }[];
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

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** Two binds collide when the addresses are equal or either is a wildcard (which takes the port on every address). */
function overlaps(a: string, b: string): boolean {
  return a === b || isWildcard(a) || isWildcard(b);
}

export function desiredState(snapshot: ConfigSnapshot, env: ListenEnvironment): DesiredResult {
  const servicePorts = new Map<ServicePortKey, ServicePortPlan>();
  const listeners = new Map<ListenerKey, ListenerPlan>();
  const probes = new Map<string, PodProbePlan>();
  const issues: ConfigIssue[] = [];
  const notes: ConfigNote[] = [];
  const owners = new Map<string, Owner[]>(); // `${protocol}/${port}` -> who binds it
  for (const r of env.reserved) {
    owners.set(`TCP/${r.port}`, [{ address: r.address, label: `the ${r.what} (${hostPort(r.address, r.port)})` }]);
  }

  for (const service of snapshot.services) {
    const where = formatSource(service.source);
    const object = `Service ${service.namespace}/${service.name}`;
    const skip = skipReason(service);
    if (skip !== undefined) {
      notes.push({ level: 'info', msg: `not proxied: ${skip}`, where, object });
      continue;
    }
    const address = listenAddress(service, env, (msg) => notes.push({ level: 'warn', msg, where, object }));
    const pods = selectedPods(snapshot.pods, service);
    if (service.selector !== undefined && pods.length === 0) {
      const selector = Object.entries(service.selector).map(([k, v]) => `${k}=${v}`).join(',');
      notes.push({ level: 'warn', msg: `selector ${selector} matches no Pod; the Service has no endpoints`, where, object });
    }
    service.ports.forEach((port, i) => {
      if (port.protocol !== 'TCP') {
        const msg = port.protocol === 'SCTP' ? 'SCTP is not supported; no listener' : 'UDP is not supported yet; no listener';
        notes.push({ level: 'warn', msg: `spec.ports[${i}]: ${msg}`, where, object });
        return;
      }
      const key = servicePortKey(service.namespace, service.name, port.name);
      // A Service with a selector ignores hand-written Endpoints for itself, as Kubernetes does.
      const endpoints = service.selector === undefined ? declaredEndpoints(snapshot, service, port) : podEndpoints(pods, service, port, notes);
      for (const e of endpoints) if (e.probed) addProbe(probes, snapshot, e.pod, `${service.namespace}/${service.name}`);
      servicePorts.set(key, {
        key,
        namespace: service.namespace,
        service: service.name,
        portName: port.name,
        port: port.port,
        protocol: port.protocol,
        targetPort: port.targetPort.kind === 'number' ? String(port.targetPort.port) : port.targetPort.name,
        endpoints,
        publishNotReadyAddresses: service.publishNotReadyAddresses,
      });
      const label = `${object} spec.ports[${i}] (${port.port}/${port.protocol})`;
      const clash = claim(owners, port.protocol, address, port.port, label);
      if (clash !== undefined) {
        issues.push({
          where,
          object,
          path: `spec.ports[${i}]`,
          message: `Duplicate value: "${hostPort(address, port.port)}/${port.protocol}": would listen on the same address, port and protocol as ${clash}`,
        });
        return;
      }
      const lkey = listenerKey(port.protocol, address, port.port);
      const role = address === env.bindAddress && address !== service.clusterIP ? 'bindAddress' : 'clusterIP';
      listeners.set(lkey, { key: lkey, servicePort: key, protocol: port.protocol, address, port: port.port, role });
    });
  }
  for (const pod of snapshot.pods) {
    for (const probe of pod.probes) {
      if (probe.kind !== 'exec' && probe.kind !== 'grpc') continue;
      notes.push({
        level: 'warn',
        msg: `container ${probe.container}: ${probe.kind} readiness probes are not run by svcproxy; the container counts as ready`,
        where: formatSource(pod.source),
        object: `Pod ${pod.namespace}/${pod.name}`,
      });
    }
  }
  return { state: { servicePorts, listeners, probes }, issues, notes };
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
  const runnable = pod.probes.filter((p) => p.kind === 'tcpSocket' || p.kind === 'httpGet');
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

/** The clusterIP when it is an address of this machine, else the bind address (with a warning for a foreign clusterIP). */
function listenAddress(service: ServiceSpec, env: ListenEnvironment, warn: (msg: string) => void): string {
  if (service.clusterIP === '') return env.bindAddress;
  if (env.isLocalAddress(service.clusterIP)) return service.clusterIP;
  warn(`clusterIP ${service.clusterIP} is not an address of this machine; listening on ${env.bindAddress} instead`);
  return env.bindAddress;
}
