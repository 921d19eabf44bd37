/**
 * --workers N: a primary that serves the admin address for the whole set,
 * and N worker processes, each with its own SO_REUSEPORT listening sockets.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { get, getJson, metric, parseMetrics, scrape } from '../helpers/admin.js';
import { serviceWithEndpoints } from '../helpers/instance.js';
import { eventually, freePort, portOf, request, startServer } from '../helpers/net.js';
import { configDir, runCli, serveCli, type Served } from '../helpers/process.js';

interface Totals {
  readonly connections: number;
  readonly activeConnections: number;
}
interface ServicesAnswer {
  readonly servicePorts: ReadonlyArray<{
    key: string;
    totals: Totals;
    workers: ReadonlyArray<{ worker: number; totals: Totals }>;
    endpoints: ReadonlyArray<{ id: string; connections: number }>;
    listeners: ReadonlyArray<{ address: string; state: string }>;
  }>;
  readonly workers: ReadonlyArray<{ worker: number; pid: number; state: string; ready: boolean; restarts: number; stale: boolean }>;
}

const LABELS = { namespace: 'default', service: 'web', port: '' };

async function startSet(
  t: Parameters<typeof startServer>[0],
  endpoints: number[],
  extra: string[] = [],
): Promise<{ served: Served; admin: number; port: number; dir: string }> {
  const port = await freePort();
  const admin = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, endpoints) });
  const served = serveCli(t, [
    '--config',
    dir,
    '--admin-address',
    `127.0.0.1:${admin}`,
    '--workers',
    '2',
    '--no-watch',
    '--config-poll-interval',
    '0',
    ...extra,
  ]);
  await served.waitForLog((l) => l['msg'] === 'started' && l['worker'] === 1, 'worker 1 started');
  await served.waitForLog((l) => l['msg'] === 'started' && l['worker'] === 2, 'worker 2 started');
  return { served, admin, port, dir: dir };
}

t.test('one admin address for two workers: /metrics and /api/services sum both; SIGHUP and SIGTERM reach both', async (t) => {
  const a = await startServer(t, (s) => s.end('a'));
  const b = await startServer(t, (s) => s.end('b'));
  const { served, admin, port, dir } = await startSet(t, [a]);
  await eventually(async () => (await fetch(`http://127.0.0.1:${admin}/readyz`)).status === 200, 'the set is ready');
  t.match(
    served.logs.find((l) => l['msg'] === 'admin server listening for every worker'),
    { address: `127.0.0.1:${admin}`, workers: 2 },
  );
  t.notOk(
    served.logs.some((l) => l['msg'] === 'admin server listening' && l['worker'] !== undefined),
    'no worker binds an admin server',
  );

  for (let i = 0; i < 20; i++) t.equal((await request(port)).data.toString(), 'a');
  const key = `127.0.0.1:${a}`;
  const body = (await get(admin, '/metrics')).body;
  t.ok(parsePrometheusTextFormat(body).length > 25, "the primary's exposition parses with a real parser");
  const samples = parseMetrics(body);
  LABELS.port = String(port);
  t.equal(metric(samples, 'svcproxy_connections_total', LABELS), 20, 'every connection, whichever worker served it');
  t.equal(metric(samples, 'svcproxy_upstream_connect_seconds_count', LABELS), 20, 'the histograms of both workers, merged');
  t.equal(metric(samples, 'svcproxy_endpoints', { ...LABELS, state: 'ready' }), 1, 'an endpoint is counted once, not once per worker');
  t.equal(metric(samples, 'svcproxy_workers', { state: 'running' }), 2);
  t.equal(metric(samples, 'svcproxy_ready'), 1);

  const api = await getJson<ServicesAnswer>(admin, '/api/services');
  const [web] = api.servicePorts;
  t.equal(web?.totals.connections, 20);
  t.same(
    web?.workers.map((w) => w.worker),
    [1, 2],
    'per-worker detail for each worker',
  );
  t.equal(
    web?.workers.reduce((sum, w) => sum + w.totals.connections, 0),
    20,
    'the per-worker counts add up to the total',
  );
  t.equal(web?.endpoints.find((e) => e.id === key)?.connections, 20);
  t.ok((web?.listeners.length ?? 0) >= 1);
  t.equal(metric(samples, 'svcproxy_listeners', { ...LABELS, state: 'listening' }), web?.listeners.length, 'each listener counted once, not once per worker');
  t.match(api.workers, [
    { worker: 1, state: 'running', ready: true, restarts: 0, stale: false },
    { worker: 2, state: 'running', ready: true, restarts: 0, stale: false },
  ]);
  t.not(api.workers[0]?.pid, api.workers[1]?.pid);

  await writeFile(join(dir, 'web.yaml'), serviceWithEndpoints('web', port, [b]));
  served.child.kill('SIGHUP');
  await served.waitForLog((l) => l['msg'] === 'config applied' && l['trigger'] === 'signal' && l['worker'] === 1, 'worker 1 reloaded');
  await served.waitForLog((l) => l['msg'] === 'config applied' && l['trigger'] === 'signal' && l['worker'] === 2, 'worker 2 reloaded');
  for (let i = 0; i < 6; i++) t.equal((await request(port)).data.toString(), 'b', 'whichever worker answers, it has the new config');

  served.child.kill('SIGTERM');
  const exit = await served.exited;
  t.equal(exit.code, 0);
  t.equal(served.logs.filter((l) => l['msg'] === 'stopped').length, 2, 'both workers drained and stopped');
  t.equal((await request(port)).error, 'ECONNREFUSED');
  t.equal((await request(admin)).error, 'ECONNREFUSED', 'the admin server closed with the set');
});

t.test('a worker that dies is started again; the summed counters survive it', async (t) => {
  const a = await startServer(t, (s) => s.end('a'));
  const { served, admin, port } = await startSet(t, [a]);
  LABELS.port = String(port);
  for (let i = 0; i < 10; i++) await request(port);
  const before = await getJson<ServicesAnswer>(admin, '/api/services');
  t.equal(before.servicePorts[0]?.totals.connections, 10);
  const victim = before.workers.find((w) => w.worker === 2);
  if (victim === undefined) throw new Error('no worker 2');
  process.kill(victim.pid, 'SIGKILL');

  await served.waitForLog((l) => l['msg'] === 'worker exited; starting a new one' && l['worker'] === 2, 'the primary saw it exit');
  await eventually(
    async () => {
      const now = await getJson<ServicesAnswer>(admin, '/api/services');
      const w2 = now.workers.find((w) => w.worker === 2);
      return w2 !== undefined && w2.pid !== victim.pid && w2.state === 'running' && w2.ready;
    },
    'worker 2 replaced and ready',
    15_000,
  );
  const after = await getJson<ServicesAnswer>(admin, '/api/services');
  t.match(
    after.workers.find((w) => w.worker === 2),
    { restarts: 1 },
  );
  t.equal(after.servicePorts[0]?.totals.connections, 10, 'what the dead worker had counted is still in the sum');

  for (let i = 0; i < 10; i++) t.equal((await request(port)).data.toString(), 'a', 'served while and after the worker was replaced');
  const samples = await scrape(admin);
  t.equal(metric(samples, 'svcproxy_connections_total', LABELS), 20);
  t.equal(metric(samples, 'svcproxy_worker_restarts_total'), 1);
  t.equal(metric(samples, 'svcproxy_ready'), 1);
  served.child.kill('SIGTERM');
  t.equal((await served.exited).code, 0);
});

t.test('the admin address taken: the primary cannot serve it, exit 1 before any worker starts', async (t) => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const admin = portOf(blocker);
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', await freePort(), [1]) });
  const run = await runCli(['--config', dir, '--admin-address', `127.0.0.1:${admin}`, '--workers', '2']);
  t.equal(run.code, 1);
  t.match(run.stderr, `svcproxy: admin server cannot listen on 127.0.0.1:${admin}`);
  t.notMatch(run.stdout, /started workers/);
});

t.test('an invalid config is reported once, by the primary, before any worker starts', async (t) => {
  const dir = await configDir(t, { 'a.yaml': 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 0}]}\n' });
  const run = await runCli(['--config', dir, '--admin-address', `127.0.0.1:${await freePort()}`, '--workers', '2']);
  t.equal(run.code, 1);
  t.equal(run.stderr.trim().split('\n').length, 1);
  t.notMatch(run.stdout, /started workers/);
});

t.test('/api/pods with --workers: the Pods table through the admin model, ready when every worker finds the Pod ready', async (t) => {
  const port = await freePort();
  const admin = await freePort();
  const podPort = await freePort();
  const dir = await configDir(t, {
    'web.yaml': `apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: ${port}, targetPort: http}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, ports: [{name: http, containerPort: ${podPort}}]}]}
`,
  });
  const p = 60 + Math.floor(Math.random() * 30);
  const served = serveCli(t, [
    '--config',
    dir,
    '--admin-address',
    `127.0.0.1:${admin}`,
    '--workers',
    '2',
    '--no-watch',
    '--config-poll-interval',
    '0',
    '--pod-cidr',
    `127.${p}.${Math.floor(Math.random() * 256)}.0/24`,
  ]);
  await served.waitForLog((l) => l['msg'] === 'started' && l['worker'] === 2, 'worker 2 started');
  await served.waitForLog((l) => l['msg'] === 'started' && l['worker'] === 1, 'worker 1 started');
  type PodsAnswer = { pods: Array<{ key: string; address: string; ready: boolean; reason: string }> };
  const first = await getJson<PodsAnswer>(admin, '/api/pods');
  t.equal(first.pods.length, 2, 'each Pod once, not once per worker');
  const [pod] = first.pods;
  if (pod === undefined) throw new Error('no Pod');
  t.equal(pod.ready, false);
  const server = createServer((s) => s.end());
  server.listen(podPort, pod.address);
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await eventually(
    async () => (await getJson<PodsAnswer>(admin, '/api/pods')).pods.find((x) => x.key === pod.key)?.ready === true,
    'ready in both workers',
    15_000,
  );
  t.match(
    (await getJson<PodsAnswer>(admin, '/api/pods')).pods.find((x) => x.key !== pod.key),
    { ready: false, reason: /ECONNREFUSED/ },
  );
});
