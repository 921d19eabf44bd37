import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

/** The compiled CLI entry, next to the compiled tests (build/src/main.js). */
export const CLI = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SpawnOptions {
  readonly cwd?: string;
  /** The whole environment of the child (not merged with this process's). */
  readonly env: NodeJS.ProcessEnv;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Runs a command to completion and collects its output. */
export async function runProcess(file: string, args: readonly string[], options: SpawnOptions): Promise<Run> {
  const child = spawn(file, [...args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  return { code, signal, stdout, stderr };
}

/** Runs the CLI to completion (for --check, --version, start-up failures). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runProcess(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
}

export interface Served {
  readonly child: ChildProcess;
  /** Every JSON log line so far. */
  readonly logs: Array<Record<string, unknown>>;
  readonly stderr: () => string;
  /** Resolves when a log line satisfies `match`; rejects at the deadline or when the process exits first. */
  readonly waitForLog: (match: (line: Record<string, unknown>) => boolean, what: string, timeoutMs?: number) => Promise<Record<string, unknown>>;
  readonly exited: Promise<Run>;
}

/** Starts a long-running command that logs JSON lines; killed (by its PID) at teardown if still running. */
export function serveProcess(t: Test, file: string, args: readonly string[], options: SpawnOptions): Served {
  const child = spawn(file, [...args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    partial += c.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        const parsed: unknown = JSON.parse(line);
        logs.push(isRecord(parsed) ? parsed : { msg: line, unparsed: true });
      } catch {
        logs.push({ msg: line, unparsed: true });
      }
    }
    for (const w of [...waiters]) w();
  });
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null, stdout, stderr }));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const waitForLog = (match: (line: Record<string, unknown>) => boolean, what: string, timeoutMs = 15_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      const check = (): void => {
        const found = logs.find(match);
        if (found === undefined) return;
        done();
        resolve(found);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for log: ${what}\nstdout so far:\n${stdout}\nstderr:\n${stderr}`));
      }, timeoutMs);
      waiters.add(check);
      check();
      void exited.then(() => {
        if (!waiters.has(check)) return;
        check();
        if (!waiters.has(check)) return;
        done();
        reject(new Error(`process exited before log: ${what}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      });
    });
  return { child, logs, stderr: () => stderr, waitForLog, exited };
}

/** Starts the built CLI as a server. */
export function serveCli(t: Test, args: string[], env: NodeJS.ProcessEnv = {}): Served {
  return serveProcess(t, process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
}

/** A temp directory removed at teardown, with files written into it. */
export async function configDir(t: Test, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-cfg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}
