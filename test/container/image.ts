/**
 * What the container tests know about the image and the compose examples,
 * read from the files themselves, plus a stand-in for "run the image" that
 * needs no container engine.
 *
 * The Dockerfile is parsed by dockerfile-ast (the parser behind the
 * dockerfile-utils linter that CI runs), the compose files as YAML. A
 * "container" here is a temp directory standing for the image's `/`, laid out
 * by the runtime stage's COPY instructions (as symlinks) and by compose volume
 * mounts; the ENTRYPOINT runs as a real child process with the image's ENV,
 * its WORKDIR (mapped into that directory) as the working directory, and every
 * absolute container path in ENV values and arguments mapped the same way.
 */
import { lstat, mkdir, mkdtemp, readFile, rm, symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Cmd,
  Copy,
  DockerfileParser,
  Entrypoint,
  Env,
  From,
  Healthcheck,
  Label,
  Run,
  Stopsignal,
  User,
  Volume,
  Workdir,
  type Instruction,
} from 'dockerfile-ast';
import type { Test } from 'tap';
import { runProcess, serveProcess, type Run as ProcessRun, type Served } from '../helpers/process.js';
import { parse, parseAllDocuments } from 'yaml';

/** The repository root (this file runs from build/test/container/). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const DOCKERFILE = join(REPO, 'Dockerfile');

// ---------------------------------------------------------------- Dockerfile

interface CopySpec {
  /** The stage named by --from, or undefined for the build context. */
  readonly from: string | undefined;
  readonly sources: readonly string[];
  /** As written; resolve against `workdir`. */
  readonly dest: string;
  /** The WORKDIR in effect at this COPY. */
  readonly workdir: string;
}

export interface Stage {
  readonly name: string | undefined;
  /** The FROM image as written, e.g. `node:${NODE_VERSION}-slim`. */
  readonly image: string;
  readonly workdir: string;
  /** Every RUN's command text. */
  readonly runs: readonly string[];
  readonly copies: readonly CopySpec[];
  readonly env: Readonly<Record<string, string>>;
  readonly user: string | undefined;
  /** Exec form (a JSON array) or undefined when absent; a shell form is kept as ['/bin/sh', '-c', text]. */
  readonly entrypoint: readonly string[] | undefined;
  readonly cmd: readonly string[] | undefined;
  readonly entrypointIsExecForm: boolean;
  readonly healthcheck: { readonly flags: Readonly<Record<string, string>>; readonly command: readonly string[]; readonly execForm: boolean } | undefined;
  readonly volumes: readonly string[];
  readonly expose: readonly string[];
  readonly stopSignal: string | undefined;
  /** LABEL key -> value, quotes removed. */
  readonly labels: Readonly<Record<string, string>>;
}

export interface ParsedDockerfile {
  /** ARGs before the first FROM: name -> default. */
  readonly globalArgs: Readonly<Record<string, string | undefined>>;
  readonly stages: readonly Stage[];
  /** The last stage: the image `docker build` produces. */
  readonly runtime: Stage;
}

/** A JSON array of strings (Docker's exec form), or undefined for the shell form. */
function execForm(text: string): string[] | undefined {
  if (!text.trimStart().startsWith('[')) return undefined;
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
    throw new Error(`not a JSON array of strings: ${text}`);
  }
  return value;
}

function commandOf(text: string): { command: string[]; execForm: boolean } {
  const exec = execForm(text);
  return exec === undefined ? { command: ['/bin/sh', '-c', text], execForm: false } : { command: exec, execForm: true };
}

class StageBuilder {
  workdir = '/';
  readonly runs: string[] = [];
  readonly copies: CopySpec[] = [];
  readonly env: Record<string, string> = {};
  user: string | undefined;
  entrypoint: { command: string[]; execForm: boolean } | undefined;
  cmd: string[] | undefined;
  healthcheck: Stage['healthcheck'];
  readonly volumes: string[] = [];
  readonly expose: string[] = [];
  stopSignal: string | undefined;
  readonly labels: Record<string, string> = {};

  constructor(
    readonly name: string | undefined,
    readonly image: string,
  ) {}

  add(ins: Instruction): void {
    const text = ins.getArgumentsContent() ?? '';
    if (ins instanceof Workdir) this.workdir = posix.resolve(this.workdir, text.trim());
    else if (ins instanceof Run) this.runs.push(text);
    else if (ins instanceof Copy) this.addCopy(ins, text);
    else if (ins instanceof Label) Object.assign(this.labels, properties(ins));
    else if (ins instanceof Env) Object.assign(this.env, properties(ins));
    else if (ins instanceof User) this.user = text.trim();
    else if (ins instanceof Entrypoint) this.entrypoint = commandOf(text);
    else if (ins instanceof Cmd) this.cmd = commandOf(text).command;
    else if (ins instanceof Healthcheck) this.healthcheck = healthcheckOf(ins, text);
    else if (ins instanceof Volume) {
      this.volumes.push(...(execForm(text) ?? text.trim().split(/\s+/)));
    } else if (ins.getKeyword() === 'EXPOSE') this.expose.push(...text.trim().split(/\s+/));
    else if (ins instanceof Stopsignal) this.stopSignal = text.trim();
  }

  private addCopy(ins: Copy, text: string): void {
    const args = ins.getArguments().map((a) => a.getValue());
    const dest = args.pop();
    if (dest === undefined || args.length === 0) throw new Error(`COPY without source or destination: ${text}`);
    this.copies.push({ from: ins.getFromFlag()?.getValue() ?? undefined, sources: args, dest, workdir: this.workdir });
  }

  build(): Stage {
    return {
      name: this.name,
      image: this.image,
      workdir: this.workdir,
      runs: this.runs,
      copies: this.copies,
      env: this.env,
      user: this.user,
      entrypoint: this.entrypoint?.command,
      entrypointIsExecForm: this.entrypoint?.execForm ?? false,
      cmd: this.cmd,
      healthcheck: this.healthcheck,
      volumes: this.volumes,
      expose: this.expose,
      stopSignal: this.stopSignal,
      labels: this.labels,
    };
  }
}

/** A LABEL's or ENV's name=value pairs. */
function properties(ins: Label | Env): Record<string, string> {
  return Object.fromEntries(ins.getProperties().map((p) => [p.getName(), p.getValue() ?? '']));
}

function healthcheckOf(ins: Healthcheck, text: string): NonNullable<Stage['healthcheck']> {
  const sub = ins.getSubcommand()?.getValue().toUpperCase();
  if (sub !== 'CMD') throw new Error(`HEALTHCHECK ${sub ?? ''}: only HEALTHCHECK [options] CMD is understood here`);
  const flags: Record<string, string> = {};
  for (const f of ins.getFlags()) flags[f.getName()] = f.getValue() ?? '';
  const after = text.slice(text.toUpperCase().indexOf('CMD') + 3);
  const { command, execForm: exec } = commandOf(after.trim());
  return { flags, command, execForm: exec };
}

function parseDockerfile(text: string): ParsedDockerfile {
  const dockerfile = DockerfileParser.parse(text);
  const globalArgs: Record<string, string | undefined> = {};
  const stages: Stage[] = [];
  let current: StageBuilder | undefined;
  for (const ins of dockerfile.getInstructions()) {
    if (ins instanceof From) {
      if (current !== undefined) stages.push(current.build());
      const image = ins.getArguments()[0]?.getValue() ?? '';
      current = new StageBuilder(ins.getBuildStage() ?? undefined, image);
    } else if (current === undefined) {
      if (ins.getKeyword() !== 'ARG') throw new Error(`${ins.getKeyword()} before the first FROM`);
      const [name, ...rest] = (ins.getArgumentsContent() ?? '').split('=');
      globalArgs[(name ?? '').trim()] = rest.length === 0 ? undefined : rest.join('=').trim();
    } else current.add(ins);
  }
  if (current === undefined) throw new Error('no FROM in the Dockerfile');
  stages.push(current.build());
  const runtime = stages[stages.length - 1];
  if (runtime === undefined) throw new Error('no stage');
  return { globalArgs, stages, runtime };
}

export async function readDockerfile(): Promise<ParsedDockerfile> {
  return parseDockerfile(await readFile(DOCKERFILE, 'utf8'));
}

// ------------------------------------------------------------------ compose

interface Mount {
  /** Absolute host path. */
  readonly source: string;
  /** Absolute container path. */
  readonly target: string;
  readonly readOnly: boolean;
}

export interface ComposeService {
  readonly name: string;
  readonly raw: Readonly<Record<string, unknown>>;
  readonly environment: Readonly<Record<string, string>>;
  readonly mounts: readonly Mount[];
  /** Extra arguments after the ENTRYPOINT (compose `command:`), if any. */
  readonly command: readonly string[] | undefined;
}

export interface ComposeFile {
  readonly file: string;
  readonly services: ReadonlyMap<string, ComposeService>;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) throw new Error(`${what}: expected a list of strings`);
  return value;
}

function environmentOf(value: unknown, what: string): Record<string, string> {
  if (value === undefined) return {};
  if (Array.isArray(value)) {
    const env: Record<string, string> = {};
    for (const item of stringList(value, what)) {
      const i = item.indexOf('=');
      if (i < 0) throw new Error(`${what}: "${item}" takes its value from the host, which these tests do not model`);
      env[item.slice(0, i)] = item.slice(i + 1);
    }
    return env;
  }
  if (!isRecord(value)) throw new Error(`${what}: expected a map or a list`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new Error(`${what}.${k}: expected a scalar`);
    env[k] = String(v);
  }
  return env;
}

function mountsOf(value: unknown, dir: string, what: string): Mount[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list`);
  return value.map((item: unknown, i) => {
    if (typeof item === 'string') {
      const [source, target, mode] = item.split(':');
      if (source === undefined || target === undefined || !/^[./~]/.test(source)) {
        throw new Error(`${what}[${i}]: "${item}" is not a bind mount of a host path`);
      }
      return { source: resolve(dir, source), target, readOnly: (mode ?? '').split(',').includes('ro') };
    }
    if (isRecord(item) && item['type'] === 'bind' && typeof item['source'] === 'string' && typeof item['target'] === 'string') {
      return { source: resolve(dir, item['source']), target: item['target'], readOnly: item['read_only'] === true };
    }
    throw new Error(`${what}[${i}]: only bind mounts are understood here`);
  });
}

export async function readCompose(file: string): Promise<ComposeFile> {
  const doc: unknown = parse(await readFile(file, 'utf8'));
  if (!isRecord(doc) || !isRecord(doc['services'])) throw new Error(`${file}: no services`);
  const services = new Map<string, ComposeService>();
  for (const [name, raw] of Object.entries(doc['services'])) {
    if (!isRecord(raw)) throw new Error(`${file}: services.${name} is not a map`);
    const command = raw['command'];
    services.set(name, {
      name,
      raw,
      environment: environmentOf(raw['environment'], `services.${name}.environment`),
      mounts: mountsOf(raw['volumes'], dirname(file), `services.${name}.volumes`),
      command: command === undefined ? undefined : typeof command === 'string' ? command.split(/\s+/) : stringList(command, `services.${name}.command`),
    });
  }
  return { file, services };
}

/** The service built from this repository (its build context is the repository root). */
export function svcproxyService(compose: ComposeFile): ComposeService {
  const found = [...compose.services.values()].filter((s) => {
    const build = s.raw['build'];
    const context = typeof build === 'string' ? build : isRecord(build) && typeof build['context'] === 'string' ? build['context'] : undefined;
    return context !== undefined && relative(resolve(dirname(compose.file), context), REPO) === '';
  });
  if (found.length !== 1 || found[0] === undefined)
    throw new Error(`${compose.file}: expected one service built from the repository root, found ${found.length}`);
  return found[0];
}

/** The examples' compose files: examples/<name>/docker-compose.yml. */
export const EXAMPLES = ['compose', 'sidecar', 'compose-replicas'].map((name) => ({ name, file: join(REPO, 'examples', name, 'docker-compose.yml') }));

// ---------------------------------------------------------------- container

/**
 * What stands in, outside a container, for the outputs of earlier stages that
 * the runtime stage copies. Keys are `stage:path`.
 *
 * `build:/app/dist` is `npm run build` (tsc -p tsconfig.build.json: src/ ->
 * dist/) in the build stage. The test build (tsc -p tsconfig.json) compiles
 * the same src/ with the same compiler options into build/src/, so
 * build/src/ stands in for it: no second compile, and the child processes
 * are covered by tap's coverage. dockerfile.test.ts checks that
 * tsconfig.build.json still only moves rootDir/outDir. The suite's own
 * node_modules stands in for the deps stage (a superset: it also has the
 * devDependencies; dockerfile.test.ts checks that src/ imports none of them).
 */
const STAGE_OUTPUTS: Readonly<Record<string, string>> = {
  'build:/app/dist': join(REPO, 'build', 'src'),
  'deps:/app/node_modules': join(REPO, 'node_modules'),
  // The native stage's /out/native holds native/splice-pump/build/Release/splice_pump.node (when built),
  // which the checkout's own install build put in the same place.
  'native:/out/native': join(REPO, 'native'),
};

export interface Container {
  /** The temp directory that stands for the container's `/`. */
  readonly root: string;
  /** The WORKDIR, mapped. */
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Maps a container path to the host path standing for it. */
  readonly host: (containerPath: string) => string;
}

export interface ContainerOptions {
  /** compose-style bind mounts (they hide what COPY put at their target). */
  readonly mounts?: readonly Mount[];
  /** compose `environment:` / `docker run -e`: over the image's ENV. */
  readonly environment?: Readonly<Record<string, string>>;
}

async function hasSymlinkAncestor(root: string, path: string): Promise<boolean> {
  for (let p = dirname(path); p.length > root.length; p = dirname(p)) {
    try {
      if ((await lstat(p)).isSymbolicLink()) return true;
    } catch {
      // not there yet
    }
  }
  return false;
}

async function place(root: string, containerPath: string, hostPath: string): Promise<void> {
  const at = join(root, containerPath);
  if (await hasSymlinkAncestor(root, at)) throw new Error(`${containerPath}: inside another COPY or mount; not modelled`);
  await mkdir(dirname(at), { recursive: true });
  let existing;
  try {
    existing = await lstat(at);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined) {
    if (!existing.isSymbolicLink()) throw new Error(`${containerPath}: two sources merge here; not modelled`);
    await unlink(at); // a mount hides what COPY put there
  }
  await symlink(hostPath, at);
}

/** Lays out the runtime image's filesystem under a temp root, removed at teardown. */
export async function makeContainer(t: Test, image: Stage, options: ContainerOptions = {}): Promise<Container> {
  const root = await mkdtemp(join(tmpdir(), 'svcproxy-image-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  for (const copy of image.copies) {
    const dest = posix.resolve(copy.workdir, copy.dest);
    for (const source of copy.sources) {
      const hostPath = copy.from === undefined ? join(REPO, source) : STAGE_OUTPUTS[`${copy.from}:${posix.resolve('/', source)}`];
      if (hostPath === undefined) throw new Error(`COPY --from=${copy.from} ${source}: no stand-in in STAGE_OUTPUTS`);
      const isDir = (await lstat(hostPath)).isDirectory();
      // Docker: a directory's contents go to dest; a file goes to dest/ or to dest itself.
      const target = isDir || (!copy.dest.endsWith('/') && copy.sources.length === 1) ? dest : posix.join(dest, basename(source));
      await place(root, target, hostPath);
    }
  }
  for (const mount of options.mounts ?? []) await place(root, mount.target, mount.source);
  await mkdir(join(root, image.workdir), { recursive: true });

  const host = (containerPath: string): string => join(root, containerPath);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SVCPROXY_')) env[k] = v; // no leaks from the developer's shell
  for (const [k, v] of Object.entries({ ...image.env, ...options.environment })) env[k] = v.startsWith('/') ? host(v) : v;
  return { root, cwd: host(image.workdir), env, host };
}

/** An exec-form command as the container would run it: `node` is this Node, container paths are mapped. */
function hostCommand(container: Container, command: readonly string[]): { file: string; args: string[] } {
  const [file, ...args] = command;
  if (file !== 'node') throw new Error(`expected the command to start with node, got ${String(file)}`);
  return { file: process.execPath, args: args.map((a) => (a.startsWith('/') ? container.host(a) : a)) };
}

export type Exit = ProcessRun;

export function runToEnd(container: Container, command: readonly string[]): Promise<Exit> {
  const { file, args } = hostCommand(container, command);
  return runProcess(file, args, { cwd: container.cwd, env: container.env });
}

export type Running = Served;

/** Starts a long-running command; killed by its PID at teardown if still running. */
export function start(t: Test, container: Container, command: readonly string[]): Running {
  const { file, args } = hostCommand(container, command);
  return serveProcess(t, file, args, { cwd: container.cwd, env: container.env });
}

// --------------------------------------------------------------- manifests

export interface Rewrite {
  /** Service `port` and `targetPort` numbers: old -> new. */
  readonly ports?: ReadonlyMap<number, number>;
  /** EndpointSlice endpoint addresses: old -> new. */
  readonly addresses?: ReadonlyMap<string, string>;
}

function rewriteServicePorts(obj: Record<string, unknown>, rewrite: Rewrite, used: Set<string>): void {
  const spec = obj['spec'];
  if (obj['kind'] !== 'Service' || !isRecord(spec) || !Array.isArray(spec['ports'])) return;
  for (const port of spec['ports']) {
    if (!isRecord(port)) continue;
    for (const key of ['port', 'targetPort']) {
      const value = port[key];
      const to = typeof value === 'number' ? rewrite.ports?.get(value) : undefined;
      if (to !== undefined) {
        port[key] = to;
        used.add(`port ${String(value)}`);
      }
    }
  }
}

function rewriteSliceAddresses(obj: Record<string, unknown>, rewrite: Rewrite, used: Set<string>): void {
  if (obj['kind'] !== 'EndpointSlice' || !Array.isArray(obj['endpoints'])) return;
  for (const endpoint of obj['endpoints']) {
    if (!isRecord(endpoint) || !Array.isArray(endpoint['addresses'])) continue;
    endpoint['addresses'] = endpoint['addresses'].map((a: unknown) => {
      const to = typeof a === 'string' ? rewrite.addresses?.get(a) : undefined;
      if (to === undefined) return a;
      used.add(`address ${String(a)}`);
      return to;
    });
  }
}

/**
 * Rewrites ports and endpoint addresses in a manifest file (multi-document
 * YAML), for a real run outside a container where port 80 cannot be bound
 * and compose DNS names do not resolve. Every mapping must be used at least
 * once, so a rewrite can never silently do nothing.
 */
export function rewriteManifests(text: string, rewrite: Rewrite): string {
  const used = new Set<string>();
  const out: string[] = [];
  for (const doc of parseAllDocuments(text)) {
    const obj: unknown = doc.toJS();
    if (!isRecord(obj)) continue;
    rewriteServicePorts(obj, rewrite, used);
    rewriteSliceAddresses(obj, rewrite, used);
    out.push(JSON.stringify(obj));
  }
  const wanted = [...(rewrite.ports?.keys() ?? [])].map((p) => `port ${p}`).concat([...(rewrite.addresses?.keys() ?? [])].map((a) => `address ${a}`));
  const unused = wanted.filter((w) => !used.has(w));
  if (unused.length > 0) throw new Error(`rewrite found nothing to change for: ${unused.join(', ')}`);
  // JSON is YAML: one document per object.
  return out.map((o) => `---\n${o}\n`).join('');
}
