/**
 * `kubectl port-forward pod/NAME 0:PORT` (kubectl 1.32, /usr/bin/kubectl) against the fake, as a child process:
 * resolves once kubectl prints its local port ("Forwarding from 127.0.0.1:NNNN -> PORT"); killed by its PID at the
 * test's teardown. `websockets: false` sets KUBECTL_PORT_FORWARD_WEBSOCKETS=false (plain SPDY only).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

export interface KubectlForward {
  /** The local port kubectl listens on (127.0.0.1). */
  readonly port: number;
  readonly pid: number;
  readonly stderr: () => string;
  readonly exited: () => boolean;
}

export interface KubectlForwardOptions {
  readonly pod: string;
  readonly remotePort: number;
  readonly namespace?: string;
  /** false: KUBECTL_PORT_FORWARD_WEBSOCKETS=false. */
  readonly websockets?: boolean;
  /** kubectl's -v level (default none). */
  readonly verbosity?: number;
  readonly timeoutMs?: number;
}

export async function kubectlPortForward(t: Test, kubeconfig: string, options: KubectlForwardOptions): Promise<KubectlForward> {
  const cache = await mkdtemp(join(tmpdir(), 'kubectl-pf-'));
  const args = ['--kubeconfig', kubeconfig, '--cache-dir', cache, '--request-timeout', '20s', 'port-forward', `pod/${options.pod}`, `0:${options.remotePort}`];
  if (options.namespace !== undefined) args.push('-n', options.namespace);
  if (options.verbosity !== undefined) args.push(`-v=${options.verbosity}`);
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: cache, KUBECONFIG: kubeconfig };
  if (options.websockets === false) env['KUBECTL_PORT_FORWARD_WEBSOCKETS'] = 'false';
  const child = spawn('kubectl', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exited = false;
  const closed = once(child, 'close').then(() => (exited = true));
  t.teardown(async () => {
    if (!exited && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    await closed;
    await rm(cache, { recursive: true, force: true });
  });
  child.stderr?.on('data', (c: Buffer) => {
    // Bounded: a -v=9 run logs every frame; the start and the last 256 KiB are what a test reads.
    stderr = stderr.length > 512 * 1024 ? stderr.slice(0, 128 * 1024) + stderr.slice(-256 * 1024) : stderr;
    stderr += c.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(`no "Forwarding from" in ${options.timeoutMs ?? 20_000} ms`), options.timeoutMs ?? 20_000);
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward: ${why}; stdout:\n${stdout}\nstderr:\n${stderr.slice(-8000)}`));
    };
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)/.exec(stdout);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void closed.then(() => fail(`kubectl exited (${String(child.exitCode)})`));
  });
  if (child.pid === undefined) throw new Error('kubectl has no PID');
  return { port, pid: child.pid, stderr: () => stderr, exited: () => exited };
}
