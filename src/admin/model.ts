/**
 * What the admin surface serves, as plain data that can cross a process
 * boundary: one process's state (LocalModel), or with --workers the whole
 * set's, put together in the primary from every worker's (cluster/). The
 * routes, the metrics and the feed read an AdminModel and nothing else, so
 * they are the same for one process and for N.
 */
import type { EventEmitter } from 'node:events';
import type { ToxicCounterEntry } from '../faults/fault-table.js';
import type { PortForwardStats } from '../proxy/forwarded.js';
import type { ClusterStatus } from '../sources/cluster-status.js';
import type { ProcessSample } from './process-metrics.js';
import type { ConfigView, PodView, ServicePortSnapshot, ServiceView } from './view.js';

/** Reload counters, as the metrics report them. */
export interface ReloadCounters {
  readonly successes: number;
  readonly failures: number;
  /** ms since the epoch; 0 before the first success. */
  readonly lastSuccessAt: number;
  readonly lastResult: 'none' | 'success' | 'failure';
}

/** One worker process of a --workers set, for /api/services and the dashboard. */
export interface WorkerView {
  /** 1..N: the slot, which a restarted worker keeps. */
  readonly worker: number;
  readonly pid: number;
  /** starting (forked, config not applied yet) | running | restarting (exited; a new one is on its way) */
  readonly state: 'starting' | 'running' | 'restarting';
  readonly ready: boolean;
  readonly reason: string;
  /** ISO 8601. */
  readonly startedAt: string;
  /** Times this slot's worker exited and was started again. */
  readonly restarts: number;
  readonly residentBytes: number;
  readonly cpuSeconds: number;
  /** True when its figures are from an earlier answer: it did not answer this request in time. */
  readonly stale: boolean;
}

/** The access log's line counts (--access-log). */
export interface AccessLogCounters {
  /** Lines written. */
  readonly written: number;
  /** Lines dropped: the queue was full (a slow reader, a slow disk) or their write failed. */
  readonly dropped: number;
}

export interface AdminSnapshot {
  readonly servicePorts: readonly ServicePortSnapshot[];
  /** Each Service with its addresses and names. */
  readonly services: readonly ServiceView[];
  /** Every Pod with its address, ports and live readiness. */
  readonly pods: readonly PodView[];
  /** Ready, reason and draining are in here. */
  readonly config: ConfigView;
  readonly reloads: ReloadCounters;
  readonly process: ProcessSample;
  /** With --workers only: one entry per worker slot, by slot number. */
  readonly workers?: readonly WorkerView[];
  /** With --access-log only. */
  readonly accessLog?: AccessLogCounters;
  /** Every toxic's counters (Faults, toxiproxy-API toxics); [] when none. */
  readonly toxicCounters: readonly ToxicCounterEntry[];
  /** The native splice pump's figures, when it runs (--pump native and built). */
  readonly nativePump?: NativePumpStats;
  /** With --cluster only: the API server, the namespaces and every watch (/api/cluster). */
  readonly cluster?: ClusterStatus;
  /** With --pod-network portforward only: streams, opens, sessions, bytes (/api/cluster's `portForward`, /metrics). */
  readonly portForward?: PortForwardStats;
}

/** What the native splice pump reports, as plain numbers. */
export interface NativePumpStats {
  readonly handedOff: number;
  /** Eligible connections kept in the JS pump, by reason. */
  readonly fallbacks: Readonly<Record<string, number>>;
  readonly connections: number;
  readonly pipes: number;
  readonly sparePipes: number;
  readonly pipeFailures: number;
  readonly copiedChunks: number;
}

/** What happens, for the feed; `worker` says which worker it happened in (with --workers). */
export interface AdminEvents {
  reload: [
    {
      readonly trigger: string;
      readonly result: 'success' | 'failure';
      readonly errors: readonly string[];
      readonly changes: number;
      readonly worker?: number;
    },
  ];
  listener: [{ readonly key: string; readonly servicePort: string; readonly state: string; readonly error: string; readonly worker?: number }];
  readiness: [{ readonly pod: string; readonly ready: boolean; readonly reason: string; readonly services: readonly string[]; readonly worker?: number }];
  /** The toxics in force changed (a Fault applied, started or ended; an API toxic added or removed). */
  toxics: [{ readonly worker?: number }];
  /** Pods were added, removed or changed. */
  pods: [{ readonly worker?: number }];
}

/** `view` reads; `metrics` also starts a new event-loop delay interval (per scrape, as documented). */
export type SnapshotPurpose = 'view' | 'metrics';

export interface AdminModel {
  snapshot(purpose: SnapshotPurpose): Promise<AdminSnapshot>;
  readonly events: EventEmitter<AdminEvents>;
  /** Stops what the model runs (sampling, listening to events); the admin server calls it when it closes. */
  close?(): void;
}
