import { once } from 'node:events';
import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { loadClusterAccess } from '../../src/kube/kubeconfig.js';
import type { ClusterAccess, KubeClock } from '../../src/kube/types.js';
import { startFakeApiServer } from '../helpers/fake-apiserver/server.js';
import { captureLogger } from '../helpers/log.js';
import { addServices, converged, FAST, follow, lists, until, watches } from './helpers.js';

const SERVICES = '/api/v1/namespaces/shop/services';

function failedWatches(counters: ReadonlyMap<string, number>): number {
  let n = 0;
  for (const [key, count] of counters) if (key.startsWith('watch ') && key !== 'watch 200') n += count;
  return n;
}

t.test('an outage (refused, reset, hung) backs off with bounded requests and converges when the server is back', async (t) => {
  for (const mode of ['refuse', 'reset', 'hang'] as const) {
    await t.test(mode, async (t) => {
      const server = await startFakeApiServer(t, { bookmarkIntervalMs: 0 });
      addServices(server, 'shop', 'a', 'gone');
      const f = await follow(t, server, { random: () => 0.5, tuning: { ...FAST, requestTimeoutMs: 300 } });
      await until(() => f.reflector.state().phase === 'watching', 'watching');
      const started = Date.now();
      await server.outage(mode);
      server.cluster.deleteService('shop', 'gone');
      addServices(server, 'shop', 'during');
      await until(() => f.reflector.state().phase === 'backoff' && failedWatches(f.reflector.counters().requests) >= 3, 'three failed attempts');
      const state = f.reflector.state();
      t.not(state.lastError, '');
      t.ok(state.lastErrorAt >= started);
      t.same(f.names(), ['shop/a', 'shop/gone'], 'the last state is kept while the server is away');
      const attempts = failedWatches(f.reflector.counters().requests);
      const elapsed = Date.now() - started;
      t.ok(attempts <= 2 + elapsed / 10, `requests bounded by the backoff (${attempts} in ${elapsed} ms)`);
      await server.recover();
      await converged(f, ['shop/a', 'shop/during']);
      await until(() => f.reflector.state().phase === 'watching', 'watching again');
      // After 'refuse' the fake listens again on its port, which another test's server may have taken
      // meanwhile (tap runs files in parallel): a watch answered by that one may end in a relist.
      if (mode === 'refuse') t.ok(lists(server, SERVICES).length <= 2, 'resumed from the version (a relist at most)');
      else t.equal(lists(server, SERVICES).length, 1, 'resumed from the version, no relist');
    });
  }
});

t.test('backoff: full jitter doubling to the ceiling, reset after a healthy watch (a fake clock)', async (t) => {
  const server = await startFakeApiServer(t, { bookmarkIntervalMs: 0 });
  addServices(server, 'shop', 'a');
  const pending: { fn: () => void; ms: number }[] = [];
  const clock: KubeClock = {
    now: () => Date.now(),
    setTimeout: (fn, ms) => {
      const timer = { fn, ms };
      pending.push(timer);
      return timer;
    },
    clearTimeout: (handle) => {
      const i = pending.indexOf(handle as (typeof pending)[number]);
      if (i !== -1) pending.splice(i, 1);
    },
  };
  /** Waits for the reflector's backoff sleep (the only timer under 1 s); resolves with its length. */
  const nextSleep = async (): Promise<number> => {
    await until(() => pending.some((p) => p.ms < 1000), `a backoff sleep (${JSON.stringify(f.reflector.state())})`);
    return pending.find((p) => p.ms < 1000)?.ms ?? -1;
  };
  const fireSleep = (): void => {
    const i = pending.findIndex((p) => p.ms < 1000);
    const [timer] = pending.splice(i, 1);
    timer?.fn();
  };
  const f = await follow(t, server, { clock, random: () => 0.5 });
  await until(() => f.reflector.state().phase === 'watching', 'watching');
  await server.outage('refuse');
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    if (i > 0) fireSleep();
    delays.push(await nextSleep());
  }
  t.same(delays, [10, 20, 40, 80, 100, 100, 100], 'half of 20, 40, 80, 160, then the 200 ms ceiling');
  await server.recover();
  fireSleep();
  await until(() => f.reflector.state().phase === 'watching', 'watching again');
  addServices(server, 'shop', 'b');
  await converged(f, ['shop/a', 'shop/b']);
  server.dropWatches(); // a watch that delivered an event ended: healthy, the backoff starts over
  await until(() => watches(server, SERVICES).length >= 3 && server.openWatches === 1, 'resumed at once');
  await server.outage('refuse');
  t.equal(await nextSleep(), 10, 'the first wait again');
  f.reflector.stop();
  await server.recover();
});

t.test('403: phase forbidden, logged once, retried slowly; served as soon as access is granted', async (t) => {
  const server = await startFakeApiServer(t);
  addServices(server, 'secret', 'vault');
  server.policy.forbiddenNamespaces.add('secret');
  const { log, records } = captureLogger('info');
  const f = await follow(t, server, { namespace: 'secret', log });
  await until(() => (f.reflector.counters().requests.get('list 403') ?? 0) >= 3, 'three refused lists');
  t.match(f.reflector.state(), {
    phase: 'forbidden',
    synced: false,
    lastError: /403 Forbidden: services is forbidden: User "fake-token-user" cannot list resource "services"/,
  });
  const warnings = records.filter((r) => /forbidden/.test(r.msg));
  t.equal(warnings.length, 1, 'logged once');
  t.match(warnings[0], { level: 'warn', namespace: 'secret', resource: 'services' });
  server.policy.forbiddenNamespaces.delete('secret');
  await converged(f, ['secret/vault']);
  await until(() => f.reflector.state().phase === 'watching', 'watching');
});

t.test('401: phase unauthorized, a rate-limited error', async (t) => {
  const server = await startFakeApiServer(t);
  const { log, records } = captureLogger('info');
  const access = loadClusterAccess({ kubeconfig: await server.kubeconfig(t, { auth: { token: 'expired' } }), env: {} });
  const f = await follow(t, server, { access, log });
  await until(() => (f.reflector.counters().requests.get('list 401') ?? 0) >= 3, 'three refused lists');
  t.match(f.reflector.state(), { phase: 'unauthorized', synced: false, lastError: /^401 Unauthorized/ });
  t.equal(records.filter((r) => r.level === 'error' && /401/.test(r.msg)).length, 1, 'one error line for many attempts');
});

t.test('a malformed line is refused and the watch resumed, so an event glued to it is not lost', async (t) => {
  const server = await startFakeApiServer(t, { bookmarkIntervalMs: 0 });
  addServices(server, 'shop', 'a');
  const f = await follow(t, server);
  await until(() => f.reflector.state().phase === 'watching', 'watching');
  t.equal(server.writeToWatches('this is not json\n'), 1);
  await until(() => f.reflector.counters().refusedEvents === 1 && server.openWatches === 1 && f.reflector.state().watchRestarts === 1, 'refused and resumed');
  server.writeToWatches('{"type":"ADDED","object":{"metadata"'); // truncated: the next event is glued to it
  addServices(server, 'shop', 'hidden');
  await until(() => f.reflector.objects().has('shop/hidden'), 'the glued event, replayed');
  t.equal(f.reflector.counters().refusedEvents, 2);
  t.equal(f.reflector.state().relists, 0);
  t.equal(lists(server, SERVICES).length, 1);
});

t.test('invalid objects and unknown events are refused, counted and logged by kind/namespace/name; the watch goes on', async (t) => {
  const server = await startFakeApiServer(t, { bookmarkIntervalMs: 0 });
  addServices(server, 'shop', 'a');
  const { log, records } = captureLogger('info');
  const f = await follow(t, server, { log });
  await until(() => f.reflector.state().phase === 'watching', 'watching');
  const lines = [
    { type: 'ADDED', object: { kind: 'Service', metadata: { namespace: 'shop' } } },
    { type: 'ADDED', object: { kind: 'Service', metadata: { namespace: 'shop', name: 'bad-labels', labels: { a: 1 } } } },
    { type: 'MODIFIED', object: 'a string' },
    { type: 'EXPLODED', object: {} },
  ];
  server.writeToWatches(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  await until(() => f.reflector.counters().refusedObjects === 3 && f.reflector.counters().refusedEvents === 1, 'the refusals');
  t.match(
    records.find((r) => r.reason === 'no metadata.name'),
    { kind: 'Service', namespace: 'shop', msg: /refused an object/ },
  );
  t.match(
    records.find((r) => r.name === 'bad-labels'),
    { kind: 'Service', namespace: 'shop', reason: 'metadata.labels is not a string map' },
  );
  addServices(server, 'shop', 'b');
  await converged(f, ['shop/a', 'shop/b']);
  t.equal(f.reflector.state().watchRestarts, 0, 'the same watch');
});

t.test('a list with an invalid item keeps the rest; a malformed list or a 500 watch backs off and recovers', async (t) => {
  const server = await startFakeApiServer(t, { bookmarkIntervalMs: 0 });
  addServices(server, 'shop', 'a');
  let mode: 'bad-item' | 'malformed' | '500-watch' | undefined = 'bad-item';
  server.interceptor = (req) => {
    const watch = req.query.get('watch') === 'true';
    if (mode === 'bad-item' && !watch) {
      const items = [{ metadata: { name: 'good', namespace: 'shop', resourceVersion: '1' } }, { metadata: { namespace: 'shop' } }];
      return {
        code: 200,
        body: JSON.stringify({ kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: server.cluster.store.resourceVersion }, items }),
      };
    }
    if (mode === 'malformed' && !watch) return { code: 200, body: '{"kind":"ServiceList","items":[' };
    if (mode === '500-watch' && watch)
      return { code: 500, body: JSON.stringify({ kind: 'Status', code: 500, reason: 'InternalError', message: 'etcd is sad' }) };
    return undefined;
  };
  const first = await follow(t, server);
  await converged(first, ['shop/good']);
  t.equal(first.reflector.counters().refusedObjects, 1);

  mode = 'malformed';
  const second = await follow(t, server);
  await until(() => (second.reflector.counters().requests.get('list 200') ?? 0) >= 2 && second.reflector.state().phase === 'backoff', 'failed lists');
  t.match(second.reflector.state().lastError, /JSON/);
  mode = '500-watch';
  await until(() => (second.reflector.counters().requests.get('watch 500') ?? 0) >= 2, 'failed watches');
  t.match(second.reflector.state(), { phase: 'backoff', lastError: /500 InternalError: etcd is sad/ });
  mode = undefined;
  addServices(server, 'shop', 'b');
  await converged(second, ['shop/a', 'shop/b']);
  t.equal(lists(server, SERVICES).length >= 3, true);
});

t.test('a line longer than the limit aborts that watch (logged), without buffering it', async (t) => {
  const server = await startFakeApiServer(t, { bookmarkIntervalMs: 0 });
  addServices(server, 'shop', 'a');
  const f = await follow(t, server, { tuning: { ...FAST, maxLineBytes: 4096 } });
  await until(() => f.reflector.state().phase === 'watching', 'watching');
  server.writeToWatches('x'.repeat(64 * 1024));
  await until(() => f.reflector.counters().refusedEvents === 1 && f.reflector.state().watchRestarts === 1 && server.openWatches === 1, 'refused and resumed');
  t.match(f.reflector.state().lastError, /longer than 4096 bytes/);
  addServices(server, 'shop', 'b');
  await converged(f, ['shop/a', 'shop/b']);
});

t.test('a flood: thousands of bad objects are counted with a few log lines; hundreds of changes converge', async (t) => {
  const server = await startFakeApiServer(t, { bookmarkIntervalMs: 0 });
  const { log, records } = captureLogger('info');
  const f = await follow(t, server, { log });
  await until(() => f.reflector.state().phase === 'watching', 'watching');
  const bad = `${JSON.stringify({ type: 'ADDED', object: { metadata: { namespace: 'shop' } } })}\n`;
  server.writeToWatches(bad.repeat(5000));
  await until(() => f.reflector.counters().refusedObjects === 5000, 'every refusal counted');
  t.ok(records.filter((r) => /refused/.test(r.msg)).length <= 10, 'a few log lines');
  const names: string[] = [];
  for (let i = 0; i < 300; i++) names.push(`svc-${i}`);
  addServices(server, 'shop', ...names);
  await converged(
    f,
    names.map((n) => `shop/${n}`),
  );
});

t.test('a watch silent past its timeout plus the margin is aborted and resumed (a server that never ends it)', async (t) => {
  const hung = new Set<ServerResponse>();
  let watchesSeen = 0;
  const stub = createServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://stub').searchParams.get('watch') === 'true') {
      watchesSeen++;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      hung.add(res);
      return;
    }
    res
      .writeHead(200, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ kind: 'ServiceList', metadata: { resourceVersion: '5' }, items: [{ metadata: { name: 'a', namespace: 'shop' } }] }));
  });
  stub.listen(0, '127.0.0.1');
  await once(stub, 'listening');
  t.teardown(() => {
    stub.closeAllConnections();
    stub.close();
  });
  const { port } = stub.address() as AddressInfo;
  const access: ClusterAccess = {
    contextName: 'stub',
    server: `http://127.0.0.1:${port}`,
    user: 'stub',
    namespace: 'shop',
    kubeconfigPaths: [],
    request: (path, options) =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, signal: options.signal }, resolve);
        req.on('error', reject);
        req.end();
      }),
    upgrade: () => Promise.reject(new Error('not used')),
  };
  const f = await follow(t, undefined, { access, tuning: { ...FAST, watchTimeoutSeconds: 1, silenceMarginMs: 100 } });
  await until(() => watchesSeen >= 2 && f.reflector.state().watchRestarts >= 1, 'the silent watch resumed');
  t.match(f.reflector.state().lastError, /silent for \d+ ms/);
  t.same(f.names(), ['shop/a']);
  t.equal(f.reflector.state().relists, 0);
});
