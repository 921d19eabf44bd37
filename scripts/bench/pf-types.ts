/** Step 7's results, as they go into the results JSON (types, and the figure keys they are made of). */
import type { PfRun } from './pf-steps.js';
import type { PfTargetName } from './pf-targets.js';

export const PF_FIGURE_KEYS = [
  'pf_bulk1_MBps',
  'pf_bulk16_MBps',
  'pf_connect_p50_us',
  'pf_connect_p99_us',
  'pf_connect_per_s',
  'pf_bulk1_cpu_s_per_GiB',
  'pf_bulk16_cpu_s_per_GiB',
  'pf_connect_cpu_us_per_conn',
  'pf_api_cpu_s_per_GiB',
  'pf_api_cpu_us_per_conn',
] as const;
export type PfFigureKey = (typeof PF_FIGURE_KEYS)[number];
export type PfFigures = Partial<Record<PfFigureKey, number>>;

export interface PfForwarder {
  readonly name: PfTargetName;
  readonly available: boolean;
  readonly version: string;
  readonly setup: string;
  readonly note?: string;
}

export interface PfGoal {
  readonly goal: string;
  readonly key: PfFigureKey;
  readonly target: PfTargetName;
  readonly value: number | undefined;
  readonly kubectl: number | undefined;
  readonly ratio: number | undefined;
  /** undefined when a side is missing (kubectl not installed). */
  readonly met: boolean | undefined;
}

export interface PortForwardResults {
  readonly forwarders: readonly PfForwarder[];
  readonly pods: number;
  readonly figures: Partial<Record<PfTargetName, PfFigures>>;
  readonly spread: Partial<Record<PfTargetName, Partial<Record<PfFigureKey, readonly [number, number]>>>>;
  /** value / kubectl's, for svcproxy's two targets. */
  readonly ratios: Partial<Record<PfTargetName, PfFigures>>;
  readonly goals: readonly PfGoal[];
  /** Connections the fake forwarded per Pod over each target's 16-connection runs (how they spread). */
  readonly bulk16ByPod: Partial<Record<PfTargetName, Readonly<Record<string, number>>>>;
  /** Upgrades the fake answered 101 over each target's start and runs, by protocol. */
  readonly upgrades: Partial<Record<PfTargetName, Readonly<Record<string, number>>>>;
  readonly notes: readonly string[];
  readonly runs: readonly PfRun[];
}
