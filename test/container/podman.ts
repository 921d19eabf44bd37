/**
 * A container engine for test/container/podman.test.ts: Debian's podman
 * (4.3), rootful, with the adjustments this kind of machine needs and a
 * storage of its own, so that one test run builds, runs and removes
 * everything it makes without touching the machine's own images.
 *
 * - CONTAINERS_CONF (a temp file; no system config is edited): the sandbox
 *   withholds CAP_SYS_RESOURCE, so the ulimits are ones it accepts (crun and
 *   runc fail on podman's defaults: `setrlimit RLIMIT_NOFILE: Operation not
 *   permitted`); runc, because crun refuses the cgroup layout (`cgroups in
 *   hybrid mode not supported`); ports below 1024 unprivileged in a
 *   container, as Docker makes them and podman 4.3 does not; netavark, for
 *   the compose name resolution (aardvark-dns).
 * - CONTAINERS_STORAGE_CONF: images, layers, containers and podman's own
 *   state live in the run's temp dir. The base image is imported there under
 *   the name the Dockerfile's FROM uses (docker.io/library/node:24-slim),
 *   which is never a name of the machine's store; the whole store goes at
 *   the end. Networks are the one shared thing: they are made with the run's
 *   own names and removed by name.
 * - No image registry is reachable: the base image is made here, from
 *   Debian's packages (debootstrap) and Node 24 from the npm registry (the
 *   `node` devDependency's binary and headers, npm@11 by `npm pack`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, chown, copyFile, cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { rootCertificates, connect as tlsConnect } from 'node:tls';
import type { Test } from 'tap';
import { REPO } from './image.js';

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

interface CommandOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Killed (SIGKILL, by PID) past this; the result then has code null. */
  readonly timeoutMs: number;
  /** Piped into stdin. */
  readonly stdin?: NodeJS.ReadableStream;
}

/** Output kept per stream: a build log is a few hundred KB; anything beyond is cut from the front. */
const MAX_OUTPUT = 4 * 1024 * 1024;

function append(buffer: string, chunk: Buffer): string {
  const next = buffer + chunk.toString();
  return next.length > MAX_OUTPUT ? next.slice(next.length - MAX_OUTPUT) : next;
}

/** Runs a command to its end (or its deadline) and collects its output. */
export async function command(file: string, args: readonly string[], options: CommandOptions): Promise<CommandResult> {
  const started = performance.now();
  const child = spawn(file, [...args], {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.stdin !== undefined && child.stdin !== null) options.stdin.pipe(child.stdin);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout = append(stdout, c)));
  child.stderr?.on('data', (c: Buffer) => (stderr = append(stderr, c)));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  if (code === null) stderr += `\n(killed after ${options.timeoutMs} ms: ${file} ${args.join(' ')})`;
  return { code, stdout, stderr, ms: performance.now() - started };
}

function onPath(name: string): boolean {
  const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/sbin'];
  return dirs.some((dir) => dir !== '' && existsSync(join(dir, name)));
}

/** The commands the image tests need. */
const NEEDED = ['podman', 'runc', 'conmon', 'netavark', 'aardvark-dns', 'catatonit', 'debootstrap', 'tar', 'podman-compose'] as const;

/** Why podman cannot run containers for these tests here ('' when it can). */
export function engineUnavailable(): string {
  if (process.platform !== 'linux') return `podman containers need Linux; this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'rootful podman and debootstrap need root (rootless podman would need subuid ranges, uidmap and slirp4netns)';
  const missing = NEEDED.filter((name) => !onPath(name) && !existsSync(`/usr/lib/podman/${name}`) && !existsSync(`/usr/libexec/podman/${name}`));
  return missing.length === 0
    ? ''
    : `not installed: ${missing.join(', ')} (apt-get install podman runc netavark aardvark-dns iptables catatonit podman-compose debootstrap; .ci/run does)`;
}

export interface Engine {
  /** The run's temp dir: storage, configs, the base rootfs, compose files. */
  readonly dir: string;
  /** This process's environment with CONTAINERS_CONF and CONTAINERS_STORAGE_CONF. */
  readonly env: NodeJS.ProcessEnv;
  /** A name no other run uses: `svcproxy-test-<pid>-<random>`. */
  readonly id: string;
  readonly podman: (args: readonly string[], timeoutMs?: number) => Promise<CommandResult>;
  /** Networks made outside podman's own bookkeeping (compose): removed by name at the end. */
  readonly networks: Set<string>;
}

function containersConf(dir: string): string {
  return [
    '[containers]',
    'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
    'default_sysctls = ["net.ipv4.ping_group_range=0 0", "net.ipv4.ip_unprivileged_port_start=0"]',
    '[engine]',
    'runtime = "runc"',
    `tmp_dir = "${join(dir, 'tmp')}"`,
    '[network]',
    'network_backend = "netavark"',
    '',
  ].join('\n');
}

/** Mount points under `dir`, deepest first (an overlay the store left mounted if a removal failed). */
function mountsUnder(dir: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(`${dir}/`));
  return points.sort((a, b) => b.length - a.length);
}

/** Removes what the run made: its containers and images (all of its store's), its networks, its mounts, its dir. */
async function removeAll(engine: Engine): Promise<void> {
  const ids = (await engine.podman(['ps', '-aq'])).stdout.split('\n').filter((l) => l !== '');
  if (ids.length > 0) await engine.podman(['rm', '-f', '-t', '0', ...ids], 60_000);
  await engine.podman(['rmi', '-af'], 120_000);
  for (const name of engine.networks) await engine.podman(['network', 'rm', '-f', name]);
  for (const point of mountsUnder(engine.dir)) await command('umount', ['-l', point], { timeoutMs: 10_000 });
  await rm(engine.dir, { recursive: true, force: true });
}

/** A fresh engine for one test process; everything it made is removed at teardown. */
export async function createEngine(t: Test): Promise<Engine> {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-podman-'));
  const id = `svcproxy-test-${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
  await writeFile(join(dir, 'containers.conf'), containersConf(dir));
  await writeFile(join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${join(dir, 'graph')}"\nrunroot = "${join(dir, 'run')}"\n`);
  const env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf') };
  const podman = (args: readonly string[], timeoutMs = 60_000) => command('podman', args, { env, timeoutMs });
  const engine: Engine = { dir, env, id, podman, networks: new Set() };
  let removed = false;
  t.teardown(async () => {
    await removeAll(engine);
    removed = true;
  });
  // A run cut short (tap's timeout signals the process, or it exits before any teardown): the same, synchronously.
  const removeNow = (): void => {
    if (removed) return;
    removed = true;
    const sync = (args: string[]) => spawnSync('podman', args, { env, stdio: 'ignore', timeout: 60_000 });
    sync(['rm', '-af', '-t', '0']);
    sync(['rmi', '-af']);
    for (const name of engine.networks) sync(['network', 'rm', '-f', name]);
    for (const point of mountsUnder(dir)) spawnSync('umount', ['-l', point], { stdio: 'ignore', timeout: 10_000 });
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', removeNow);
  process.once('SIGTERM', () => {
    removeNow();
    process.kill(process.pid, 'SIGTERM'); // the handler is gone: the default action ends the process
  });
  return engine;
}

// ------------------------------------------------------------- base image

/** The image the Dockerfile's FROM resolves to (node:${NODE_VERSION}-slim with the default 24). */
export const BASE_IMAGE = 'docker.io/library/node:24-slim';

/** The `node` devDependency's platform package: Node 24's binary and headers, as the npm registry ships them. */
function nodeFromRegistry(): string {
  const fromNode = createRequire(join(REPO, 'node_modules', 'node', 'package.json'));
  const pkg = fromNode.resolve(`node-${process.platform}-${process.arch}/package.json`);
  const dir = dirname(pkg);
  const { version } = JSON.parse(readFileSync(pkg, 'utf8')) as { version: string };
  if (!version.startsWith('24.')) throw new Error(`${dir}: Node ${version}, not 24`);
  return dir;
}

async function installNode(rootfs: string, work: string): Promise<void> {
  const node = nodeFromRegistry();
  const local = join(rootfs, 'usr', 'local');
  await mkdir(join(local, 'bin'), { recursive: true });
  await copyFile(join(node, 'bin', 'node'), join(local, 'bin', 'node'));
  await cp(join(node, 'include'), join(local, 'include'), { recursive: true });
  // npm: the official images carry it in /usr/local/lib/node_modules/npm.
  const pack = await command('npm', ['pack', 'npm@11', '--pack-destination', work, '--silent'], { timeoutMs: 120_000, cwd: work });
  if (pack.code !== 0) throw new Error(`npm pack npm@11: ${pack.stderr}`);
  const tarball = (await readdir(work)).find((f) => /^npm-11\.[\d.]+\.tgz$/.test(f));
  if (tarball === undefined) throw new Error(`npm pack npm@11 made no tarball: ${pack.stdout}`);
  const npmDir = join(local, 'lib', 'node_modules', 'npm');
  await mkdir(npmDir, { recursive: true });
  const untar = await command('tar', ['-xzf', join(work, tarball), '-C', npmDir, '--strip-components=1'], { timeoutMs: 60_000 });
  if (untar.code !== 0) throw new Error(`tar: ${untar.stderr}`);
  await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin', 'npm'));
  await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin', 'npx'));
}

/** The official images' unprivileged user: node, uid and gid 1000, home /home/node. */
async function addNodeUser(rootfs: string): Promise<void> {
  await appendFile(join(rootfs, 'etc', 'group'), 'node:x:1000:\n');
  await appendFile(join(rootfs, 'etc', 'passwd'), 'node:x:1000:1000::/home/node:/bin/sh\n');
  await appendFile(join(rootfs, 'etc', 'shadow'), 'node:*:20000:0:99999:7:::\n');
  await mkdir(join(rootfs, 'home', 'node'), { recursive: true });
  await chown(join(rootfs, 'home', 'node'), 1000, 1000);
}

export interface BaseImage {
  readonly debootstrapMs: number;
  readonly totalMs: number;
}

/**
 * Makes BASE_IMAGE in the engine's store: Debian bookworm (debootstrap
 * --variant=minbase, the packages' cache dropped), Node 24 and npm 11 in
 * /usr/local, the node user; imported with the official image's PATH and
 * CMD. The rootfs is removed once imported.
 */
export async function makeBaseImage(engine: Engine): Promise<BaseImage> {
  const started = performance.now();
  const rootfs = join(engine.dir, 'rootfs');
  const mirror = process.env['SVCPROXY_DEBIAN_MIRROR'] ?? 'http://deb.debian.org/debian';
  const boot = await command('debootstrap', ['--variant=minbase', 'bookworm', rootfs, mirror], { timeoutMs: 300_000 });
  if (boot.code !== 0) throw new Error(`debootstrap exited ${String(boot.code)}:\n${boot.stderr.slice(-4000)}\n${boot.stdout.slice(-4000)}`);
  const debootstrapMs = boot.ms;
  await rm(join(rootfs, 'var', 'cache', 'apt', 'archives'), { recursive: true, force: true });
  await mkdir(join(rootfs, 'var', 'cache', 'apt', 'archives', 'partial'), { recursive: true });
  const work = join(engine.dir, 'npm-pack');
  await mkdir(work);
  await installNode(rootfs, work);
  await addNodeUser(rootfs);
  const tar = spawn('tar', ['-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const changes = ['ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD=["node"]'];
  const imported = await command('podman', ['import', ...changes.flatMap((c) => ['--change', c]), '-', BASE_IMAGE], {
    env: engine.env,
    timeoutMs: 300_000,
    stdin: tar.stdout,
  });
  if (imported.code !== 0) throw new Error(`podman import: ${imported.stderr}`);
  await rm(rootfs, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
  return { debootstrapMs, totalMs: performance.now() - started };
}

// ------------------------------------------------------------------ builds

/**
 * Whether TLS to the npm registry is intercepted (a proxy with its own CA):
 * the registry's certificate does not verify against Node's bundled roots
 * alone. Then a build's `npm ci` needs the machine's CA bundle.
 */
export async function registryTlsIntercepted(host = 'registry.npmjs.org'): Promise<boolean> {
  const socket = tlsConnect({ host, port: 443, servername: host, ca: [...rootCertificates], timeout: 15_000 });
  try {
    await Promise.race([
      once(socket, 'secureConnect'),
      once(socket, 'timeout').then(() => {
        throw new Error(`TLS to ${host}: timed out`);
      }),
    ]);
    return false;
  } catch (err: unknown) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code);
  } finally {
    socket.destroy();
  }
}

/** The machine's CA bundle, for intercepted TLS. */
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * Build-time mounts that let npm inside a build trust an intercepting proxy,
 * without putting anything in the image: the CA bundle, and a global npmrc
 * (the official images' npm reads /usr/local/etc/npmrc) naming it.
 */
export async function caMounts(engine: Engine): Promise<string[]> {
  const npmrc = join(engine.dir, 'npmrc');
  await writeFile(npmrc, `cafile=${CA_BUNDLE}\n`);
  return ['-v', `${CA_BUNDLE}:${CA_BUNDLE}:ro`, '-v', `${npmrc}:/usr/local/etc/npmrc:ro`];
}

export interface BuildOptions {
  readonly tag: string;
  readonly buildArgs?: Readonly<Record<string, string>>;
  /** Extra `podman build` arguments (the CA mounts). */
  readonly extra?: readonly string[];
  /** The context; default the repository root. */
  readonly context?: string;
}

/** `podman build` of the context's Dockerfile: docker format (HEALTHCHECK), never pulling. */
export function build(engine: Engine, options: BuildOptions): Promise<CommandResult> {
  const args = ['build', '--pull=never', '--format', 'docker', '-t', options.tag];
  for (const [k, v] of Object.entries(options.buildArgs ?? {})) args.push('--build-arg', `${k}=${v}`);
  return engine.podman([...args, ...(options.extra ?? []), options.context ?? REPO], 600_000);
}
