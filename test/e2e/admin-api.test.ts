/**
 * The admin HTTP surface of a real in-process svcproxy: after real
 * connections through it, /api/services and /metrics report exactly what
 * the test did; /api/config and the reload counters follow reloads;
 * /readyz follows listeners and the drain.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { get, getJson, metric, scrape, type Sample } from '../helpers/admin.js';
import { serviceWithEndpoints, startInstance } from '../helpers/instance.js';
import { dialTo, eventually, freePort, request, startEchoServer } from '../helpers/net.js';
import { nativePump } from '../helpers/native.js';
import { configDir } from '../helpers/process.js';

interface EndpointJson {
  id: string;
  address: string;
  port: number;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  source: string;
  activeConnections: number;
  connections: number;
}
interface ServicePortJson {
  key: string;
  namespace: string;
  service: string;
  portName: string;
  port: number;
  protocol: string;
  targetPort: string;
  listeners: Array<{ address: string; protocol: string; role: string; state: string; error: string }>;
  endpoints: EndpointJson[];
  totals: {
    connections: number;
    activeConnections: number;
    bytesFromDownstream: number;
    bytesFromUpstream: number;
    connectFailures: number;
    rejected: Record<string, number>;
  };
}
interface ConfigJson {
  config: string;
  hash: string;
  loadedAt: string;
  ready: boolean;
  reason: string;
  draining: boolean;
  reloads: { success: number; failure: number };
  lastReload: { result: string; at: string; errors: string[] };
}

function slice(name: string, service: string, port: number, conditions = ''): string {
  return `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}, namespace: shop, labels: {kubernetes.io/service-name: ${service}}}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints: [{addresses: [127.0.0.1]${conditions}}]
`;
}

/** shop/web:http over two echo endpoints plus a not-ready and a terminating one; shop/legacy from an Endpoints object; empty (unnamed port, no endpoints); dead (a closed port). */
function manifests(p: {
  web: number;
  a: number;
  b: number;
  notReady: number;
  terminating: number;
  legacy: number;
  empty: number;
  dead: number;
  closed: number;
}): string {
  return `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: ${p.web}, targetPort: 8080}]
${slice('web-a', 'web', p.a)}${slice('web-b', 'web', p.b)}${slice('web-c', 'web', p.notReady, ', conditions: {ready: false, serving: false}')}${slice('web-d', 'web', p.terminating, ', conditions: {ready: false, serving: true, terminating: true}')}---
apiVersion: v1
kind: Service
metadata: {name: legacy, namespace: shop}
spec:
  ports: [{name: http, port: ${p.legacy}}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: legacy, namespace: shop}
subsets: [{addresses: [{ip: 127.0.0.1}], ports: [{name: http, port: ${p.a}}]}]
---
${serviceWithEndpoints('empty', p.empty, [])}---
${serviceWithEndpoints('dead', p.dead, [p.closed])}`;
}

function servicePort(list: { servicePorts: ServicePortJson[] }, key: string): ServicePortJson {
  const found = list.servicePorts.find((s) => s.key === key);
  if (found === undefined) throw new Error(`no Service port ${key} in ${list.servicePorts.map((s) => s.key).join(', ')}`);
  return found;
}

t.test('/api/services and /metrics count exactly the connections and bytes the test made', async (t) => {
  const a = await startEchoServer(t);
  const b = await startEchoServer(t);
  const ports = {
    web: await freePort(),
    a,
    b,
    notReady: await freePort(),
    terminating: await freePort(),
    legacy: await freePort(),
    empty: await freePort(),
    dead: await freePort(),
    closed: await freePort(),
  };
  const dir = await configDir(t, { 'shop.yaml': manifests(ports) });
  const proxy = await startInstance(t, dir);
  const admin = proxy.adminPort;

  const payloads = ['hello', 'goodbye', 'hello again'];
  for (const p of payloads) t.equal((await request(ports.web, p)).data.toString(), p, 'echoed through the proxy');
  const open = await dialTo(t, ports.web);
  open.write('x'.repeat(100));
  let echoed = 0;
  await new Promise<void>((resolve) => {
    open.on('data', (c: Buffer) => {
      echoed += c.length;
      if (echoed === 100) resolve();
    });
  });
  for (let i = 0; i < 2; i++) t.equal((await request(ports.empty, 'x')).error, 'ECONNRESET', 'no endpoints: reset');
  t.equal((await request(ports.dead, 'x')).error, 'ECONNRESET', 'every dial refused: reset');
  const sent = payloads.join('').length + 100;

  const api = await getJson<{ servicePorts: ServicePortJson[] }>(admin, '/api/services');
  t.same(
    api.servicePorts.map((s) => s.key),
    ['default/dead', 'default/empty', 'shop/legacy:http', 'shop/web:http'],
    'one entry per Service port, sorted',
  );
  const web = servicePort(api, 'shop/web:http');
  t.match(web, { namespace: 'shop', service: 'web', portName: 'http', port: ports.web, protocol: 'TCP', targetPort: '8080' });
  t.same(
    web.listeners.filter((l) => l.role === 'bindAddress'),
    [{ address: `127.0.0.1:${ports.web}`, protocol: 'TCP', role: 'bindAddress', state: 'listening', error: '' }],
  );
  t.match(
    web.listeners.filter((l) => l.role === 'clusterIP'),
    [{ address: new RegExp(`^127\\.96\\.\\d+\\.\\d+:${ports.web}$`), state: 'listening' }],
    'and on its own address',
  );
  t.same(web.totals, {
    connections: 4,
    activeConnections: 1,
    bytesFromDownstream: sent,
    bytesFromUpstream: sent,
    connectFailures: 0,
    rejected: { no_endpoints: 0, dial_failed: 0, source_range: 0, max_connections: 0 },
    closed: {
      client_fin: 3,
      endpoint_fin: 0,
      client_reset: 0,
      endpoint_reset: 0,
      idle_timeout: 0,
      half_close_timeout: 0,
      drain: 0,
      client_gone: 0,
      evicted: 0,
      listener_closed: 0,
    },
    idleTimeouts: 0,
  });
  const byId = new Map(web.endpoints.map((e) => [e.id, e]));
  t.match(byId.get(`127.0.0.1:${a}`), {
    address: '127.0.0.1',
    port: a,
    ready: true,
    serving: true,
    terminating: false,
    source: 'EndpointSlice',
    connections: 2,
  });
  t.match(byId.get(`127.0.0.1:${b}`), { ready: true, connections: 2 });
  t.equal(
    (byId.get(`127.0.0.1:${a}`)?.activeConnections ?? 0) + (byId.get(`127.0.0.1:${b}`)?.activeConnections ?? 0),
    1,
    'the open connection is on one endpoint',
  );
  t.match(byId.get(`127.0.0.1:${ports.notReady}`), { ready: false, serving: false, terminating: false, connections: 0 });
  t.match(byId.get(`127.0.0.1:${ports.terminating}`), { ready: false, serving: true, terminating: true });
  t.match(servicePort(api, 'shop/legacy:http').endpoints, [{ id: `127.0.0.1:${a}`, source: 'Endpoints', ready: true }]);
  t.match(servicePort(api, 'default/empty'), { portName: '', endpoints: [], totals: { connections: 2, rejected: { no_endpoints: 2 } } });
  const dead = servicePort(api, 'default/dead');
  t.equal(dead.totals.connections, 1);
  t.equal(
    Object.values(dead.totals.rejected).reduce((x, y) => x + y, 0),
    1,
    'the one connection was rejected',
  );
  t.ok(dead.totals.connectFailures >= 1, 'failed dials counted');

  const answer = await get(admin, '/metrics');
  t.equal(answer.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  t.match(answer.body, /^# HELP svcproxy_connections_total .+\n# TYPE svcproxy_connections_total counter$/m);
  const m = await scrape(admin);
  const webLabels = { namespace: 'shop', service: 'web', port: 'http' };
  if (nativePump !== undefined) {
    // The in-process instances run the native pump (the default) where it is built; its counts are per process.
    t.ok(metric(m, 'svcproxy_native_pump_handoffs_total') >= 4, 'the forwarded connections were handed to the native pump');
    t.ok(metric(m, 'svcproxy_native_pump_connections') >= 1, 'the open one is owned by it now');
    t.equal(metric(m, 'svcproxy_native_pump_pipes', { state: 'in_use' }), 0, 'no pipe is held by idle connections');
  }
  t.equal(metric(m, 'svcproxy_connections_total', webLabels), 4);
  t.equal(metric(m, 'svcproxy_active_connections', webLabels), 1);
  t.equal(metric(m, 'svcproxy_bytes_total', { ...webLabels, direction: 'downstream_rx' }), sent, 'includes the open connection');
  t.equal(metric(m, 'svcproxy_bytes_total', { ...webLabels, direction: 'upstream_rx' }), sent);
  t.equal(metric(m, 'svcproxy_upstream_connect_failures_total', webLabels), 0);
  for (const reason of ['no_endpoints', 'dial_failed', 'source_range', 'max_connections']) {
    t.equal(metric(m, 'svcproxy_rejected_connections_total', { ...webLabels, reason }), 0, `web: no ${reason}`);
  }
  t.same(
    ['ready', 'not_ready', 'terminating'].map((state) => metric(m, 'svcproxy_endpoints', { ...webLabels, state })),
    [2, 1, 1],
    'endpoints by condition',
  );
  t.equal(metric(m, 'svcproxy_listeners', { ...webLabels, state: 'listening' }), 2, 'its own address and the bind address');
  checkHistogram(t, m, webLabels, 4);

  const emptyLabels = { namespace: 'default', service: 'empty', port: String(ports.empty) };
  t.equal(metric(m, 'svcproxy_connections_total', emptyLabels), 2, 'an unnamed port is labelled with its number');
  t.equal(metric(m, 'svcproxy_rejected_connections_total', { ...emptyLabels, reason: 'no_endpoints' }), 2);
  const deadLabels = { namespace: 'default', service: 'dead', port: String(ports.dead) };
  t.equal(metric(m, 'svcproxy_upstream_connect_failures_total', deadLabels), dead.totals.connectFailures);
  t.equal(metric(m, 'svcproxy_upstream_connect_seconds_count', deadLabels), 0, 'no successful dial, no observation');

  t.equal(metric(m, 'svcproxy_build_info', { version: '0.1.0', node_version: process.version }), 1);
  t.equal(metric(m, 'svcproxy_ready'), 1);
  t.equal(metric(m, 'svcproxy_config_reloads_total', { result: 'success' }), 1);
  t.equal(metric(m, 'svcproxy_config_reloads_total', { result: 'failure' }), 0);
  t.ok(Math.abs(metric(m, 'svcproxy_config_last_reload_success_timestamp_seconds') - Date.now() / 1000) < 60, 'reload timestamp is now-ish, in seconds');
  t.ok(metric(m, 'process_resident_memory_bytes') > 10_000_000);
  t.ok(metric(m, 'process_cpu_seconds_total') > 0);
  const started = metric(m, 'process_start_time_seconds');
  t.ok(started <= Date.now() / 1000 && started > Date.now() / 1000 - 3600, 'process start time in seconds');
  t.ok(metric(m, 'process_open_fds') > 0);

  open.end();
  await eventually(async () => metric(await scrape(admin), 'svcproxy_active_connections', webLabels) === 0, 'the open connection closed');
  const after = await scrape(admin);
  t.equal(
    metric(after, 'svcproxy_bytes_total', { ...webLabels, direction: 'downstream_rx' }),
    sent,
    'bytes move from open to closed without changing the total',
  );
  t.equal(metric(after, 'svcproxy_bytes_total', { ...webLabels, direction: 'upstream_rx' }), sent);
});

function checkHistogram(t: Test, m: readonly Sample[], labels: Record<string, string>, count: number): void {
  const buckets = m.filter(
    (s) => s.name === 'svcproxy_upstream_connect_seconds_bucket' && s.labels['service'] === labels['service'] && s.labels['namespace'] === labels['namespace'],
  );
  t.equal(buckets.at(-1)?.labels['le'], '+Inf', 'buckets end at +Inf');
  t.equal(buckets.at(-1)?.value, count);
  t.ok(
    buckets.every((s, i) => i === 0 || s.value >= (buckets[i - 1] as Sample).value),
    'bucket counts are cumulative',
  );
  t.equal(metric(m, 'svcproxy_upstream_connect_seconds_count', labels), count, 'one observation per successful dial');
  t.ok(metric(m, 'svcproxy_upstream_connect_seconds_sum', labels) > 0, 'sum in seconds');
}

t.test('/api/config and the reload metrics follow a rejected and then an applied reload', async (t) => {
  const echo = await startEchoServer(t);
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [echo]) });
  const proxy = await startInstance(t, dir);
  const admin = proxy.adminPort;
  const first = await getJson<ConfigJson>(admin, '/api/config');
  t.match(first, {
    config: dir,
    ready: true,
    reason: 'ok',
    draining: false,
    reloads: { success: 1, failure: 0 },
    lastReload: { result: 'success', errors: [] },
  });
  t.match(first.hash, /^[0-9a-f]{64}$/);
  t.equal(first.loadedAt, first.lastReload.at);

  await writeFile(join(dir, 'web.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 99999}]\n');
  await eventually(async () => (await getJson<ConfigJson>(admin, '/api/config')).reloads.failure === 1, 'the rejected reload');
  const failed = await getJson<ConfigJson>(admin, '/api/config');
  t.equal(failed.lastReload.result, 'failure');
  t.equal(failed.lastReload.errors.length, 1);
  t.match(failed.lastReload.errors[0], /web\.yaml\[0\] Service default\/web: spec\.ports\[0\]\.port: .*99999/);
  t.equal(failed.hash, first.hash, 'still serving the first snapshot');
  t.equal(failed.ready, true, 'a rejected reload does not make svcproxy unready');
  const m = await scrape(admin);
  t.equal(metric(m, 'svcproxy_config_reloads_total', { result: 'failure' }), 1);
  t.equal(metric(m, 'svcproxy_config_last_reload_successful'), 0);
  t.equal((await get(admin, '/readyz')).status, 200);

  await writeFile(join(dir, 'web.yaml'), serviceWithEndpoints('web', port, [echo, echo]));
  await eventually(async () => (await getJson<ConfigJson>(admin, '/api/config')).reloads.success === 2, 'the applied reload');
  const applied = await getJson<ConfigJson>(admin, '/api/config');
  t.match(applied, { lastReload: { result: 'success', errors: [] } });
  t.not(applied.hash, first.hash);
  t.equal(metric(await scrape(admin), 'svcproxy_config_last_reload_successful'), 1);
});

t.test('/readyz is 503 with the reason while a listener cannot bind, 200 once it binds', async (t) => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const address = blocker.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const port = address.port;
  t.teardown(() => blocker.close());
  const echo = await startEchoServer(t);
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [echo]) });
  const proxy = await startInstance(t, dir);
  const admin = proxy.adminPort;

  const notReady = await get(admin, '/readyz');
  t.equal(notReady.status, 503);
  t.match(notReady.body, new RegExp(`^not ready: not bound: TCP 127\\.0\\.0\\.1:${port} \\(EADDRINUSE`));
  const m = await scrape(admin);
  t.equal(metric(m, 'svcproxy_ready'), 0);
  t.equal(metric(m, 'svcproxy_listeners', { namespace: 'default', service: 'web', port: String(port), state: 'failed' }), 1);
  const api = await getJson<{ servicePorts: ServicePortJson[] }>(admin, '/api/services');
  t.match(servicePort(api, 'default/web').listeners, [{ address: `127.0.0.1:${port}`, state: 'failed', error: /EADDRINUSE/ }]);

  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  await eventually(async () => (await get(admin, '/readyz')).status === 200, 'readyz 200 after the retry binds', 10_000);
  t.equal((await get(admin, '/readyz')).body, 'ready\n');
});

t.test('/readyz turns 503 "draining" at SIGTERM-time shutdown while a connection finishes, then the admin server closes', async (t) => {
  const echo = await startEchoServer(t);
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [echo]) });
  const proxy = await startInstance(t, dir, { drainTimeoutMs: 20_000 });
  const admin = proxy.adminPort;
  t.same(await get(admin, '/readyz').then((r) => [r.status, r.body]), [200, 'ready\n']);
  const client = await dialTo(t, port);
  client.write('x');
  await once(client, 'data');

  const stopped = proxy.shutdown();
  const draining = await get(admin, '/readyz');
  t.equal(draining.status, 503);
  t.equal(draining.body, 'not ready: draining\n');
  t.equal(metric(await scrape(admin), 'svcproxy_ready'), 0);
  t.match(await getJson<ConfigJson>(admin, '/api/config'), { ready: false, reason: 'draining', draining: true });
  t.equal((await get(admin, '/healthz')).status, 200, 'still alive while draining');

  client.end();
  await stopped;
  await t.rejects(get(admin, '/healthz'), 'the admin server is closed after the drain');
});
