import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { FaultPlan } from '../../src/faults/fault-plan.js';
import { FaultTable } from '../../src/faults/fault-table.js';
import { validateToxic, type ToxicSpec } from '../../src/faults/toxics.js';

/** A validated toxic (throws on a bad one: a test's own mistake). */
export function toxic(type: string, attributes: Record<string, number> = {}, extra: { stream?: string; toxicity?: number; name?: string } = {}): ToxicSpec {
  const result = validateToxic({ type, attributes, ...extra });
  if (!result.ok) throw new Error(`bad test toxic: ${JSON.stringify(result.problems)}`);
  return result.toxic;
}

/** A fault on Service port default/web (the key servicePortPlan() of helpers/proxy.ts uses). */
export function faultPlan(toxics: ToxicSpec[], extra: Partial<FaultPlan> = {}): FaultPlan {
  return {
    id: 'default/test',
    revision: JSON.stringify(toxics),
    toxics,
    seed: undefined,
    afterMs: 0,
    forMs: 0,
    servicePorts: new Set(['default/web']),
    endpoints: undefined,
    pods: undefined,
    target: 'Service default/web',
    ...extra,
  };
}

/** A FaultTable with one declared fault on default/web. */
export function tableWith(toxics: ToxicSpec[], extra: Partial<FaultPlan> = {}): FaultTable {
  const table = new FaultTable();
  table.setDeclared([faultPlan(toxics, extra)], Date.now());
  return table;
}

/** One request/response round trip on an echo connection, in ms. */
export async function roundTripMs(socket: Socket, payload = 'x'): Promise<number> {
  const started = performance.now();
  socket.write(payload);
  let got = 0;
  while (got < payload.length) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    got += chunk.length;
  }
  return performance.now() - started;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
