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

export function describeMachine(loadAverageStart: readonly number[]): Machine {
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
  };
}
