/**
 * The Dockerfile, checked without a container engine: the dockerfile-utils
 * linter, the shape the issue asks for (multi-stage, non-root, exec-form
 * entrypoint, healthcheck subcommand, no anonymous volume, OCI labels), the .dockerignore
 * against every COPY, and that the runtime code needs no devDependency.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import t from 'tap';
import { DOCKERFILE, isRecord, readDockerfile, REPO, type Stage } from './image.js';

const LINTER = join(REPO, 'node_modules', '.bin', 'dockerfile-utils');

async function lint(file: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(LINTER, ['lint', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, output };
}

t.test('dockerfile-utils lint: no error and no warning', async (t) => {
  const result = await lint(DOCKERFILE);
  t.equal(result.code, 0, result.output);
  t.equal(result.output.trim(), '', 'the linter prints nothing for a clean file');
});

t.test('dockerfile-utils lint fails on a broken Dockerfile (the check can fail)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-lint-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const broken = (await readFile(DOCKERFILE, 'utf8')).replace(/^HEALTHCHECK [\s\S]*?\n(?=\S)/m, 'HEALTHCHECK CMD\n');
  t.not(broken, await readFile(DOCKERFILE, 'utf8'), 'the HEALTHCHECK was broken');
  await writeFile(join(dir, 'Dockerfile'), broken);
  const result = await lint(join(dir, 'Dockerfile'));
  t.equal(result.code, 1);
  t.match(result.output, /Missing command after HEALTHCHECK CMD/);
});

t.test('multi-stage: Node version a build argument defaulting to 24; dev deps only where TypeScript compiles', async (t) => {
  const { globalArgs, stages, runtime } = await readDockerfile();
  t.equal(globalArgs['NODE_VERSION'], '24');
  t.ok(stages.length >= 2, 'more than one stage');
  for (const stage of stages) t.match(stage.image, /^node:\$\{NODE_VERSION\}(-[a-z0-9.]+)?$/, `FROM ${stage.image}`);

  const byName = new Map(stages.filter((s) => s.name !== undefined).map((s) => [s.name, s]));
  const fromStage = (dest: string): Stage | undefined => {
    const copy = runtime.copies.find((c) => c.from !== undefined && c.dest.replace(/\/$/, '').endsWith(dest));
    return copy?.from === undefined ? undefined : byName.get(copy.from);
  };
  const build = fromStage('dist');
  const deps = fromStage('node_modules');
  if (build === undefined || deps === undefined) throw new Error('the runtime stage copies dist and node_modules from named stages');
  t.ok(
    build.runs.some((r) => /^npm ci\b/.test(r) && !r.includes('--omit=dev')),
    'the build stage installs dev dependencies',
  );
  t.ok(
    build.runs.some((r) => /^npm ci --ignore-scripts && rm -f node_modules\/\.bin\/node$/.test(r)),
    "the node devDependency is not installed and its bin link is removed, so npm run build uses the image's Node",
  );
  t.ok(build.runs.includes('npm run build'), 'the build stage runs npm run build');
  t.ok(
    deps.runs.some((r) => /^npm ci\b.*--omit=dev/.test(r)),
    'node_modules comes from npm ci --omit=dev',
  );

  t.same(
    runtime.copies.map((c) => `${c.from ?? 'context'}:${c.sources.join(' ')} -> ${c.dest}`),
    [
      `${deps.name ?? ''}:/app/node_modules -> ./node_modules`,
      `${build.name ?? ''}:/app/dist -> ./dist`,
      'native:/out/native -> ./native',
      'context:package.json -> ./',
      'context:config/ -> /etc/svcproxy/',
    ],
    'the runtime image gets the compiled output, production deps, the native pump, package.json and the bundled config, nothing else',
  );
  t.same(runtime.runs, [], 'nothing is built or installed in the runtime stage');
  t.equal(runtime.workdir, '/app');
});

t.test('tsconfig.build.json is tsconfig.json with only rootDir/outDir moved (so build/src stands in for dist)', async (t) => {
  const build: unknown = JSON.parse(await readFile(join(REPO, 'tsconfig.build.json'), 'utf8'));
  if (!isRecord(build)) throw new Error('tsconfig.build.json is not an object');
  t.equal(build['extends'], './tsconfig.json');
  t.same(build['compilerOptions'], { rootDir: 'src', outDir: 'dist' });
  t.same(build['include'], ['src']);
});

t.test('runtime: unprivileged, no anonymous volume, container-wide addresses, exec-form entrypoint', async (t) => {
  const { runtime } = await readDockerfile();
  t.equal(runtime.user, 'node', 'runs as the node user (uid 1000 in the official images)');
  t.same(runtime.volumes, [], 'no VOLUME: a run without --rm would leave an anonymous volume behind');
  t.same(runtime.env, {
    NODE_ENV: 'production',
    SVCPROXY_CONFIG: '/etc/svcproxy',
    SVCPROXY_BIND_ADDRESS: '0.0.0.0',
    SVCPROXY_ADMIN_ADDRESS: '0.0.0.0:9901',
  });
  t.ok(runtime.entrypointIsExecForm, 'exec form: node itself is PID 1 and gets SIGTERM (a shell form would put /bin/sh there)');
  t.same(runtime.entrypoint, ['node', '--enable-source-maps', 'dist/main.js']);
  t.equal(runtime.cmd, undefined, 'no CMD: docker run arguments go straight to svcproxy');
  t.ok(runtime.stopSignal === undefined || runtime.stopSignal === 'SIGTERM');
  t.same(runtime.expose, ['8080', '9901']);
});

t.test('HEALTHCHECK: exec form, the svcproxy healthcheck subcommand, no curl or wget', async (t) => {
  const { runtime } = await readDockerfile();
  const hc = runtime.healthcheck;
  if (hc === undefined) throw new Error('no HEALTHCHECK');
  t.ok(hc.execForm);
  t.same(hc.command, ['node', 'dist/main.js', 'healthcheck']);
  t.match(hc.flags, { interval: /s$/, timeout: /s$/, retries: /^\d+$/ });
});

t.test('OCI labels: title, description, licence and version, the version and licence those of package.json', async (t) => {
  const { runtime } = await readDockerfile();
  const pkg: unknown = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'));
  if (!isRecord(pkg)) throw new Error('package.json is not an object');
  t.match(runtime.labels, {
    'org.opencontainers.image.title': 'svcproxy',
    'org.opencontainers.image.description': /Kubernetes Service/,
    'org.opencontainers.image.version': String(pkg['version']),
    'org.opencontainers.image.licenses': String(pkg['license']),
    'org.opencontainers.image.base.name': 'node:${NODE_VERSION}-slim',
  });
});

/** Docker's .dockerignore rules: patterns match a path or any of its parents; the last match wins; `!` re-includes. */
function ignored(patterns: readonly string[], path: string): boolean {
  const toRegExp = (p: string): RegExp =>
    new RegExp(
      `^${p
        .replace(/^\/+|\/+$/g, '')
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '\u0000')
        .replace(/\*\*/g, '\u0001')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')
        // oxlint-disable-next-line no-control-regex -- \u0000 and \u0001 are placeholders this function put there itself
        .replace(/\u0000/g, '(?:.*/)?')
        // oxlint-disable-next-line no-control-regex -- see above
        .replace(/\u0001/g, '.*')}$`,
    );
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let result = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const re = toRegExp(negate ? raw.slice(1) : raw);
    if (prefixes.some((p) => re.test(p))) result = !negate;
  }
  return result;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(REPO, join(e.parentPath, e.name)));
}

t.test('.dockerignore keeps every file the Dockerfile COPYs from the context, and nothing heavy or private', async (t) => {
  const patterns = (await readFile(join(REPO, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const { stages } = await readDockerfile();
  const sources = stages.flatMap((s) => s.copies.filter((c) => c.from === undefined).flatMap((c) => c.sources));
  t.ok(sources.includes('src') && sources.includes('config/'), 'the Dockerfile copies src and config from the context');
  for (const source of sources) {
    const path = join(REPO, source);
    const files = (await stat(path)).isDirectory() ? await filesUnder(path) : [source];
    t.ok(files.length > 0, `${source} has files`);
    const dropped = files.filter((f) => ignored(patterns, f));
    t.same(dropped, [], `nothing under ${source} is ignored`);
  }
  for (const path of [
    'node_modules/pino/package.json',
    'dist/main.js',
    'build/src/main.js',
    '.git/HEAD',
    '.tap/last-run.tap',
    'test/e2e/cli.test.ts',
    'examples/compose/docker-compose.yml',
    'Dockerfile',
    'svcproxy-0.1.0.tgz',
  ]) {
    t.ok(ignored(patterns, path), `${path} stays out of the build context`);
  }
});

t.test('the runtime code imports only Node built-ins and package.json dependencies (the image has no devDependencies)', async (t) => {
  const pkg: unknown = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'));
  if (!isRecord(pkg) || !isRecord(pkg['dependencies'])) throw new Error('package.json has no dependencies');
  const dependencies = new Set(Object.keys(pkg['dependencies']));
  const compiled = join(REPO, 'build', 'src');
  const files = (await filesUnder(compiled)).filter((f) => f.endsWith('.js'));
  t.ok(files.length > 10, 'found the compiled src/');
  const imported = new Map<string, string>();
  const patterns = [/^\s*(?:import|export)\s[^'"]*?\bfrom\s*['"]([^'"]+)['"]/gm, /^\s*import\s*['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const file of files) {
    const text = await readFile(join(REPO, file), 'utf8');
    for (const re of patterns) {
      for (const m of text.matchAll(re)) {
        const spec = m[1] ?? '';
        if (spec.startsWith('.') || spec.startsWith('/') || isBuiltin(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec);
        imported.set(name, file);
      }
    }
  }
  t.ok(imported.has('pino') && imported.has('yaml'), 'the scan sees the known runtime dependencies');
  for (const [name, file] of imported) t.ok(dependencies.has(name), `${name} (imported by ${file}) is a runtime dependency`);
});
