/**
 * examples/compose brought up for real with podman-compose (Debian's 1.0.3),
 * in the engine of podman.test.ts: the example's compose file and its
 * config/ as they are, but for two things a shared test machine needs: the
 * published ports are ephemeral ones on the host's loopback (not 8080 and
 * 9901), and the config mount is the absolute path of examples/compose/config.
 * hashicorp/http-echo cannot be pulled here: a stand-in of the same name
 * (same arguments, one log line per request) is built from the base image.
 *
 * What it shows, and what examples/compose/README.md says: an app container
 * reaches svcproxy by its compose name, svcproxy reaches the replicas of
 * `app` by theirs, each new connection goes to the next address the name
 * resolves to, and what the log prints when a replica goes away.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Test } from 'tap';
import { parse, stringify } from 'yaml';
import { httpGet, logsOf, metric, poll, publishedPort, rawLogs, waitForLog, type LogLine } from './containers.js';
import { EXAMPLES, isRecord, REPO } from './image.js';
import { BASE_IMAGE, build, command, type Engine } from './podman.js';

/** hashicorp/http-echo's command line (-listen=:PORT -text=TEXT) and its request log, in Node. */
const HTTP_ECHO = `import { createServer } from 'node:http';
const arg = (name) => process.argv.slice(2).find((a) => a.startsWith('-' + name + '='))?.slice(name.length + 2);
const listen = arg('listen') ?? ':5678';
const text = (arg('text') ?? 'hello-world') + '\\n';
const stamp = () => new Date().toISOString().replace('T', ' ').slice(0, 19);
const server = createServer((req, res) => {
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(text);
  const from = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '') + ':' + req.socket.remotePort;
  console.log(stamp() + ' ' + (req.headers.host ?? '') + ' ' + from + ' "' + req.method + ' ' + req.url + ' HTTP/' + req.httpVersion + '" 200 ' + Buffer.byteLength(text));
});
server.listen(Number(listen.split(':').pop()), () => console.log(stamp() + ' [INFO] server is listening on ' + listen));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
`;

async function httpEchoStandIn(engine: Engine, image: string): Promise<void> {
  const dir = join(engine.dir, 'http-echo');
  await mkdir(dir);
  await writeFile(join(dir, 'http-echo.mjs'), HTTP_ECHO);
  await writeFile(join(dir, 'Dockerfile'), `FROM ${BASE_IMAGE}\nCOPY http-echo.mjs /http-echo.mjs\nUSER node\nENTRYPOINT ["node", "/http-echo.mjs"]\n`);
  const built = await build(engine, { tag: image, context: dir });
  if (built.code !== 0) throw new Error(`the http-echo stand-in did not build: ${built.stderr}`);
}

/** The example's compose file with ephemeral loopback ports and absolute paths; the image of `app`. */
async function composeFile(engine: Engine): Promise<{ file: string; appImage: string }> {
  const example = EXAMPLES.find((e) => e.name === 'compose');
  if (example === undefined) throw new Error('no compose example');
  const doc: unknown = parse(await readFile(example.file, 'utf8'));
  if (!isRecord(doc) || !isRecord(doc['services'])) throw new Error('no services');
  const { app, svcproxy } = doc['services'];
  if (!isRecord(app) || !isRecord(svcproxy) || typeof app['image'] !== 'string') throw new Error('expected services app and svcproxy');
  svcproxy['ports'] = (svcproxy['ports'] as string[]).map((p) => `127.0.0.1::${String(p).split(':').pop() ?? ''}`);
  svcproxy['volumes'] = (svcproxy['volumes'] as string[]).map((v) => v.replace(/^\.\//, `${dirname(example.file)}/`));
  svcproxy['build'] = REPO;
  const dir = join(engine.dir, 'compose');
  await mkdir(dir);
  const file = join(dir, 'docker-compose.yml');
  await writeFile(file, stringify(doc));
  return { file, appImage: app['image'] };
}

interface Project {
  readonly engine: Engine;
  readonly name: string;
  readonly file: string;
}

function compose(p: Project, args: readonly string[]) {
  return command('podman-compose', ['-p', p.name, '-f', p.file, ...args], { env: p.engine.env, cwd: dirname(p.file), timeoutMs: 180_000 });
}

/** Requests each replica of app logged (the stand-in logs one line per request, as http-echo does). */
async function served(p: Project, replica: number): Promise<number> {
  return ((await rawLogs(p.engine, `${p.name}_app_${replica}`)).match(/"GET \/ HTTP\/1\.1" 200/g) ?? []).length;
}

/** An app on the compose network: resolves `app`, then 6 GETs to http://svcproxy/, each on a new connection. */
const CLIENT = `const http = require('node:http');
const dns = require('node:dns');
const get = () => new Promise((resolve, reject) => http.get({ host: 'svcproxy', port: 80, agent: false }, (res) => {
  let body = ''; res.on('data', (c) => (body += c)); res.on('end', () => resolve(body));
}).on('error', reject));
dns.lookup('app', { all: true }, async (err, addresses) => {
  const bodies = [];
  for (let i = 0; i < 6; i++) bodies.push(await get());
  console.log(JSON.stringify({ addresses: (addresses ?? []).map((a) => a.address), bodies }));
});
`;

async function clientRequests(t: Test, p: Project): Promise<void> {
  const client = await p.engine.podman(['run', '--rm', '--pull=never', '--network', `${p.name}_default`, BASE_IMAGE, 'node', '-e', CLIENT]);
  t.equal(client.code, 0, 'the client container ran');
  const result = JSON.parse(client.stdout) as { addresses: string[]; bodies: string[] };
  t.equal(result.addresses.length, 2, `the compose name app resolves to both replicas: ${result.addresses.join(', ')}`);
  t.same(result.bodies, Array(6).fill('hello from app\n'), 'an app container reached the replicas through svcproxy by compose name (svcproxy:80)');
  const counts = [await served(p, 1), await served(p, 2)];
  t.comment(`requests per replica: ${counts.join(' / ')}`);
  t.ok(counts.every((n) => n >= 2) && Math.abs((counts[0] ?? 0) - (counts[1] ?? 0)) <= 2, `balanced over the two addresses of app: ${counts.join(' / ')}`);
}

/** Stops replica 2 with connections coming; returns svcproxy's log lines from then on and the connect failures it counted. */
async function replicaGoesAway(t: Test, p: Project, ports: { service: number; admin: number }): Promise<{ lines: LogLine[]; failures: number }> {
  const svcproxy = `${p.name}_svcproxy_1`;
  const before = (await logsOf(p.engine, svcproxy)).length;
  const failuresBefore = metric((await httpGet(ports.admin, '/metrics')).body, 'svcproxy_upstream_connect_failures_total');
  await httpGet(ports.service); // the name is in svcproxy's 2 s cache with both addresses
  const stop = await p.engine.podman(['stop', '-t', '10', `${p.name}_app_2`]);
  t.equal(stop.code, 0, 'podman stop');
  const served2 = await served(p, 2);
  // Sequential connections for 3 s after the stop: past the 2 s cache, so some met the old answer and some the new.
  const until = Date.now() + 3000;
  let answered = 0;
  while (Date.now() < until) {
    const res = await httpGet(ports.service);
    if (res.body !== 'hello from app\n') t.fail(`a connection after the stop got ${JSON.stringify(res)}`);
    answered++;
  }
  t.ok(answered > 0, `${answered} connections after the stop, every one answered`);
  t.equal(await served(p, 2), served2, 'none reached the stopped replica');
  const failures = metric((await httpGet(ports.admin, '/metrics')).body, 'svcproxy_upstream_connect_failures_total') - failuresBefore;
  return { lines: (await logsOf(p.engine, svcproxy)).slice(before), failures };
}

export async function runCompose(t: Test, engine: Engine): Promise<void> {
  const { file, appImage } = await composeFile(engine);
  await httpEchoStandIn(engine, appImage);
  const p: Project = { engine, name: engine.id.replace(/-/g, ''), file };
  engine.networks.add(`${p.name}_default`); // podman-compose down leaves it behind
  const started = performance.now();
  const up = await compose(p, ['up', '-d', '--no-build']);
  if (up.code !== 0) t.fail(`podman-compose up exited ${String(up.code)}:\n${up.stderr.slice(-4000)}`);
  const svcproxy = `${p.name}_svcproxy_1`;
  await waitForLog(engine, svcproxy, 'started');
  t.comment(`podman-compose up: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const running = await engine.podman(['ps', '--filter', `label=io.podman.compose.project=${p.name}`, '--format', '{{.Names}}']);
  t.same(running.stdout.trim().split('\n').sort(), [`${p.name}_app_1`, `${p.name}_app_2`, svcproxy], 'two replicas of app and svcproxy run');
  for (const n of [1, 2])
    await poll(async () => ((await rawLogs(engine, `${p.name}_app_${n}`)).includes('server is listening') ? true : undefined), `app_${n} listening`, 30_000);

  await clientRequests(t, p);
  const ports = { service: await publishedPort(engine, svcproxy, 80), admin: await publishedPort(engine, svcproxy, 9901) };
  t.same(await httpGet(ports.service), { status: 200, body: 'hello from app\n' }, 'the host reaches the Service through the published port');
  const metrics = (await httpGet(ports.admin, '/metrics')).body;
  t.ok(metric(metrics, 'svcproxy_native_pump_handoffs_total') >= 7, 'the native pump carried them');

  const gone = await replicaGoesAway(t, p, ports);
  const messages = gone.lines.map((l) => `${String(l['level'])} ${String(l['msg'])}`);
  t.comment(`after a replica went away: ${gone.failures} dial(s) to its old address, log: ${JSON.stringify(messages)}`);
  t.same(
    [...new Set(messages)].filter((m) => m !== 'info endpoint back after a successful dial'),
    [],
    'nothing else is logged',
  );
  t.equal(messages.length, gone.failures, 'one "endpoint back after a successful dial" line per connection whose first dial met the old address');
  t.ok(gone.lines.every((l) => l['upstream'] === 'app:8080'));

  const start = await engine.podman(['start', `${p.name}_app_2`]);
  t.equal(start.code, 0, 'podman start');
  const servedBefore = await served(p, 2);
  await poll(
    async () => {
      await httpGet(ports.service);
      return (await served(p, 2)) > servedBefore ? true : undefined;
    },
    'the restarted replica back in the rotation',
    30_000,
  );
  t.pass('the restarted replica is back in the rotation (svcproxy resolves the name again within 2 s)');

  const down = await compose(p, ['down']);
  t.equal(down.code, 0, 'podman-compose down');
  const left = await engine.podman(['ps', '-a', '--filter', `label=io.podman.compose.project=${p.name}`, '-q']);
  t.equal(left.stdout.trim(), '', 'podman-compose down removed every container');
}
