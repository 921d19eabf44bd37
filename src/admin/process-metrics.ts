/**
 * Process and Node.js runtime metrics, with the names prom-client's default
 * collector uses (so existing dashboards work), read at scrape time.
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
 * Samples event-loop delay while the admin server runs (a timer every
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

  /** p99 and max since the previous scrape (seconds), then starts a new interval. */
  takeSeconds(): { p99: number; max: number } {
    const h = this.histogram;
    const result = h.count === 0 ? { p99: 0, max: 0 } : { p99: h.percentile(99) / 1e9, max: h.max / 1e9 };
    h.reset();
    return result;
  }
}

export async function writeProcessMetrics(out: Exposition, loop: EventLoopDelay): Promise<void> {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  out
    .family('process_cpu_user_seconds_total', 'counter', 'User CPU time spent, in seconds.')
    .sample('process_cpu_user_seconds_total', {}, cpu.user / 1e6)
    .family('process_cpu_system_seconds_total', 'counter', 'System CPU time spent, in seconds.')
    .sample('process_cpu_system_seconds_total', {}, cpu.system / 1e6)
    .family('process_cpu_seconds_total', 'counter', 'User and system CPU time spent, in seconds.')
    .sample('process_cpu_seconds_total', {}, (cpu.user + cpu.system) / 1e6)
    .family('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, in seconds.')
    .sample('process_start_time_seconds', {}, START_TIME_SECONDS)
    .family('process_resident_memory_bytes', 'gauge', 'Resident memory size, in bytes.')
    .sample('process_resident_memory_bytes', {}, memory.rss)
    .family('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap size, in bytes.')
    .sample('nodejs_heap_size_total_bytes', {}, memory.heapTotal)
    .family('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap in use, in bytes.')
    .sample('nodejs_heap_size_used_bytes', {}, memory.heapUsed)
    .family('nodejs_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JavaScript objects (buffers included), in bytes.')
    .sample('nodejs_external_memory_bytes', {}, memory.external);
  const [open, max] = await Promise.all([openFds(), maxFds()]);
  if (open !== undefined) out.family('process_open_fds', 'gauge', 'Open file descriptors.').sample('process_open_fds', {}, open);
  if (max !== undefined) out.family('process_max_fds', 'gauge', 'Maximum number of open file descriptors.').sample('process_max_fds', {}, max);
  const lag = loop.takeSeconds();
  out
    .family('nodejs_eventloop_lag_p99_seconds', 'gauge', 'The 99th percentile of event loop delay since the previous scrape, in seconds.')
    .sample('nodejs_eventloop_lag_p99_seconds', {}, lag.p99)
    .family('nodejs_eventloop_lag_max_seconds', 'gauge', 'The longest event loop delay since the previous scrape, in seconds.')
    .sample('nodejs_eventloop_lag_max_seconds', {}, lag.max);
}
