/**
 * Warnings about how valid objects refer to each other: things a cluster
 * accepts but that leave a Service without the endpoints its author
 * expected. They are printed by `--check` and logged on reload; they never
 * reject a snapshot.
 */
import { SERVICE_NAME_LABEL } from './endpoints.js';
import { formatSource, type ConfigNote, type ConfigSnapshot, type Protocol, type ServiceSpec, type WorkloadSpec } from './types.js';

/**
 * Something that declares named container ports for a Service's selector to
 * find: a Pod, or a workload's Pod template (its labels are those of
 * `spec.template.metadata.labels`), so that a named targetPort is checked
 * against templates too.
 */
export interface PortHolder {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ports: ReadonlyArray<{ readonly name: string; readonly protocol: Protocol }>;
}

/** The Pods of a snapshot as port holders (finished Pods never back a Service). */
export function podPortHolders(snapshot: Pick<ConfigSnapshot, 'pods'>): PortHolder[] {
  return snapshot.pods.filter((p) => !p.finished).map((p) => ({ namespace: p.namespace, labels: p.labels, ports: p.ports }));
}

/** Each workload's Pod template as a port holder (a workload with no replicas makes no Pod, and declares nothing). */
export function templatePortHolders(workloads: readonly WorkloadSpec[]): PortHolder[] {
  return workloads.filter((w) => w.replicas > 0).map((w) => ({ namespace: w.namespace, labels: w.template.labels, ports: w.template.ports }));
}

function selects(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export function crossChecks(
  snapshot: Pick<ConfigSnapshot, 'services' | 'endpoints' | 'endpointSlices' | 'pods'>,
  holders: readonly PortHolder[] = podPortHolders(snapshot),
): ConfigNote[] {
  const notes: ConfigNote[] = [];
  const services = new Map(snapshot.services.map((s) => [`${s.namespace}/${s.name}`, s]));
  for (const slice of snapshot.endpointSlices) {
    const note = (msg: string): void =>
      void notes.push({ level: 'warn', msg, where: formatSource(slice.source), object: `EndpointSlice ${slice.namespace}/${slice.name}` });
    if (slice.serviceName === '') {
      note(`EndpointSlice has no ${SERVICE_NAME_LABEL} label, so it belongs to no Service and is ignored (as kube-proxy does)`);
      continue;
    }
    const service = services.get(`${slice.namespace}/${slice.serviceName}`);
    if (service?.selector !== undefined) {
      note(
        `ignored: Service ${slice.namespace}/${slice.serviceName} has a selector, so its endpoints are the Pods it selects; remove the selector to use this EndpointSlice`,
      );
    }
  }
  for (const endpoints of snapshot.endpoints) {
    const service = services.get(`${endpoints.namespace}/${endpoints.name}`);
    if (service?.selector === undefined) continue;
    notes.push({
      level: 'warn',
      msg: `ignored: Service ${endpoints.namespace}/${endpoints.name} has a selector, so its endpoints are the Pods it selects (in a cluster the endpoints controller overwrites this object); remove the selector to use it`,
      where: formatSource(endpoints.source),
      object: `Endpoints ${endpoints.namespace}/${endpoints.name}`,
    });
  }
  for (const service of snapshot.services) {
    const note = (msg: string): void =>
      void notes.push({ level: 'warn', msg, where: formatSource(service.source), object: `Service ${service.namespace}/${service.name}` });
    if (service.selector === undefined) {
      if (service.type !== 'ExternalName' && service.options.endpoints !== 'admin' && !hasDeclaredEndpoints(snapshot, service)) {
        note(`the Service has no selector and no Endpoints or EndpointSlice (labelled ${SERVICE_NAME_LABEL}=${service.name}) names it, so it has no endpoints`);
      }
      continue;
    }
    const selector = service.selector;
    const selected = holders.filter((h) => h.namespace === service.namespace && selects(selector, h.labels));
    if (selected.length === 0) continue; // "matches no Pod" is reported with the endpoints (state/desired.ts)
    service.ports.forEach((port, i) => {
      if (port.targetPort.kind !== 'name') return;
      const name = port.targetPort.name;
      if (selected.some((h) => h.ports.some((p) => p.name === name && p.protocol === port.protocol))) return;
      note(
        `spec.ports[${i}].targetPort: no Pod or Pod template this Service selects defines a ${port.protocol} container port named "${name}", so this port has no endpoints`,
      );
    });
  }
  return notes;
}

function hasDeclaredEndpoints(snapshot: Pick<ConfigSnapshot, 'endpoints' | 'endpointSlices'>, service: ServiceSpec): boolean {
  return (
    snapshot.endpoints.some((e) => e.namespace === service.namespace && e.name === service.name) ||
    snapshot.endpointSlices.some((s) => s.namespace === service.namespace && s.serviceName === service.name)
  );
}
