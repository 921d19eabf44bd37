/**
 * Declared Faults -> FaultPlans: each Fault's target resolved against the
 * snapshot being planned (which TCP Service ports, which Pods its selector
 * matches now, which endpoint). A Fault that aims at nothing is valid (the
 * Service may come later) and gets a warning. Pure.
 */
import { formatSource, type ConfigNote, type FaultSpec, type PodSpec } from '../config/types.js';
import { reaches, type FaultPlan } from '../faults/fault-plan.js';
import { selects } from './pod-endpoints.js';
import { hostPort, type ServicePortKey, type ServicePortPlan } from './types.js';

function describeTarget(f: FaultSpec): string {
  const t = f.target;
  const parts: string[] = [];
  if (t.service !== undefined) parts.push(`Service ${f.namespace}/${t.service}${t.port === undefined ? '' : ` port ${t.port}`}`);
  if (t.pod !== undefined) parts.push(`Pod ${f.namespace}/${t.pod}`);
  if (t.endpoint !== undefined) parts.push(`endpoint ${t.endpoint}`);
  if (t.podSelector !== undefined) {
    parts.push(
      `Pods ${Object.entries(t.podSelector)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')} in ${f.namespace}`,
    );
  }
  return parts.join(', ');
}

/** Everything that makes two versions of a Fault different; the object's place in the files does not. */
function revisionOf(f: FaultSpec): string {
  return JSON.stringify([f.target, f.toxics, f.afterMs, f.forMs, f.seed]);
}

function portMatches(plan: ServicePortPlan, port: string | number | undefined): boolean {
  if (port === undefined) return true;
  return typeof port === 'number' ? plan.port === port : plan.portName === port;
}

export function faultPlans(
  faults: readonly FaultSpec[],
  servicePorts: ReadonlyMap<ServicePortKey, ServicePortPlan>,
  pods: readonly PodSpec[],
  notes: ConfigNote[],
): FaultPlan[] {
  const plans: FaultPlan[] = [];
  for (const f of faults) {
    const t = f.target;
    const warn = (msg: string): void => {
      notes.push({ level: 'warn', msg, where: formatSource(f.source), object: `Fault ${f.namespace}/${f.name}` });
    };
    let podKeys: Set<string> | undefined;
    if (t.pod !== undefined) {
      podKeys = new Set([`${f.namespace}/${t.pod}`]);
      if (!pods.some((p) => p.namespace === f.namespace && p.name === t.pod)) warn(`spec.target.pod: no Pod ${f.namespace}/${t.pod} is declared (yet)`);
    } else if (t.podSelector !== undefined) {
      const selector = t.podSelector;
      podKeys = new Set(pods.filter((p) => p.namespace === f.namespace && selects(selector, p.labels)).map((p) => `${p.namespace}/${p.name}`));
      if (podKeys.size === 0) warn('spec.target.podSelector matches no Pod (yet)');
    }
    const endpoints = t.endpoint === undefined ? undefined : new Set([t.endpoint]);
    const keys = new Set<string>();
    for (const plan of servicePorts.values()) {
      if (plan.protocol !== 'TCP' || plan.namespace !== f.namespace) continue;
      if (t.service !== undefined && (plan.service !== t.service || !portMatches(plan, t.port))) continue;
      // Without a Service, a Pod or endpoint target reaches every Service port that sends to it.
      if (t.service === undefined) {
        const filter = { endpoints, pods: podKeys };
        if (!plan.endpoints.some((e) => reaches(filter, { id: hostPort(e.host, e.port), pod: e.pod }))) continue;
      }
      keys.add(plan.key);
    }
    if (keys.size === 0) warn(`targets no TCP Service port now (${describeTarget(f)}); its toxics apply to nothing until one appears`);
    plans.push({
      id: `${f.namespace}/${f.name}`,
      revision: revisionOf(f),
      toxics: f.toxics,
      seed: f.seed,
      afterMs: f.afterMs,
      forMs: f.forMs,
      servicePorts: keys,
      endpoints,
      pods: podKeys,
      target: describeTarget(f),
    });
  }
  return plans;
}
