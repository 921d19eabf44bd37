/**
 * The toxics' behaviour, one file per toxic as toxiproxy keeps them
 * (`toxics/*.go`), and the one table that maps a toxic type to its stage.
 * A type without a stage here is a compile error (`satisfies`).
 */
import type { ToxicType } from '../toxics.js';
import type { ConnectionToxic, StageHost, StageTarget, ToxicStage } from '../types.js';
import { BandwidthStage } from './bandwidth.js';
import { LatencyStage } from './latency.js';
import { LimitDataStage } from './limit-data.js';
import { ResetPeerStage } from './reset-peer.js';
import { SlicerStage } from './slicer.js';
import { SlowCloseStage } from './slow-close.js';
import type { StageClass } from './stage.js';
import { TimeoutStage } from './timeout.js';

const STAGES = {
  latency: LatencyStage,
  bandwidth: BandwidthStage,
  slicer: SlicerStage,
  slow_close: SlowCloseStage,
  timeout: TimeoutStage,
  reset_peer: ResetPeerStage,
  limit_data: LimitDataStage,
} as const satisfies Record<ToxicType, StageClass>;

/** The stage of `toxic` on one direction, handing its output to `next`. */
export function createStage(host: StageHost, toxic: ConnectionToxic, next: StageTarget): ToxicStage {
  return new STAGES[toxic.spec.type](host, toxic, next);
}
