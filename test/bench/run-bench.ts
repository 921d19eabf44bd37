/**
 * Runs the compiled bench (build/scripts/bench/main.js) as users do, against
 * the compiled svcproxy CLI (build/src/main.js), with its output in a temp
 * directory removed at teardown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { FIGURE_KEYS, type BenchResults } from '../../scripts/bench/report.js';
import { CLI } from '../helpers/process.js';

const BENCH = fileURLToPath(new URL('../../scripts/bench/main.js', import.meta.url));
export const PROFILE_SUMMARY = fileURLToPath(new URL('../../scripts/bench/profile-summary.js', import.meta.url));

export interface BenchRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-bench-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts the bench with `--svcproxy <compiled CLI>`; killed at teardown if still running. */
export function startBench(
  t: Test,
  args: string[],
  cwd?: string,
  env: NodeJS.ProcessEnv = process.env,
): { child: ChildProcess; done: Promise<BenchRun>; stderr: () => string } {
  const child = spawn(process.execPath, [BENCH, '--svcproxy', CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const done = once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, done, stderr: () => stderr };
}

export async function readResults(outDir: string): Promise<BenchResults> {
  return JSON.parse(await readFile(join(outDir, 'latest.json'), 'utf8')) as BenchResults;
}

/**
 * The figures a target must have: all of them, but a direct connection has no
 * proxy to measure memory or CPU of, and only svcproxy has a config reload.
 */
export function expectedFigures(target: string): string[] {
  return FIGURE_KEYS.filter(
    (k) => (target !== 'direct' || !(k.startsWith('rss_') || k.includes('_cpu_'))) && (target.startsWith('svcproxy') || !k.startsWith('reload_')),
  );
}

/**
 * What a smoke run can promise about a figure: rates, times and RSS are
 * positive; CPU per unit is at least 0 (a smoke step can end within one clock
 * tick of the proxy's CPU time, 10 ms); RSS per held connection is a finite
 * number (100 connections move RSS by less than its noise).
 */
export function smokeHolds(key: string, value: unknown): boolean {
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  if (key === 'rss_per_conn_KiB') return true;
  if (key.includes('_cpu_')) return value >= 0;
  return value > 0;
}

export function pidsStarted(stderr: string): number[] {
  return [...stderr.matchAll(/started pid (\d+)/g)].map((m) => Number(m[1]));
}

/** True while the process exists and is not a zombie (an orphan that init has not reaped yet counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
