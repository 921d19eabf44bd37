/**
 * Runs the real kubectl (1.32, /usr/bin/kubectl) against a kubeconfig, as a child process: to
 * completion with a deadline, or long-running (`get -w`) with output awaited by pattern. Each run
 * gets its own discovery cache directory, so no state leaks between tests or from ~/.kube.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

export interface KubectlRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

async function cacheDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kubectl-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function spawnKubectl(kubeconfig: string, cache: string, args: readonly string[]): ReturnType<typeof spawn> {
  // HOME too: kubectl must not read or write the real ~/.kube.
  return spawn('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', cache, '--request-timeout', '20s', ...args], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: cache, KUBECONFIG: kubeconfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs kubectl to completion; killed (by its PID) if it has not finished in `timeoutMs`. */
export async function kubectl(t: Test, kubeconfig: string, args: readonly string[], timeoutMs = 30_000): Promise<KubectlRun> {
  const child = spawnKubectl(kubeconfig, await cacheDir(t), args);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export interface KubectlWatch {
  readonly stdout: () => string;
  /** Resolves when stdout matches `pattern`; rejects at the deadline or if kubectl exits first. */
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
}

/** Starts a long-running kubectl (e.g. `get -w`); killed at teardown. */
export async function kubectlWatch(t: Test, kubeconfig: string, args: readonly string[]): Promise<KubectlWatch> {
  const child = spawnKubectl(kubeconfig, await cacheDir(t), args);
  let stdout = '';
  let stderr = '';
  let exited = false;
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
    wake();
  });
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const closed = once(child, 'close').then(() => {
    exited = true;
    wake();
  });
  t.teardown(async () => {
    if (!exited) child.kill('SIGKILL');
    await closed;
  });
  return {
    stdout: () => stdout,
    waitFor: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`kubectl: no ${String(pattern)} in ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`)),
          timeoutMs,
        );
        const finish = (err?: Error): void => {
          clearTimeout(timer);
          waiters.delete(check);
          if (err === undefined) resolve();
          else reject(err);
        };
        const check = (): void => {
          if (pattern.test(stdout)) finish();
          else if (exited) finish(new Error(`kubectl exited before ${String(pattern)}; stdout:\n${stdout}\nstderr:\n${stderr}`));
        };
        waiters.add(check);
        check();
      }),
  };
}
