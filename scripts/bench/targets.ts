/**
 * What the load generator points at: `direct` (the backends themselves),
 * svcproxy (the built dist/main.js with a temp config) with its native pump
 * and with `--pump js`, a bare Node pipe() proxy, and HAProxy and nginx when
 * installed. A driver detects its program (or says why it is skipped)
 * and starts an instance listening on two free loopback ports, one in front
 * of each backend.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haproxyConfig, nginxConfig, svcproxyManifests, type PortPair } from './configs.js';
import { assertLoopback } from './loopback.js';
import type { TargetName } from './options.js';
import { freePort as heldPort } from '../../test/helpers/ports.js';
import { fdSoftLimit, type Processes, type Tracked } from './processes.js';

export interface StartContext {
  readonly host: string;
  readonly backends: PortPair;
  readonly processes: Processes;
  /** A fresh directory for this instance's config files. */
  readonly dir: string;
  /** Idle connections the instance must hold at once (the memory step). */
  readonly maxConnections: number;
  /** Extra `node` flags for svcproxy (e.g. --cpu-prof); ignored by the other drivers. */
  readonly nodeArgs?: readonly string[];
  /** With --pin: the CPUs the proxy runs on. */
  readonly cpus?: string | undefined;
}

export interface Target {
  readonly name: TargetName;
  /** Where the load generator connects. */
  readonly ports: PortPair;
  /** The proxy's process (group); undefined for `direct`. */
  readonly process: Tracked | undefined;
  /** The proxy's soft open-file limit as running, when there is a proxy process. */
  readonly fdLimit: number | undefined;
}

type Detected =
  | { readonly ok: true; readonly version: string; readonly setup: string }
  /** `required`: the run cannot go on without it (svcproxy's entry point missing). */
  | { readonly ok: false; readonly note: string; readonly required?: boolean };

export interface Driver {
  readonly name: TargetName;
  /** A Node process: the memory step can force a garbage collection in it (through the inspector) before sampling. */
  readonly node?: boolean;
  detect(): Detected;
  start(ctx: StartContext): Promise<Target>;
}

/**
 * A port held for this bench run (test/helpers/ports.ts): never released, so no other process that binds port 0
 * (a parallel test file, another job) can take it between this pick and the proxy's listen. A bind-release pick lost
 * that race now and then ("load generator: connection closed early"). The proxies bind it with SO_REUSEADDR, as the
 * holder does, so they can listen on it; the holder closes with this process.
 */
export async function freePort(host: string): Promise<number> {
  assertLoopback(host, 'freePort');
  return heldPort(host);
}

async function freePair(host: string): Promise<PortPair> {
  for (;;) {
    const pair = { discard: await freePort(host), echo: await freePort(host) };
    if (pair.discard !== pair.echo) return pair;
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      ok(true);
    });
    socket.once('error', () => ok(false));
  });
}

/** Waits until both ports accept connections, or the process exits, or 10 s pass. */
async function waitListening(host: string, ports: PortPair, proc: Tracked): Promise<void> {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const deadline = Date.now() + 10_000;
  for (const port of [ports.discard, ports.echo]) {
    while (!(await canConnect(host, port))) {
      if (exited) throw new Error(`${proc.role} exited before listening: ${proc.stderr().trim()}`);
      if (Date.now() > deadline) throw new Error(`${proc.role}: port ${port} not listening after 10 s: ${proc.stderr().trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A program on PATH or in the sbin directories a non-root PATH often lacks. */
export function which(program: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  return dirs
    .filter((d) => d.startsWith('/'))
    .map((d) => join(d, program))
    .find((p) => existsSync(p));
}

function firstLine(program: string, args: string[]): string {
  const out = spawnSync(program, args, { encoding: 'utf8' });
  return `${out.stdout ?? ''}${out.stderr ?? ''}`.split('\n')[0]?.trim() ?? '';
}

async function launch(ctx: StartContext, name: TargetName, command: string, args: string[], ports: PortPair): Promise<Target> {
  const fdLimit = 2 * ctx.maxConnections + 1024;
  const proc = ctx.processes.spawn(name, command, args, { fdLimit, cwd: process.cwd(), cpus: ctx.cpus });
  try {
    await waitListening(ctx.host, ports, proc);
  } catch (err) {
    await ctx.processes.stop(proc);
    throw err;
  }
  return { name, ports, process: proc, fdLimit: fdSoftLimit(proc.pid) };
}

export const direct: Driver = {
  name: 'direct',
  detect: () => ({ ok: true, version: 'no proxy', setup: 'the load generator connects to the backends' }),
  start: (ctx) => Promise.resolve({ name: 'direct', ports: ctx.backends, process: undefined, fdLimit: undefined }),
};

const ADDON = join('native', 'splice-pump', 'build', 'Release', 'splice_pump.node');

/** The native splice pump built next to an svcproxy entry point (dist/main.js or build/src/main.js), if any. */
export function addonNear(entry: string): string | undefined {
  let dir = dirname(resolve(entry));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, ADDON))) return join(dir, ADDON);
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * svcproxy as users run it: `node --enable-source-maps dist/main.js`, logging
 * at warn (nothing per connection), with `--pump native` (target `svcproxy`)
 * or `--pump js` (target `svcproxy-js`); `workers` > 1 adds `--workers N`.
 */
export function svcproxyDriver(entry: string, pump: 'native' | 'js' = 'native', workers = 1): Driver {
  const path = resolve(entry);
  const workerArgs = workers > 1 ? ['--workers', String(workers)] : [];
  const name = pump === 'native' ? 'svcproxy' : 'svcproxy-js';
  return {
    name,
    node: true,
    detect() {
      if (!existsSync(path)) return { ok: false, note: `${path} not found (npm run build)`, required: true };
      if (pump === 'native' && addonNear(path) === undefined) {
        return { ok: false, note: 'the native splice pump is not built (npm ci builds it on Linux with a compiler)' };
      }
      const version = firstLine(process.execPath, [path, '--version']);
      return {
        ok: true,
        version: `${version} on Node ${process.version}`,
        setup: `node --enable-source-maps ${entry} --pump ${pump} --log-level warn${workerArgs.map((a) => ` ${a}`).join('')}`,
      };
    },
    async start(ctx) {
      const ports = await freePair(ctx.host);
      const admin = await freePort(ctx.host);
      await writeFile(
        join(ctx.dir, 'bench.yaml'),
        svcproxyManifests({ host: ctx.host, listen: ports, backends: ctx.backends, maxConnections: ctx.maxConnections }),
      );
      const args = [
        ...(ctx.nodeArgs ?? []),
        '--enable-source-maps',
        path,
        '--config',
        ctx.dir,
        '--bind-address',
        ctx.host,
        '--admin-address',
        `${ctx.host}:${admin}`,
        '--log-level',
        'warn',
        '--pump',
        pump,
        ...workerArgs,
      ];
      return launch(ctx, name, process.execPath, args, ports);
    },
  };
}

/** The bare Node proxy (node-pipe-proxy.ts, compiled next to this file): the floor any JS pump stands on. */
export function nodePipeDriver(script: string = fileURLToPath(new URL('node-pipe-proxy.js', import.meta.url))): Driver {
  return {
    name: 'node-pipe',
    node: true,
    detect() {
      if (!existsSync(script)) return { ok: false, note: `${script} not found` };
      return { ok: true, version: `Node ${process.version}`, setup: 'net.createServer + socket.pipe() both ways, allowHalfOpen, noDelay' };
    },
    async start(ctx) {
      const ports = await freePair(ctx.host);
      const args = [...(ctx.nodeArgs ?? []), script, ctx.host, ports.discard, ports.echo, ctx.backends.discard, ctx.backends.echo].map(String);
      return launch(ctx, 'node-pipe', process.execPath, args, ports);
    },
  };
}

export function haproxyDriver(): Driver {
  const binary = which('haproxy');
  return {
    name: 'haproxy',
    detect() {
      if (binary === undefined) return { ok: false, note: 'haproxy not installed (apt-get install haproxy)' };
      const version = /version (\S+)/.exec(firstLine(binary, ['-v']))?.[1] ?? 'unknown';
      return { ok: true, version, setup: 'mode tcp, nbthread 1, no log, no splice' };
    },
    async start(ctx) {
      const ports = await freePair(ctx.host);
      const cfg = join(ctx.dir, 'haproxy.cfg');
      await writeFile(cfg, haproxyConfig({ host: ctx.host, listen: ports, backends: ctx.backends, maxConnections: ctx.maxConnections }));
      return launch(ctx, 'haproxy', binary ?? 'haproxy', ['-db', '-f', cfg], ports);
    },
  };
}

const MODULE_DIRS = ['/usr/lib/nginx/modules', '/usr/lib64/nginx/modules', '/usr/share/nginx/modules', '/usr/local/nginx/modules', '/etc/nginx/modules'];

/**
 * From `nginx -V`: undefined when stream is built in; the .so to load when it
 * is a dynamic module (looked for in --modules-path, then `fallbackDirs`);
 * null when this nginx has no stream module.
 */
export function streamModule(buildInfo: string, fallbackDirs: readonly string[] = MODULE_DIRS): string | undefined | null {
  if (/--with-stream(\s|$)/.test(buildInfo)) return undefined;
  if (!buildInfo.includes('--with-stream=dynamic')) return null;
  const configured = /--modules-path=(\S+)/.exec(buildInfo)?.[1];
  const dirs = configured === undefined ? fallbackDirs : [configured, ...fallbackDirs];
  return dirs.map((d) => join(d, 'ngx_stream_module.so')).find((p) => existsSync(p)) ?? null;
}

export function nginxDriver(): Driver {
  const binary = which('nginx');
  let module: string | undefined | null = null;
  return {
    name: 'nginx',
    detect() {
      if (binary === undefined) return { ok: false, note: 'nginx not installed (apt-get install nginx-light libnginx-mod-stream)' };
      const info = spawnSync(binary, ['-V'], { encoding: 'utf8' });
      module = streamModule(`${info.stdout ?? ''}${info.stderr ?? ''}`);
      if (module === null) return { ok: false, note: 'nginx has no stream module here (apt-get install libnginx-mod-stream)' };
      const version = /nginx\/(\S+)/.exec(firstLine(binary, ['-v']))?.[1] ?? 'unknown';
      return { ok: true, version, setup: 'stream, 1 worker, access_log off, tcp_nodelay on, proxy_half_close on' };
    },
    async start(ctx) {
      const ports = await freePair(ctx.host);
      const runDir = join(ctx.dir, 'run');
      await mkdir(runDir, { recursive: true });
      const conf = join(ctx.dir, 'nginx.conf');
      const streamModuleFile = module ?? undefined;
      await writeFile(
        conf,
        nginxConfig({ host: ctx.host, listen: ports, backends: ctx.backends, maxConnections: ctx.maxConnections, streamModule: streamModuleFile, runDir }),
      );
      return launch(ctx, 'nginx', binary ?? 'nginx', ['-p', ctx.dir, '-e', 'stderr', '-c', conf], ports);
    },
  };
}
