/**
 * With --workers, the admin surface of the whole set: every worker's
 * snapshot (plain data, sent to the primary over IPC) put together into one.
 * Pure: snapshots in, one snapshot out.
 *
 * - Counters (connections, bytes, rejections, failed dials, idle timeouts,
 *   per-endpoint connections, the connect-time histogram, CPU time) are summed,
 *   plus what workers that have exited had counted (Retired), so a worker that
 *   dies and is replaced never makes a sum go down.
 * - Gauges of load (open connections, memory, open files) are summed.
 * - What every worker derives from the same config (endpoints and their
 *   conditions, listeners) is reported once: an endpoint is ejected when any
 *   worker skips it; a listener has its worst state (failed, then binding).
 * - Ready when every worker is running and ready and the set is not draining.
 * - Reload counters are the largest of any worker's: each worker applies
 *   every snapshot itself, so a sum would count each change N times.
 */
import type { HistogramData } from './exposition.js';
import type { ToxicCounterEntry } from '../faults/fault-table.js';
import type { AccessLogCounters, AdminSnapshot, NativePumpStats, ReloadCounters, WorkerView } from './model.js';
import { mergeProcessSamples, type ProcessSample } from './process-metrics.js';
import type { ConfigView, EndpointView, ListenerView, PodView, ServicePortSnapshot, ServicePortTotals, ServicePortView } from './view.js';

/** One worker slot as the primary knows it. */
export interface WorkerInput {
  readonly worker: number;
  readonly pid: number;
  readonly state: WorkerView['state'];
  /** ms since the epoch. */
  readonly startedAt: number;
  readonly restarts: number;
  /** Its latest answer; undefined before the first. */
  readonly snapshot: AdminSnapshot | undefined;
  /** The snapshot is from an earlier request: it did not answer this one in time. */
  readonly stale: boolean;
}

interface RetiredPort {
  connections: number;
  bytesFromDownstream: number;
  bytesFromUpstream: number;
  connectFailures: number;
  idleTimeouts: number;
  readonly rejected: Record<string, number>;
  readonly closed: Record<string, number>;
  connectSeconds: HistogramData;
  readonly endpointConnections: Map<string, number>;
}

function addHistograms(a: HistogramData, b: HistogramData): HistogramData {
  return { bounds: a.bounds, counts: a.counts.map((c, i) => c + (b.counts[i] ?? 0)), sum: a.sum + b.sum, count: a.count + b.count };
}

/** Adds each count of `from` into `into`, key by key. */
function addInto(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}

function emptyHistogram(like: HistogramData): HistogramData {
  return { bounds: like.bounds, counts: like.counts.map(() => 0), sum: 0, count: 0 };
}

/** What workers that have exited had counted, per Service port and in CPU time. */
export class Retired {
  readonly ports = new Map<string, RetiredPort>();
  readonly cpu = { user: 0, system: 0 };
  readonly accessLog = { written: 0, dropped: 0 };

  /** Keeps the counters of an exited worker's last snapshot. */
  add(snapshot: AdminSnapshot): void {
    this.cpu.user += snapshot.process.cpuUserSeconds;
    this.cpu.system += snapshot.process.cpuSystemSeconds;
    this.accessLog.written += snapshot.accessLog?.written ?? 0;
    this.accessLog.dropped += snapshot.accessLog?.dropped ?? 0;
    for (const s of snapshot.servicePorts) {
      const t = s.view.totals;
      const port = this.ports.get(s.view.key) ?? {
        connections: 0,
        bytesFromDownstream: 0,
        bytesFromUpstream: 0,
        connectFailures: 0,
        idleTimeouts: 0,
        rejected: {},
        closed: {},
        connectSeconds: emptyHistogram(s.connectSeconds),
        endpointConnections: new Map<string, number>(),
      };
      port.connections += t.connections;
      port.bytesFromDownstream += t.bytesFromDownstream;
      port.bytesFromUpstream += t.bytesFromUpstream;
      port.connectFailures += t.connectFailures;
      port.idleTimeouts += t.idleTimeouts;
      addInto(port.rejected, t.rejected);
      addInto(port.closed, t.closed);
      port.connectSeconds = addHistograms(port.connectSeconds, s.connectSeconds);
      for (const e of s.view.endpoints) port.endpointConnections.set(e.id, (port.endpointConnections.get(e.id) ?? 0) + e.connections);
      this.ports.set(s.view.key, port);
    }
  }

  /** Forgets Service ports no worker serves any more: one that comes back starts from zero, as documented. */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.ports.keys()) if (!keys.has(key)) this.ports.delete(key);
  }
}

const LISTENER_RANK: Readonly<Record<string, number>> = { failed: 3, binding: 2, closed: 1, listening: 0 };

function sumTotals(all: readonly ServicePortTotals[], retired: RetiredPort | undefined): ServicePortTotals {
  const sum = (f: (t: ServicePortTotals) => number): number => all.reduce((a, t) => a + f(t), 0);
  const rejected: Record<string, number> = { ...retired?.rejected };
  const closed: Record<string, number> = { ...retired?.closed };
  for (const t of all) {
    addInto(rejected, t.rejected);
    addInto(closed, t.closed);
  }
  return {
    connections: sum((t) => t.connections) + (retired?.connections ?? 0),
    activeConnections: sum((t) => t.activeConnections),
    bytesFromDownstream: sum((t) => t.bytesFromDownstream) + (retired?.bytesFromDownstream ?? 0),
    bytesFromUpstream: sum((t) => t.bytesFromUpstream) + (retired?.bytesFromUpstream ?? 0),
    connectFailures: sum((t) => t.connectFailures) + (retired?.connectFailures ?? 0),
    // Every worker reports every reason (zeros included), so the sums have every key too.
    rejected: rejected as ServicePortTotals['rejected'],
    closed: closed as ServicePortTotals['closed'],
    idleTimeouts: sum((t) => t.idleTimeouts) + (retired?.idleTimeouts ?? 0),
  };
}

function mergeEndpoints(views: readonly ServicePortView[], retired: RetiredPort | undefined): EndpointView[] {
  const merged = new Map<string, EndpointView>();
  for (const view of views) {
    for (const e of view.endpoints) {
      const seen = merged.get(e.id);
      merged.set(
        e.id,
        seen === undefined
          ? { ...e, connections: e.connections + (retired?.endpointConnections.get(e.id) ?? 0) }
          : {
              ...seen,
              ejected: seen.ejected || e.ejected,
              activeConnections: seen.activeConnections + e.activeConnections,
              connections: seen.connections + e.connections,
            },
      );
    }
  }
  return [...merged.values()];
}

function mergeListeners(views: readonly ServicePortView[]): ListenerView[] {
  const merged = new Map<string, ListenerView>();
  for (const view of views) {
    for (const l of view.listeners) {
      const seen = merged.get(l.address);
      if (seen === undefined || (LISTENER_RANK[l.state] ?? 0) > (LISTENER_RANK[seen.state] ?? 0)) merged.set(l.address, l);
    }
  }
  return [...merged.values()].sort((a, b) => a.address.localeCompare(b.address));
}

function mergeServicePort(parts: ReadonlyArray<{ worker: number; snapshot: ServicePortSnapshot }>, retired: RetiredPort | undefined): ServicePortSnapshot {
  const [first] = parts;
  if (first === undefined) throw new Error('invariant: a Service port with no worker');
  const views = parts.map((p) => p.snapshot.view);
  const histogram = parts.slice(1).reduce((h, p) => addHistograms(h, p.snapshot.connectSeconds), first.snapshot.connectSeconds);
  const view: ServicePortView = {
    ...first.snapshot.view,
    listeners: mergeListeners(views),
    endpoints: mergeEndpoints(views, retired),
    totals: sumTotals(
      views.map((v) => v.totals),
      retired,
    ),
    workers: parts.map((p) => ({ worker: p.worker, totals: p.snapshot.view.totals })),
  };
  return { view, connectSeconds: retired === undefined ? histogram : addHistograms(histogram, retired.connectSeconds) };
}

function mergeServicePorts(live: ReadonlyArray<{ worker: number; snapshot: AdminSnapshot }>, retired: Retired): ServicePortSnapshot[] {
  const byKey = new Map<string, Array<{ worker: number; snapshot: ServicePortSnapshot }>>();
  for (const w of live) {
    for (const s of w.snapshot.servicePorts) {
      const list = byKey.get(s.view.key) ?? [];
      list.push({ worker: w.worker, snapshot: s });
      byKey.set(s.view.key, list);
    }
  }
  return [...byKey.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, parts]) => mergeServicePort(parts, retired.ports.get(key)));
}

function readiness(workers: readonly WorkerInput[], expected: number, draining: boolean): { ready: boolean; reason: string } {
  if (draining) return { ready: false, reason: 'draining' };
  const problems: string[] = [];
  for (const w of workers) {
    if (w.state !== 'running') problems.push(`worker ${w.worker}: ${w.state}`);
    else if (w.snapshot === undefined) problems.push(`worker ${w.worker}: no answer yet`);
    else if (!w.snapshot.config.ready) problems.push(`worker ${w.worker}: ${w.snapshot.config.reason}`);
  }
  if (workers.length < expected) problems.push(`${expected - workers.length} of ${expected} workers not started`);
  return problems.length === 0 ? { ready: true, reason: 'ok' } : { ready: false, reason: problems.join('; ') };
}

function latest<T>(items: readonly T[], at: (item: T) => string): T | undefined {
  return items.reduce<T | undefined>((best, item) => (best === undefined || at(item) > at(best) ? item : best), undefined);
}

function mergeConfig(configPath: string, snapshots: readonly AdminSnapshot[], ready: { ready: boolean; reason: string }, draining: boolean): ConfigView {
  const configs = snapshots.map((s) => s.config);
  const applied = latest(configs, (c) => c.loadedAt);
  const attempted = latest(configs, (c) => c.lastReload.at);
  return {
    config: applied?.config ?? configPath,
    hash: applied?.hash ?? '',
    loadedAt: applied?.loadedAt ?? '',
    ready: ready.ready,
    reason: ready.reason,
    draining: draining || configs.some((c) => c.draining),
    reloads: { success: Math.max(0, ...configs.map((c) => c.reloads.success)), failure: Math.max(0, ...configs.map((c) => c.reloads.failure)) },
    lastReload: attempted?.lastReload ?? { result: 'none', at: '', errors: [] },
  };
}

function mergeReloads(all: readonly ReloadCounters[]): ReloadCounters {
  return {
    successes: Math.max(0, ...all.map((r) => r.successes)),
    failures: Math.max(0, ...all.map((r) => r.failures)),
    lastSuccessAt: Math.max(0, ...all.map((r) => r.lastSuccessAt)),
    lastResult: all.some((r) => r.lastResult === 'failure') ? 'failure' : all.some((r) => r.lastResult === 'success') ? 'success' : 'none',
  };
}

function workerView(w: WorkerInput): WorkerView {
  return {
    worker: w.worker,
    pid: w.pid,
    state: w.state,
    ready: w.state === 'running' && (w.snapshot?.config.ready ?? false),
    reason: w.state !== 'running' ? w.state : (w.snapshot?.config.reason ?? 'no answer yet'),
    startedAt: new Date(w.startedAt).toISOString(),
    restarts: w.restarts,
    residentBytes: w.snapshot?.process.residentBytes ?? 0,
    cpuSeconds: w.snapshot === undefined ? 0 : w.snapshot.process.cpuUserSeconds + w.snapshot.process.cpuSystemSeconds,
    stale: w.stale,
  };
}

export interface AggregateInput {
  /** Every worker slot, by slot number. */
  readonly workers: readonly WorkerInput[];
  /** How many workers the set runs (--workers). */
  readonly expected: number;
  readonly retired: Retired;
  /** The primary's own process sample (it runs the admin server). */
  readonly primary: ProcessSample;
  readonly draining: boolean;
  /** --config, for before any worker has answered. */
  readonly configPath: string;
}

/** The whole set's snapshot. */
export function aggregate(input: AggregateInput): AdminSnapshot {
  const live = input.workers
    .filter((w) => w.state !== 'restarting')
    .flatMap((w) => (w.snapshot === undefined ? [] : [{ worker: w.worker, snapshot: w.snapshot }]));
  const snapshots = live.map((w) => w.snapshot);
  const ready = readiness(input.workers, input.expected, input.draining);
  return {
    servicePorts: mergeServicePorts(live, input.retired),
    // Every worker derives these from the same config: the lowest-numbered worker's.
    services: snapshots[0]?.services ?? [],
    pods: mergePods(snapshots),
    config: mergeConfig(input.configPath, snapshots, ready, input.draining),
    reloads: mergeReloads(snapshots.map((s) => s.reloads)),
    process: mergeProcessSamples([input.primary, ...snapshots.map((s) => s.process)], input.retired.cpu),
    workers: input.workers.map(workerView),
    ...mergeAccessLog(snapshots, input.retired),
    toxicCounters: mergeToxicCounters(snapshots),
    ...mergeNativePump(snapshots),
  };
}

/**
 * The lowest-numbered worker's Pods; each worker probes every Pod itself,
 * and routes by its own verdict, so a Pod is ready when every worker finds
 * it ready (the first that does not says why).
 */
function mergePods(snapshots: readonly AdminSnapshot[]): PodView[] {
  const [first] = snapshots;
  if (first === undefined) return [];
  return first.pods.map((pod) => {
    const views = snapshots.flatMap((s) => s.pods.filter((p) => p.key === pod.key));
    const notReady = views.find((p) => !p.ready);
    return notReady === undefined ? pod : { ...pod, ready: false, reason: notReady.reason };
  });
}

/** Each toxic's counters summed over the workers (a declared Fault acts in every worker). */
function mergeToxicCounters(snapshots: readonly AdminSnapshot[]): ToxicCounterEntry[] {
  const merged = new Map<string, ToxicCounterEntry>();
  for (const s of snapshots) {
    for (const e of s.toxicCounters) {
      const key = [e.servicePort, e.source, e.owner, e.name, e.type, e.stream].join('\u0000');
      const seen = merged.get(key);
      const c = e.counters;
      merged.set(
        key,
        seen === undefined
          ? { ...e, counters: { ...c } }
          : {
              ...seen,
              counters: {
                applications: seen.counters.applications + c.applications,
                delayedBytes: seen.counters.delayedBytes + c.delayedBytes,
                droppedBytes: seen.counters.droppedBytes + c.droppedBytes,
                heldBytes: seen.counters.heldBytes + c.heldBytes,
              },
            },
      );
    }
  }
  return [...merged.values()];
}

/** The native pump's figures summed over the workers that run it. */
function mergeNativePump(snapshots: readonly AdminSnapshot[]): { nativePump?: NativePumpStats } {
  const pumps = snapshots.flatMap((s) => (s.nativePump === undefined ? [] : [s.nativePump]));
  if (pumps.length === 0) return {};
  const sum = (f: (p: NativePumpStats) => number): number => pumps.reduce((a, p) => a + f(p), 0);
  const fallbacks: Record<string, number> = {};
  for (const p of pumps) addInto(fallbacks, p.fallbacks);
  return {
    nativePump: {
      handedOff: sum((p) => p.handedOff),
      fallbacks,
      connections: sum((p) => p.connections),
      pipes: sum((p) => p.pipes),
      sparePipes: sum((p) => p.sparePipes),
      pipeFailures: sum((p) => p.pipeFailures),
      copiedChunks: sum((p) => p.copiedChunks),
    },
  };
}

/** Access-log counts summed over the workers (and exited ones), when the access log is on. */
function mergeAccessLog(snapshots: readonly AdminSnapshot[], retired: Retired): { accessLog?: AccessLogCounters } {
  const logs = snapshots.flatMap((s) => (s.accessLog === undefined ? [] : [s.accessLog]));
  if (logs.length === 0 && retired.accessLog.written === 0 && retired.accessLog.dropped === 0) return {};
  return {
    accessLog: {
      written: logs.reduce((a, l) => a + l.written, retired.accessLog.written),
      dropped: logs.reduce((a, l) => a + l.dropped, retired.accessLog.dropped),
    },
  };
}
