/**
 * Process and Node.js runtime metrics, with the names prom-client's default
 * collector uses (so existing dashboards work), read at scrape time: a
 * sample of plain numbers (which a worker can send to the primary), how
 * samples of several processes add up, and their exposition.
 */
import { readdir, readFile } from 'node:fs/promises';
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import type { Exposition } from './exposition.js';

/** When this process started, seconds since the epoch (fixed at load: uptime counts from process start). */
const START_TIME_SECONDS = Math.round(Date.now() - process.uptime() * 1000) / 1000;

/** Open file descriptors (Linux /proc); undefined where there is no /proc. */
async function openFds(): Promise<number | undefined> {
  try {
    return (await readdir('/proc/self/fd')).length;
  } catch {
    return undefined;
  }
}

/** The soft limit on open files (Linux /proc); undefined where unknown or unlimited. */
async function maxFds(): Promise<number | undefined> {
  try {
    const limits = await readFile('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+)/m.exec(limits);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/**
 * Samples event-loop delay while the admin side runs (a timer every
 * `resolutionMs` inside libuv, not on the data path) and reports it per
 * scrape interval.
 */
export class EventLoopDelay {
  private readonly histogram: ELDHistogram = monitorEventLoopDelay({ resolution: 20 });

  start(): void {
    this.histogram.enable();
  }

  stop(): void {
    this.histogram.disable();
  }

  /** p99 and max since the previous reset (seconds); `reset` starts a new interval (a scrape does, a view does not). */
  readSeconds(reset: boolean): { p99: number; max: number } {
    const h = this.histogram;
    const result = h.count === 0 ? { p99: 0, max: 0 } : { p99: h.percentile(99) / 1e9, max: h.max / 1e9 };
    if (reset) h.reset();
    return result;
  }
}

/** One process's figures, plain numbers (with --workers, summed over the processes; see mergeProcessSamples). */
export interface ProcessSample {
  readonly cpuUserSeconds: number;
  readonly cpuSystemSeconds: number;
  readonly startTimeSeconds: number;
  readonly residentBytes: number;
  readonly heapTotalBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
  /** -1 where unknown (no /proc). */
  readonly openFds: number;
  readonly maxFds: number;
  readonly loopP99Seconds: number;
  readonly loopMaxSeconds: number;
}

/** This process now; `resetLoop` starts a new event-loop interval (for a scrape). */
export async function sampleProcess(loop: EventLoopDelay, resetLoop: boolean): Promise<ProcessSample> {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const [open, max] = await Promise.all([openFds(), maxFds()]);
  const lag = loop.readSeconds(resetLoop);
  return {
    cpuUserSeconds: cpu.user / 1e6,
    cpuSystemSeconds: cpu.system / 1e6,
    startTimeSeconds: START_TIME_SECONDS,
    residentBytes: memory.rss,
    heapTotalBytes: memory.heapTotal,
    heapUsedBytes: memory.heapUsed,
    externalBytes: memory.external,
    openFds: open ?? -1,
    maxFds: max ?? -1,
    loopP99Seconds: lag.p99,
    loopMaxSeconds: lag.max,
  };
}

/**
 * The whole of several processes (the primary first, then the workers):
 * CPU, memory and open files add up; start time and the open-file limit are
 * the first one's (the primary's: when the set started, the limit each process
 * has); event-loop delay is the worst process's. `retiredCpu` is the CPU time
 * of processes that have exited, so the CPU counters never go down.
 */
export function mergeProcessSamples(samples: readonly ProcessSample[], retiredCpu: { user: number; system: number } = { user: 0, system: 0 }): ProcessSample {
  const [first] = samples;
  if (first === undefined) throw new Error('invariant: no process sample to merge');
  const sum = (f: (s: ProcessSample) => number): number => samples.reduce((a, s) => a + f(s), 0);
  const max = (f: (s: ProcessSample) => number): number => samples.reduce((a, s) => Math.max(a, f(s)), 0);
  return {
    cpuUserSeconds: sum((s) => s.cpuUserSeconds) + retiredCpu.user,
    cpuSystemSeconds: sum((s) => s.cpuSystemSeconds) + retiredCpu.system,
    startTimeSeconds: first.startTimeSeconds,
    residentBytes: sum((s) => s.residentBytes),
    heapTotalBytes: sum((s) => s.heapTotalBytes),
    heapUsedBytes: sum((s) => s.heapUsedBytes),
    externalBytes: sum((s) => s.externalBytes),
    openFds: samples.some((s) => s.openFds < 0) ? -1 : sum((s) => s.openFds),
    maxFds: first.maxFds,
    loopP99Seconds: max((s) => s.loopP99Seconds),
    loopMaxSeconds: max((s) => s.loopMaxSeconds),
  };
}

export function writeProcessMetrics(out: Exposition, p: ProcessSample): void {
  out
    .family('process_cpu_user_seconds_total', 'counter', 'User CPU time spent, in seconds.')
    .sample('process_cpu_user_seconds_total', {}, p.cpuUserSeconds)
    .family('process_cpu_system_seconds_total', 'counter', 'System CPU time spent, in seconds.')
    .sample('process_cpu_system_seconds_total', {}, p.cpuSystemSeconds)
    .family('process_cpu_seconds_total', 'counter', 'User and system CPU time spent, in seconds.')
    .sample('process_cpu_seconds_total', {}, p.cpuUserSeconds + p.cpuSystemSeconds)
    .family('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, in seconds.')
    .sample('process_start_time_seconds', {}, p.startTimeSeconds)
    .family('process_resident_memory_bytes', 'gauge', 'Resident memory size, in bytes.')
    .sample('process_resident_memory_bytes', {}, p.residentBytes)
    .family('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap size, in bytes.')
    .sample('nodejs_heap_size_total_bytes', {}, p.heapTotalBytes)
    .family('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap in use, in bytes.')
    .sample('nodejs_heap_size_used_bytes', {}, p.heapUsedBytes)
    .family('nodejs_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JavaScript objects (buffers included), in bytes.')
    .sample('nodejs_external_memory_bytes', {}, p.externalBytes);
  if (p.openFds >= 0) out.family('process_open_fds', 'gauge', 'Open file descriptors.').sample('process_open_fds', {}, p.openFds);
  if (p.maxFds >= 0) out.family('process_max_fds', 'gauge', 'Maximum number of open file descriptors.').sample('process_max_fds', {}, p.maxFds);
  out
    .family('nodejs_eventloop_lag_p99_seconds', 'gauge', 'The 99th percentile of event loop delay since the previous scrape, in seconds.')
    .sample('nodejs_eventloop_lag_p99_seconds', {}, p.loopP99Seconds)
    .family('nodejs_eventloop_lag_max_seconds', 'gauge', 'The longest event loop delay since the previous scrape, in seconds.')
    .sample('nodejs_eventloop_lag_max_seconds', {}, p.loopMaxSeconds);
}
