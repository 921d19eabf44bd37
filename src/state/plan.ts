/**
 * planChanges(current, desired): the smallest set of changes that turns the
 * running state into the desired one, as a pure function, so reloads can be
 * tested as tables and logged before they are applied.
 *
 * Rules (kube-proxy's sameConfig / Envoy's listener drain):
 * - a Service port that is new is added; one that is gone is removed;
 *   one whose endpoints or settings changed is updated in place (its
 *   balancer keeps its rotation when the endpoint set is the same);
 * - a listener is keyed by protocol, address and port: a new key opens,
 *   a missing key closes (its established connections run on), and a
 *   listener whose key stays but now feeds another Service port is retargeted.
 */
import type { DesiredState, ListenerKey, ListenerPlan, ServicePortKey, ServicePortPlan } from './types.js';

export type Change =
  | { readonly op: 'add-service-port'; readonly plan: ServicePortPlan }
  | { readonly op: 'update-service-port'; readonly plan: ServicePortPlan }
  | { readonly op: 'remove-service-port'; readonly key: ServicePortKey }
  | { readonly op: 'open-listener'; readonly plan: ListenerPlan }
  | { readonly op: 'retarget-listener'; readonly plan: ListenerPlan }
  | { readonly op: 'close-listener'; readonly key: ListenerKey };

/**
 * Order matters: Service ports are added and updated before listeners open
 * (a listener needs its Service port); listeners close before others open
 * (a moved port can be re-bound); Service ports are removed last.
 */
export function planChanges(current: DesiredState, desired: DesiredState): Change[] {
  const adds: Change[] = [];
  const updates: Change[] = [];
  const removes: Change[] = [];
  for (const [key, plan] of desired.servicePorts) {
    const was = current.servicePorts.get(key);
    if (was === undefined) adds.push({ op: 'add-service-port', plan });
    else if (!sameJson(was, plan)) updates.push({ op: 'update-service-port', plan });
  }
  for (const key of current.servicePorts.keys()) {
    if (!desired.servicePorts.has(key)) removes.push({ op: 'remove-service-port', key });
  }
  const closes: Change[] = [];
  const opens: Change[] = [];
  for (const [key, plan] of desired.listeners) {
    const was = current.listeners.get(key);
    if (was === undefined) opens.push({ op: 'open-listener', plan });
    else if (!sameJson(was, plan)) opens.push({ op: 'retarget-listener', plan });
  }
  for (const key of current.listeners.keys()) {
    if (!desired.listeners.has(key)) closes.push({ op: 'close-listener', key });
  }
  return [...adds, ...updates, ...closes, ...opens, ...removes];
}

/** Plans are plain data built in a fixed field order, so their JSON is a faithful equality test. */
function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One short line per change, for the info log of a reload. */
export function describeChange(change: Change): string {
  switch (change.op) {
    case 'add-service-port':
    case 'update-service-port':
      return `${change.op} ${change.plan.key} (${change.plan.endpoints.length} endpoints)`;
    case 'remove-service-port':
    case 'close-listener':
      return `${change.op} ${change.key}`;
    case 'open-listener':
    case 'retarget-listener':
      return `${change.op} ${change.plan.key} -> ${change.plan.servicePort}`;
  }
}
