/** What the figures were measured on: they mean little without it. */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';
import type { Machine } from './report.js';

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function cpuTimes(): { busy: number; total: number } {
  // First line of /proc/stat: cpu user nice system idle iowait irq softirq steal ...
  const fields = readOr('/proc/stat', 'cpu 0 0 0 0').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
}

/** How busy all CPUs were over `ms`, in % (0-100): other work on the machine before the bench starts. */
export async function cpuBusyPct(ms: number): Promise<number> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  return b.total === a.total ? 0 : Math.round((100 * (b.busy - a.busy)) / (b.total - a.total));
}

export function describeMachine(loadAverageStart: readonly number[], busyBeforePct: number): Machine {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readOr('/proc/cpuinfo', ''))?.[1]?.trim() ?? 'unknown CPU';
  const os = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readOr('/etc/os-release', ''))?.[1] ?? 'unknown OS';
  return {
    cpu,
    cores: availableParallelism(),
    kernel: release(),
    os,
    node: process.version,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    loadAverageStart: loadAverageStart.map((v) => Math.round(v * 100) / 100),
    loadAverageEnd: loadavg().map((v) => Math.round(v * 100) / 100),
    busyBeforePct,
  };
}
