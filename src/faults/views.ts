/**
 * The toxics of one Service port as the admin surface shows them: those that
 * affect every connection of the port, and those aimed at particular
 * endpoints (by endpoint id). Read-only over the schedule and the API toxics.
 */
import type { ToxicBinding } from './binding.js';
import type { DeclaredFault } from './schedule.js';
import type { ConnectionTarget, ToxicView } from './types.js';

export interface PortToxicViews {
  readonly port: ToxicView[];
  readonly byEndpoint: Map<string, ToxicView[]>;
}

function view(b: ToxicBinding, active: boolean, target: string): ToxicView {
  const { spec } = b;
  return {
    source: b.source,
    owner: b.owner,
    name: spec.name,
    type: spec.type,
    stream: spec.stream,
    toxicity: spec.toxicity,
    attributes: spec.attributes,
    active,
    target,
  };
}

/** The views of a port's declared faults (in config order), then its API toxics (which target the whole proxy). */
export function portToxicViews(
  declared: readonly DeclaredFault[],
  api: readonly ToxicBinding[],
  endpoints: readonly ConnectionTarget[],
  now: number,
): PortToxicViews {
  const port: ToxicView[] = [];
  const byEndpoint = new Map<string, ToxicView[]>();
  for (const f of declared) {
    const views = f.bindings.map((b) => view(b, f.isActive(now), f.plan.target));
    if (f.portWide) {
      port.push(...views);
      continue;
    }
    for (const e of endpoints) if (f.reaches(e)) byEndpoint.set(e.id, [...(byEndpoint.get(e.id) ?? []), ...views]);
  }
  port.push(...api.map((b) => view(b, true, '')));
  return { port, byEndpoint };
}
