import t from 'tap';
import { startFakeApiServer } from '../helpers/fake-apiserver/server.js';
import { addServices, converged, follow, lists, until, watches } from './helpers.js';

const SERVICES = '/api/v1/namespaces/shop/services';

t.test('list, then watch from its resourceVersion: adds, changes and deletes converge', async (t) => {
  const server = await startFakeApiServer(t);
  addServices(server, 'shop', 'a', 'b');
  addServices(server, 'other', 'elsewhere');
  const f = await follow(t, server);
  await converged(f, ['shop/a', 'shop/b']);
  t.equal(f.reflector.state().synced, true);
  t.match(f.reflector.objects().get('shop/a'), { kind: 'Service', apiVersion: 'v1', metadata: { name: 'a', namespace: 'shop' } }, 'list items get their kind and apiVersion');
  await until(() => f.reflector.state().phase === 'watching', 'watching');
  const [watch] = watches(server, SERVICES);
  t.equal(watch?.query.get('allowWatchBookmarks'), 'true');
  t.equal(watch?.query.get('resourceVersion'), f.reflector.state().resourceVersion, 'the watch starts at the list');
  const timeout = Number(watch?.query.get('timeoutSeconds'));
  t.ok(timeout >= 240 && timeout <= 360, `timeoutSeconds about 5 min (${timeout})`);

  addServices(server, 'shop', 'c');
  await converged(f, ['shop/a', 'shop/b', 'shop/c']);
  server.cluster.store.update('Service', 'shop', 'a', (o) => (o.metadata.labels = { tier: 'gold' }));
  await until(() => f.reflector.objects().get('shop/a')?.metadata.labels?.tier === 'gold', 'the change');
  server.cluster.deleteService('shop', 'b');
  await converged(f, ['shop/a', 'shop/c']);
  t.ok(Number(f.reflector.state().resourceVersion) > Number(watch?.query.get('resourceVersion')), 'the version follows the events');
  t.equal(lists(server, SERVICES).length, 1, 'one list');
  t.equal(f.reflector.counters().requests.get('list 200'), 1);
  t.equal(f.reflector.counters().requests.get('watch 200'), 1);
  t.ok(f.changes() >= 4, 'onChange fired for the list and each event');

  f.reflector.stop();
  t.equal(f.reflector.state().phase, 'stopped');
  await until(() => server.openWatches === 0, 'the watch closed at stop()');
  const requests = server.requests.length;
  addServices(server, 'shop', 'after-stop');
  f.reflector.start();
  await converged(f, ['shop/a', 'shop/c', 'shop/after-stop'], 'start() after stop() follows again');
  t.ok(server.requests.length > requests);
});

t.test('every namespace, EndpointSlices by label, Pods', async (t) => {
  const server = await startFakeApiServer(t);
  addServices(server, 'shop', 'web');
  addServices(server, 'other', 'db');
  server.cluster.addPod({ namespace: 'shop', name: 'web-1', labels: { app: 'web' } });
  server.cluster.addPod({ namespace: 'other', name: 'db-1', labels: { app: 'db' } });
  const all = await follow(t, server, { namespace: '' });
  await converged(all, ['other/db', 'shop/web']);
  const slices = await follow(t, server, { resource: 'endpointslices', namespace: '', labelSelector: 'kubernetes.io/service-name=web' });
  await until(() => slices.reflector.objects().size === 1, 'the slice of web');
  t.match([...slices.reflector.objects().values()][0], { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', endpoints: [{ addresses: ['127.0.10.1'] }] });
  t.ok(server.requests.some((r) => r.path === '/apis/discovery.k8s.io/v1/endpointslices' && r.query.get('labelSelector') === 'kubernetes.io/service-name=web'));
  const pods = await follow(t, server, { resource: 'pods' });
  await converged(pods, ['shop/web-1']);
  server.cluster.setPodReady('shop', 'web-1', false);
  await until(() => JSON.stringify(pods.reflector.objects().get('shop/web-1')).includes('"ready":false'), 'the readiness change');
  server.cluster.addPod({ namespace: 'shop', name: 'web-2', labels: { app: 'web' } });
  await until(() => JSON.stringify([...slices.reflector.objects().values()]).includes('web-2'), 'the slice follows the new Pod');
});

t.test('a dropped watch (clean or reset) resumes from its resourceVersion, without a list; nothing is missed', async (t) => {
  const server = await startFakeApiServer(t, { bookmarkIntervalMs: 0 });
  addServices(server, 'shop', 'a');
  const f = await follow(t, server);
  await until(() => f.reflector.state().phase === 'watching', 'watching');
  for (const abrupt of [false, true, false, true]) {
    const rv = f.reflector.state().resourceVersion;
    const before = watches(server, SERVICES).length;
    t.equal(server.dropWatches({ abrupt }), 1);
    addServices(server, 'shop', `while-away-${before}`); // made before or after the resume: seen either way
    await until(() => watches(server, SERVICES).length > before && server.openWatches === 1, 'the resumed watch');
    t.equal(watches(server, SERVICES)[before]?.query.get('resourceVersion'), rv, `resumed from ${rv} (abrupt: ${abrupt})`);
    await until(() => f.reflector.objects().has(`shop/while-away-${before}`), 'the change made meanwhile');
  }
  t.equal(lists(server, SERVICES).length, 1, 'never relisted');
  t.match(f.reflector.state(), { relists: 0, watchRestarts: 4, phase: 'watching' });
});

t.test('HTTP 410 on resume relists; the new list replaces the store by a diff, never emptied', async (t) => {
  for (const mode of ['http', 'event'] as const) {
    await t.test(`too old as ${mode}`, async (t) => {
      const server = await startFakeApiServer(t, { bookmarkIntervalMs: 0 });
      server.tooOldWatch = mode;
      addServices(server, 'shop', 'keep-1', 'keep-2', 'doomed');
      let sawMissing = false;
      let relistChanges = 0;
      const f = await follow(t, server, {
        onChange: (r) => {
          if (r.state().synced && (!r.objects().has('shop/keep-1') || !r.objects().has('shop/keep-2'))) sawMissing = true;
          if (r.state().relists > 0) relistChanges++;
        },
      });
      await until(() => f.reflector.state().phase === 'watching', 'watching');
      const kept = f.reflector.objects().get('shop/keep-1');
      await server.outage('refuse');
      server.cluster.deleteService('shop', 'doomed');
      addServices(server, 'shop', 'new');
      server.compact();
      await server.recover();
      await converged(f, ['shop/keep-1', 'shop/keep-2', 'shop/new']);
      t.equal(f.reflector.state().relists, 1);
      t.equal(lists(server, SERVICES).length, 2, 'one relist');
      t.notOk(sawMissing, 'the kept objects never left the store');
      t.equal(relistChanges, 1, 'onChange fired once for the relist');
      t.equal(f.reflector.objects().get('shop/keep-1'), kept, 'an unchanged object keeps its identity');
      await until(() => f.reflector.state().phase === 'watching', 'watching again');
      addServices(server, 'shop', 'later');
      await until(() => f.reflector.objects().has('shop/later'), 'the watch after the relist');
    });
  }
});

t.test('an ERROR event with a 410 Status on a live watch relists', async (t) => {
  const server = await startFakeApiServer(t, { bookmarkIntervalMs: 0 });
  addServices(server, 'shop', 'a', 'b');
  const f = await follow(t, server);
  await until(() => f.reflector.state().phase === 'watching', 'watching');
  t.equal(server.expireWatches(), 1);
  await until(() => f.reflector.state().relists === 1, 'the relist');
  t.same(f.names(), ['shop/a', 'shop/b']);
  t.match(f.reflector.state().lastError, /410/);
  addServices(server, 'shop', 'c');
  await converged(f, ['shop/a', 'shop/b', 'shop/c']);
});

t.test('bookmarks move the resourceVersion, so a quiet filtered watch resumes without a 410', async (t) => {
  const server = await startFakeApiServer(t, { bookmarkIntervalMs: 0 });
  server.cluster.addPod({ namespace: 'shop', name: 'web-1', labels: { app: 'web' } });
  const f = await follow(t, server, { resource: 'pods', labelSelector: 'app=web' });
  await until(() => f.reflector.state().phase === 'watching', 'watching');
  const listed = f.reflector.state().resourceVersion;
  for (let i = 0; i < 5; i++) server.cluster.addPod({ namespace: 'shop', name: `other-${i}`, labels: { app: 'other' } });
  t.equal(f.reflector.state().resourceVersion, listed, 'no event for the filtered-out Pods');
  server.bookmark();
  await until(() => f.reflector.state().resourceVersion === server.cluster.store.resourceVersion, 'the bookmark');
  t.equal(f.changes(), 1, 'a bookmark is no change');
  server.compact();
  server.dropWatches();
  await until(() => watches(server, '/api/v1/namespaces/shop/pods').length === 2 && server.openWatches === 1, 'the resumed watch');
  t.equal(f.reflector.state().relists, 0, 'resumed from the bookmark: no 410');
  server.cluster.addPod({ namespace: 'shop', name: 'web-2', labels: { app: 'web' } });
  await converged(f, ['shop/web-1', 'shop/web-2']);
});
