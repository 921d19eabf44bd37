/**
 * Running and watching containers of test/container/podman.test.ts: start,
 * read svcproxy's JSON log, find a published port, poll with a deadline,
 * make HTTP requests that each open a connection of their own.
 */
import { get } from 'node:http';
import type { Engine } from './podman.js';

export type LogLine = Record<string, unknown>;

/** Polls `check` every 200 ms (each try runs a podman command) until it holds or the deadline passes. */
export async function poll<T>(check: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** `podman run -d`; throws with podman's message if it refuses. */
export async function runDetached(engine: Engine, name: string, args: readonly string[]): Promise<void> {
  const run = await engine.podman(['run', '-d', '--pull=never', '--name', name, ...args]);
  if (run.code !== 0) throw new Error(`podman run ${name} exited ${String(run.code)}: ${run.stderr}`);
}

/** svcproxy's JSON log lines (stdout), in order; other lines are kept as { msg, unparsed }. */
export async function logsOf(engine: Engine, name: string): Promise<LogLine[]> {
  const logs = await engine.podman(['logs', name]);
  return logs.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line): LogLine => {
      try {
        const parsed: unknown = JSON.parse(line);
        return typeof parsed === 'object' && parsed !== null ? (parsed as LogLine) : { msg: line, unparsed: true };
      } catch {
        return { msg: line, unparsed: true };
      }
    });
}

/** Raw output of a container (a stand-in's request log). */
export async function rawLogs(engine: Engine, name: string): Promise<string> {
  const logs = await engine.podman(['logs', name]);
  return logs.stdout + logs.stderr;
}

/** Waits for a log line with this `msg`; fails early if the container stopped. */
export function waitForLog(engine: Engine, name: string, msg: string, timeoutMs = 60_000): Promise<LogLine> {
  return poll(
    async () => {
      const found = (await logsOf(engine, name)).find((l) => l['msg'] === msg);
      if (found !== undefined) return found;
      const state = await engine.podman(['inspect', '--format', '{{.State.Status}}', name]);
      if (state.stdout.trim() !== 'running') throw new Error(`${name} is ${state.stdout.trim()} before logging "${msg}":\n${await rawLogs(engine, name)}`);
      return undefined;
    },
    `${name}: "${msg}"`,
    timeoutMs,
  );
}

/** The host port a container port is published on (`-p 127.0.0.1::PORT`). */
export async function publishedPort(engine: Engine, name: string, port: number): Promise<number> {
  const out = await engine.podman(['port', name, `${port}/tcp`]);
  const host = Number(out.stdout.trim().split('\n')[0]?.split(':').pop());
  if (!Number.isInteger(host) || host <= 0) throw new Error(`${name}: port ${port} not published: ${out.stdout}${out.stderr}`);
  return host;
}

export interface State {
  readonly status: string;
  readonly exitCode: number;
  readonly pid: number;
}

export async function stateOf(engine: Engine, name: string): Promise<State> {
  const out = await engine.podman(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}', name]);
  const [status = '', exitCode = '', pid = ''] = out.stdout.trim().split(' ');
  return { status, exitCode: Number(exitCode), pid: Number(pid) };
}

/** One GET on a connection of its own (no keep-alive pool): status and body. */
export function httpGet(port: number, path = '/', timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET 127.0.0.1:${port}${path}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** A Prometheus sample's value from /metrics text (0 when absent). */
export function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name}{`)));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

/**
 * The resident set of svcproxy's process inside a container (the node
 * process whose command line runs dist/main.js, not the healthcheck), in
 * KiB, read from /proc by a node started with `podman exec`.
 */
export async function svcproxyRssKiB(engine: Engine, name: string): Promise<number> {
  const script = [
    "const fs = require('node:fs');",
    "for (const p of fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d))) {",
    "  let cmd = ''; try { cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8'); } catch { continue; }",
    "  if (!cmd.startsWith('node\\0') || !cmd.includes('dist/main.js') || cmd.includes('healthcheck')) continue;",
    '  const rss = /VmRSS:\\s+(\\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"));',
    '  if (rss) console.log(rss[1]);',
    '}',
  ].join('\n');
  const out = await engine.podman(['exec', name, 'node', '-e', script]);
  return Number(out.stdout.trim().split('\n')[0]);
}
