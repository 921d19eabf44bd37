/**
 * One toxic of one connection, as the fault table hands it to the toxic
 * pump: the spec it met, its counters, its seed and draw, and the factory
 * of its stage (so that `proxy/` builds chains through this object and
 * imports no stage code: only the types of faults/types.ts).
 */
import type { ToxicBinding } from './binding.js';
import type { Random } from './random.js';
import type { ToxicSpec } from './toxics.js';
import { createStage } from './toxics/index.js';
import type { ConnectionToxic, StageHost, StageTarget, ToxicCounters, ToxicStage } from './types.js';

export class ChainToxic implements ConnectionToxic {
  readonly spec: ToxicSpec;

  constructor(
    readonly binding: ToxicBinding,
    readonly counters: ToxicCounters,
    readonly seed: number,
    readonly active: boolean,
    readonly draws: Random | undefined,
  ) {
    this.spec = binding.spec;
  }

  stage(host: StageHost, next: StageTarget): ToxicStage {
    return createStage(host, this, next);
  }
}
