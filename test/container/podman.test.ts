/**
 * The image for real: built from the project's Dockerfile with podman,
 * started, reached, health-checked and stopped, with the bad inputs of issue
 * 22, and the compose example brought up with podman-compose.
 *
 * Everything lives in one engine (podman.ts): a temp storage made and
 * removed by this process, the base image made here once (debootstrap +
 * Node 24 from the npm registry), one build of the image shared by every
 * subtest, and one more, without a compiler, that reuses the build's layer
 * cache. Containers, networks and the store are removed at teardown, by
 * name, only this run's.
 *
 * Skipped, with the reason, where podman cannot run containers (not Linux,
 * not root, not installed); .ci/run installs it and sets
 * SVCPROXY_REQUIRE_PODMAN=1, so there it fails instead of skipping.
 */
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { dialTo } from '../helpers/net.js';
import { CLI } from '../helpers/process.js';
import { runCompose } from './compose-run.js';
import { httpGet, logsOf, metric, poll, publishedPort, runDetached, stateOf, svcproxyRssKiB, waitForLog } from './containers.js';
import { REPO } from './image.js';
import { BASE_IMAGE, build, caMounts, command, createEngine, engineUnavailable, makeBaseImage, registryTlsIntercepted, type Engine } from './podman.js';

// The base image, two builds, the runs and the compose example: about 3-4 minutes on a
// loaded 2-core machine; this bounds a hung podman, not the expected time.
t.setTimeout(900_000);

const unavailable = engineUnavailable();
const required = process.env['SVCPROXY_REQUIRE_PODMAN'] === '1';
const skip = unavailable === '' || required ? false : `podman cannot run containers here: ${unavailable}`;

/** The image's tag in the run's own store: the name the compose example uses. */
const IMAGE = 'localhost/svcproxy:latest';
const JS_PUMP_IMAGE = 'localhost/svcproxy-js-pump:latest';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The bundled config, copied into a directory of the run's (the host may change it while the container runs). */
async function bundledConfig(engine: Engine, name: string): Promise<string> {
  const dir = join(engine.dir, name);
  await mkdir(dir);
  for (const file of await readdir(join(REPO, 'config'))) await copyFile(join(REPO, 'config', file), join(dir, file));
  return dir;
}

async function checkImage(t: Test, engine: Engine): Promise<void> {
  const inspect = await engine.podman(['image', 'inspect', IMAGE]);
  const [image] = JSON.parse(inspect.stdout) as Array<{ Size: number; Config: Record<string, unknown>; Healthcheck?: unknown }>;
  if (image === undefined) throw new Error(`no image ${IMAGE}`);
  t.equal(image.Config['User'], 'node', 'runs as node');
  t.same(image.Config['Entrypoint'], ['node', '--enable-source-maps', 'dist/main.js']);
  t.equal(image.Config['StopSignal'], 'SIGTERM');
  t.match(image.Healthcheck, { Test: ['CMD', 'node', 'dist/main.js', 'healthcheck'] }, 'the HEALTHCHECK survived (docker format)');
  t.match(image.Config['Labels'], { 'org.opencontainers.image.title': 'svcproxy', 'org.opencontainers.image.version': '0.1.0' });
  const base = JSON.parse((await engine.podman(['image', 'inspect', BASE_IMAGE])).stdout) as Array<{ Size: number }>;
  t.comment(`image ${IMAGE}: ${(image.Size / 1e6).toFixed(0)} MB (base ${((base[0]?.Size ?? 0) / 1e6).toFixed(0)} MB)`);

  const script = [
    'for c in cc gcc g++ make python3; do command -v $c && echo "compiler: $c"; done',
    'ls /app',
    'ls /app/node_modules',
    'ls /app/native/splice-pump/build/Release',
  ].join('; ');
  const look = await engine.podman(['run', '--rm', '--pull=never', '--entrypoint', 'sh', IMAGE, '-c', script]);
  t.notMatch(look.stdout, /compiler:/, 'no compiler in the runtime image');
  const lines = look.stdout.split('\n');
  t.ok(lines.includes('splice_pump.node'), 'the native pump is in the image');
  for (const dep of ['pino', 'yaml', 'ws']) t.ok(lines.includes(dep), `production dependency ${dep}`);
  for (const dev of ['typescript', 'tap', 'oxlint', 'node']) t.notOk(lines.includes(dev), `no devDependency ${dev}`);
  t.notOk(lines.includes('src'), 'no sources in /app');
}

t.test('the image, built and run with podman', { skip }, async (t) => {
  if (unavailable !== '') {
    t.fail(`SVCPROXY_REQUIRE_PODMAN=1 but ${unavailable}`);
    return;
  }
  const engine = await createEngine(t);

  const base = await makeBaseImage(engine);
  t.comment(`base image ${BASE_IMAGE}: ${seconds(base.totalMs)} (debootstrap ${seconds(base.debootstrapMs)})`);

  const intercepted = await registryTlsIntercepted();
  const extra = intercepted ? await caMounts(engine) : [];
  t.comment(intercepted ? 'TLS to the npm registry is intercepted: the build mounts the CA bundle' : 'TLS to the npm registry verifies: no CA mounts');

  const built = await build(engine, { tag: IMAGE, extra });
  t.comment(`build: ${seconds(built.ms)}`);
  if (built.code !== 0) {
    t.fail(`podman build exited ${String(built.code)}:\n${built.stdout.slice(-6000)}\n${built.stderr.slice(-4000)}`);
    return;
  }
  t.ok((built.stdout + built.stderr).includes('svcproxy: native splice pump built'), 'the build log says the native pump was built');

  await t.test('the runtime image: native pump, production dependencies, no compiler; user, entrypoint, healthcheck, labels', (t) => checkImage(t, engine));
  await t.test('run: a Service reached through it, HEALTHCHECK, the native pump, a bad change, SIGTERM with a connection open', (t) => runOnce(t, engine));
  await t.test('read-only root and an arbitrary non-root user: serves as outside a container', (t) => restricted(t, engine));
  await t.test('a missing, empty or invalid config mount fails as the process does outside', (t) => badConfig(t, engine));
  await t.test('examples/compose with podman-compose: the app replicas behind one name, balanced; one goes away', (t) => runCompose(t, engine));
  await t.test('a build without a compiler: a working image with the JavaScript pump, and both logs say so', (t) => withoutCompiler(t, engine, extra));
});

async function runOnce(t: Test, engine: Engine): Promise<void> {
  const name = `${engine.id}-run`;
  const config = await bundledConfig(engine, 'run-config');
  const started = performance.now();
  await runDetached(engine, name, [
    '--init',
    '-p',
    '127.0.0.1::8080',
    '-p',
    '127.0.0.1::9901',
    '-v',
    `${config}:/etc/svcproxy:ro`,
    '-e',
    'SVCPROXY_DRAIN_TIMEOUT=3s',
    IMAGE,
  ]);
  await waitForLog(engine, name, 'started');
  t.comment(`run: started in ${seconds(performance.now() - started)}`);
  const service = await publishedPort(engine, name, 8080);
  const admin = await publishedPort(engine, name, 9901);
  for (let i = 0; i < 3; i++) t.same(await httpGet(service, '/healthz'), { status: 200, body: 'ok\n' }, `request ${i + 1} through the Service port 8080`);

  const logs = await logsOf(engine, name);
  t.match(
    logs.find((l) => typeof l['pump'] === 'string'),
    { pump: 'native', msg: 'pump: native splice' },
    'svcproxy says the native pump carries connections',
  );
  const metrics = (await httpGet(admin, '/metrics')).body;
  t.ok(metric(metrics, 'svcproxy_native_pump_handoffs_total') >= 3, 'the connections were handed to the native pump');

  const health = await engine.podman(['healthcheck', 'run', name]);
  t.equal(health.code, 0, 'podman healthcheck run: healthy');
  t.comment(`idle RSS of svcproxy inside the container: ${((await svcproxyRssKiB(engine, name)) / 1024).toFixed(1)} MiB`);

  // A bad change while it runs: logged, and the last good config keeps serving.
  await writeFile(join(config, 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: broken}\nspec:\n  ports: [{port: 99999}]\n');
  await waitForLog(engine, name, 'config rejected; still serving the last good config');
  t.same(await httpGet(service, '/healthz'), { status: 200, body: 'ok\n' }, 'still serving after the rejected change');

  await stopWithOpenConnection(t, engine, { name, service, admin });
}

async function stopWithOpenConnection(t: Test, engine: Engine, c: { name: string; service: number; admin: number }): Promise<void> {
  // A connection held open through the Service: the drain waits for it, then resets it at the drain timeout (3 s).
  const held = await dialTo(t, c.service);
  held.on('error', () => undefined); // the drain timeout resets it
  const closed = new Promise<void>((resolve) => held.once('close', () => resolve()));
  const labels = '{namespace="default",service="svcproxy-admin",port="http"}';
  await poll(
    async () => (metric((await httpGet(c.admin, '/metrics')).body, 'svcproxy_active_connections', labels) >= 1 ? true : undefined),
    'the held connection carried',
    30_000,
  );
  const stopping = performance.now();
  const stop = await engine.podman(['stop', '-t', '20', c.name], 60_000);
  const stopMs = performance.now() - stopping;
  t.equal(stop.code, 0, 'podman stop');
  t.comment(`stop (SIGTERM, one connection open, drain timeout 3 s): ${seconds(stopMs)}`);
  t.ok(stopMs < 10_000, 'stopped within the drain timeout plus shutdown, long before podman would SIGKILL (20 s)');
  await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the held connection was never closed')), 10_000).unref())]);
  t.same(await stateOf(engine, c.name), { status: 'exited', exitCode: 0, pid: 0 }, 'exit 0, nothing left running');
  const logs = await logsOf(engine, c.name);
  t.match(
    logs.find((l) => l['msg'] === 'shutting down'),
    { signal: 'SIGTERM' },
    'svcproxy handled SIGTERM itself',
  );
  t.match(
    logs.find((l) => l['msg'] === 'draining'),
    { connections: 1, drainTimeoutMs: 3000 },
  );
  t.ok(logs.some((l) => l['msg'] === 'drain timeout; resetting the remaining connections'));
  t.equal(logs.at(-1)?.['msg'], 'stopped');
}

async function restricted(t: Test, engine: Engine): Promise<void> {
  const cases = [
    { name: `${engine.id}-ro`, args: ['--read-only'], what: '--read-only' },
    { name: `${engine.id}-uid`, args: ['--user', '4242:4242'], what: '--user 4242:4242' },
  ];
  await Promise.all(cases.map((c) => runDetached(engine, c.name, [...c.args, '-p', '127.0.0.1::8080', IMAGE])));
  for (const c of cases) {
    await waitForLog(engine, c.name, 'started');
    const port = await publishedPort(engine, c.name, 8080);
    t.same(await httpGet(port, '/healthz'), { status: 200, body: 'ok\n' }, `${c.what}: serves`);
    t.equal((await engine.podman(['healthcheck', 'run', c.name])).code, 0, `${c.what}: healthy`);
    const problems = (await logsOf(engine, c.name)).filter((l) => l['level'] !== 'info' && !/admin server bound to a non-loopback/.test(String(l['msg'])));
    t.same(problems, [], `${c.what}: no warning but the image's known one (admin on 0.0.0.0)`);
    t.equal((await engine.podman(['stop', '-t', '20', c.name], 60_000)).code, 0);
    t.match(await stateOf(engine, c.name), { status: 'exited', exitCode: 0 }, `${c.what}: SIGTERM, exit 0`);
  }
}

/** podman's own lines on stderr (no systemd here for health-check timers), which are not svcproxy's. */
function svcproxyStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !/^time="[^"]+" level=/.test(l))
    .join('\n');
}

async function badConfig(t: Test, engine: Engine): Promise<void> {
  const missing = join(engine.dir, 'no-such-config');
  const refused = await engine.podman(['run', '--rm', '--pull=never', '-v', `${missing}:/etc/svcproxy:ro`, IMAGE]);
  t.equal(refused.code, 125, 'a mount of a directory that does not exist: podman refuses to start the container');
  t.match(refused.stderr, `statfs ${missing}: no such file or directory`);

  const empty = join(engine.dir, 'empty-config');
  const invalid = join(engine.dir, 'invalid-config');
  await mkdir(empty);
  await mkdir(invalid);
  await writeFile(join(invalid, 'web.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 99999}]\n');
  // Mounted at the same path as on the host, so the messages are comparable as they are.
  const cases = [
    { what: 'a config path with nothing mounted', env: '/etc/svcproxy-not-mounted', mount: [] as string[] },
    { what: 'an empty config directory', env: empty, mount: ['-v', `${empty}:${empty}:ro`] },
    { what: 'an invalid config', env: invalid, mount: ['-v', `${invalid}:${invalid}:ro`] },
  ];
  for (const c of cases) {
    const inside = await engine.podman(['run', '--rm', '--pull=never', ...c.mount, '-e', `SVCPROXY_CONFIG=${c.env}`, IMAGE], 60_000);
    const env = { ...process.env, SVCPROXY_CONFIG: c.env, SVCPROXY_ADMIN_ADDRESS: '127.0.0.1:0', SVCPROXY_BIND_ADDRESS: '127.0.0.1' };
    const outside = await command(process.execPath, [CLI], { env, timeoutMs: 30_000 });
    t.not(inside.code, 0, `${c.what}: fails`);
    t.equal(inside.code, outside.code, `${c.what}: the same exit code as outside a container`);
    t.not(svcproxyStderr(inside.stderr).trim() + inside.stdout.trim(), '', `${c.what}: says why`);
    t.equal(svcproxyStderr(inside.stderr), outside.stderr, `${c.what}: the same message as outside`);
    t.equal(inside.stdout, outside.stdout);
  }
}

async function withoutCompiler(t: Test, engine: Engine, extra: readonly string[]): Promise<void> {
  const built = await build(engine, { tag: JS_PUMP_IMAGE, buildArgs: { TOOLCHAIN: '' }, extra });
  t.comment(`build without a compiler (the build and deps stages from the layer cache): ${seconds(built.ms)}`);
  if (built.code !== 0) t.fail(`podman build exited ${String(built.code)}:\n${built.stderr.slice(-4000)}`);
  const log = built.stdout + built.stderr;
  t.ok(/svcproxy: native splice pump not built \(.+\); the JavaScript pump will be used/.test(log), 'the build log says so');
  t.notOk(log.includes('native splice pump built'), 'and does not claim it was built');

  const name = `${engine.id}-js-pump`;
  await runDetached(engine, name, ['-p', '127.0.0.1::8080', '-p', '127.0.0.1::9901', JS_PUMP_IMAGE]);
  await waitForLog(engine, name, 'started');
  const logs = await logsOf(engine, name);
  t.match(
    logs.find((l) => typeof l['pump'] === 'string'),
    { level: 'warn', pump: 'js', msg: 'native splice pump unavailable; using the JavaScript pump', reason: /not built/ },
    'svcproxy says it runs the JavaScript pump, and why',
  );
  t.same(await httpGet(await publishedPort(engine, name, 8080), '/healthz'), { status: 200, body: 'ok\n' }, 'serves');
  const metrics = (await httpGet(await publishedPort(engine, name, 9901), '/metrics')).body;
  t.notMatch(metrics, /svcproxy_native_pump_handoffs_total/, 'no native pump metrics: the JS pump carried it');
  t.equal((await engine.podman(['stop', '-t', '20', name], 60_000)).code, 0);
  t.match(await stateOf(engine, name), { status: 'exited', exitCode: 0 });
}
