import t from 'tap';
import { VERSION_INFO } from '../helpers/fake-apiserver/discovery.js';
import { rawGet, rawWatch } from '../helpers/fake-apiserver/raw-client.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver/server.js';
import { until } from '../helpers/fake-apiserver/wait.js';

// The wire details kubectl and client-node do not show: watch semantics, 410s both ways, bookmarks,
// timeoutSeconds, Status errors, outages.

const SVC_PATH = '/api/v1/namespaces/shop/services';

function seed(server: FakeApiServer): void {
  server.cluster.addService({ namespace: 'shop', name: 'web', selector: { app: 'web' }, ports: [{ port: 80 }], labels: { tier: 'front' } });
  server.cluster.addService({ namespace: 'shop', name: 'db', selector: { app: 'db' }, ports: [{ port: 5432 }] });
}

function listRv(json: unknown): string {
  return (json as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
}

t.test('/version and discovery describe the served kinds', async (t) => {
  const server = await startFakeApiServer(t);
  t.same((await rawGet(server, '/version')).json, VERSION_INFO);
  t.match((await rawGet(server, '/api')).json, { kind: 'APIVersions', versions: ['v1'] });
  t.match((await rawGet(server, '/apis')).json, {
    kind: 'APIGroupList',
    groups: [{ name: 'discovery.k8s.io', preferredVersion: { groupVersion: 'discovery.k8s.io/v1' } }],
  });
  t.match((await rawGet(server, '/apis/discovery.k8s.io')).json, { kind: 'APIGroup', name: 'discovery.k8s.io' });
  const core = (await rawGet(server, '/api/v1')).json as { resources: Array<{ name: string; namespaced: boolean; verbs: string[] }> };
  t.same(
    core.resources.map((r) => [r.name, r.namespaced]),
    [
      ['namespaces', false],
      ['services', true],
      ['pods', true],
    ],
  );
  t.match((await rawGet(server, '/apis/discovery.k8s.io/v1')).json, {
    groupVersion: 'discovery.k8s.io/v1',
    resources: [{ name: 'endpointslices', kind: 'EndpointSlice', verbs: ['get', 'list', 'watch'] }],
  });
  const health = await rawGet(server, '/readyz', { token: null });
  t.same([health.code, health.body], [200, 'ok']);
});

t.test('lists carry the store resourceVersion; items have no kind; one counter orders every kind', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const list = await rawGet(server, SVC_PATH);
  t.equal(list.contentType, 'application/json');
  const body = list.json as { kind: string; apiVersion: string; items: Array<Record<string, unknown>> };
  t.match(body, { kind: 'ServiceList', apiVersion: 'v1' });
  t.same(
    body.items.map((i) => [i['kind'], (i['metadata'] as { name: string }).name]),
    [
      [undefined, 'db'],
      [undefined, 'web'],
    ],
  );
  const pod = server.cluster.addPod({ namespace: 'shop', name: 'p', labels: { app: 'web' } });
  t.ok(Number(pod.metadata.resourceVersion) > Number(listRv(list.json)), 'a later write has a higher version, whatever its kind');
  t.equal(
    server.cluster.store.resourceVersion,
    listRv((await rawGet(server, '/apis/discovery.k8s.io/v1/endpointslices')).json),
    'the slice written for it is the latest write',
  );
  const byLabel = (await rawGet(server, `${SVC_PATH}?labelSelector=${encodeURIComponent('tier in (front)')}`)).json as { items: unknown[] };
  t.equal(byLabel.items.length, 1);
  const table = (await rawGet(server, `${SVC_PATH}?includeObject=Object`, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' })).json;
  t.match(table, {
    kind: 'Table',
    columnDefinitions: [{ name: 'Name' }, { name: 'Type' }, { name: 'Cluster-IP' }],
    rows: [{ cells: ['db', 'ClusterIP'], object: { kind: 'Service' } }],
  });
});

t.test('a watch from a list version streams changes; selector changes arrive as ADDED and DELETED', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const rv = listRv((await rawGet(server, `${SVC_PATH}?labelSelector=tier%3Dfront`)).json);
  server.cluster.store.update('Service', 'shop', 'db', (o) => (o.metadata.labels = { tier: 'front' })); // before the watch: replayed
  const watch = await rawWatch(server, `${SVC_PATH}?watch=true&resourceVersion=${rv}&labelSelector=tier%3Dfront`);
  t.teardown(() => watch.close());
  t.equal(watch.code, 200);
  await watch.next((e) => e.type === 'ADDED' && e.object.metadata?.name === 'db', 'db now matches');
  server.cluster.store.update('Service', 'shop', 'web', (o) => (o.metadata.labels = { tier: 'back' }));
  const gone = await watch.next((e) => e.type === 'DELETED' && e.object.metadata?.name === 'web', 'web no longer matches');
  t.match(
    gone.object,
    { metadata: { labels: { tier: 'front' }, resourceVersion: server.cluster.store.resourceVersion } },
    'the last matching state, at the new version',
  );
  server.cluster.deleteService('shop', 'db');
  await watch.next((e) => e.type === 'DELETED' && e.object.metadata?.name === 'db', 'db deleted');
  const versions = watch.events.map((e) => Number(e.object.metadata?.resourceVersion));
  t.same(
    versions,
    [...versions].sort((a, b) => a - b),
    'events come in version order',
  );
  t.ok(
    watch.events.every((e) => e.object.kind === 'Service'),
    'watch events carry kind',
  );
});

t.test('a watch from 0 starts with every object; bookmarks only when allowed; timeoutSeconds ends it cleanly', async (t) => {
  const server = await startFakeApiServer(t, { bookmarkIntervalMs: 50 });
  seed(server);
  const bookmarked = await rawWatch(server, `${SVC_PATH}?watch=true&resourceVersion=0&allowWatchBookmarks=true&timeoutSeconds=1`);
  const plain = await rawWatch(server, `${SVC_PATH}?watch=1&timeoutSeconds=1`);
  t.teardown(() => {
    bookmarked.close();
    plain.close();
  });
  const bookmark = await bookmarked.next((e) => e.type === 'BOOKMARK', 'a bookmark');
  t.same(bookmark.object, { kind: 'Service', apiVersion: 'v1', metadata: { resourceVersion: server.cluster.store.resourceVersion } });
  t.same(
    bookmarked.events.slice(0, 2).map((e) => [e.type, e.object.metadata?.name]),
    [
      ['ADDED', 'db'],
      ['ADDED', 'web'],
    ],
  );
  const started = Date.now();
  await Promise.all([bookmarked.ended, plain.ended]);
  t.ok(Date.now() - started < 5000, 'both ended by their timeoutSeconds');
  t.same(
    plain.events.map((e) => e.type),
    ['ADDED', 'ADDED'],
    'no bookmarks unasked',
  );
});

t.test('a resume from below the compaction floor is HTTP 410, or an ERROR event; expiring open watches sends ERROR 410 mid-stream', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const old = server.cluster.store.resourceVersion;
  server.cluster.addPod({ namespace: 'shop', name: 'p' });
  server.compact();
  const refused = await rawGet(server, `${SVC_PATH}?watch=true&resourceVersion=${old}`);
  t.equal(refused.code, 410);
  t.match(refused.json, { kind: 'Status', status: 'Failure', code: 410, reason: 'Expired', message: /^too old resource version: \d+ \(\d+\)$/ });

  server.tooOldWatch = 'event';
  const asEvent = await rawWatch(server, `${SVC_PATH}?watch=true&resourceVersion=${old}`);
  await asEvent.ended;
  t.equal(asEvent.code, 200);
  t.match(asEvent.events, [{ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } }]);

  const open = await rawWatch(server, `${SVC_PATH}?watch=true&resourceVersion=${server.cluster.store.resourceVersion}`);
  t.equal(server.expireWatches(), 1);
  await open.ended;
  t.match(open.events, [{ type: 'ERROR', object: { code: 410, reason: 'Expired' } }]);
});

t.test('Status errors: 401 without or with a bad token, 403 for a forbidden namespace or cluster scope, 404, 400', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  for (const token of [null, 'bad']) {
    const res = await rawGet(server, SVC_PATH, { token });
    t.same(
      [res.code, res.json],
      [401, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }],
    );
  }
  t.equal((await rawGet(server, SVC_PATH, { token: 'bad', clientCert: true })).code, 200, 'a valid certificate authenticates despite a bad token');
  server.policy.forbiddenNamespaces.add('shop');
  t.match((await rawGet(server, `${SVC_PATH}?watch=true`)).json, {
    code: 403,
    reason: 'Forbidden',
    message: 'services is forbidden: User "fake-token-user" cannot watch resource "services" in API group "" in the namespace "shop"',
  });
  server.policy.forbidClusterScope = true;
  t.match((await rawGet(server, '/apis/discovery.k8s.io/v1/endpointslices')).json, {
    code: 403,
    message: /cannot list resource "endpointslices" in API group "discovery.k8s.io" at the cluster scope/,
  });
  t.match((await rawGet(server, '/api/v1/namespaces/other/pods/nope')).json, {
    code: 404,
    reason: 'NotFound',
    message: 'pods "nope" not found',
    details: { name: 'nope', kind: 'pods' },
  });
  t.match((await rawGet(server, '/api/v1/namespaces/other/pods?labelSelector=a%20in%20(b')).json, { code: 400, reason: 'BadRequest' });
  t.same(await rawGet(server, '/nothing/here').then((r) => [r.code, r.body]), [404, '404 page not found\n']);
});

t.test('outages: refused while down and back on the same port; reset; hung', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const port = server.port;
  const watch = await rawWatch(server, `${SVC_PATH}?watch=true`);
  await server.outage('refuse');
  await watch.ended;
  await t.rejects(rawGet(server, SVC_PATH), { code: 'ECONNREFUSED' });
  await server.recover();
  t.equal(server.port, port);
  t.equal((await rawGet(server, SVC_PATH)).code, 200);

  await server.outage('reset');
  await t.rejects(rawGet(server, SVC_PATH), { code: /ECONNRESET|EPIPE/ });
  await server.recover();

  await server.outage('hang');
  const before = server.requests.length;
  const hung = rawGet(server, SVC_PATH);
  await until(() => server.requests.length > before, 'the hung request arrived');
  t.equal(server.requests.at(-1)?.code, 0, 'and is not answered');
  await server.recover();
  await t.rejects(hung, { message: /socket hang up/ }, 'recover() cuts the hung connections');
  t.equal((await rawGet(server, SVC_PATH)).code, 200);
});

t.test('a test can answer requests itself and write raw bytes into open watches', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  server.interceptor = (req) =>
    req.path === SVC_PATH && req.query.get('watch') === null ? { code: 200, body: '{"kind":"ServiceList","items":[{' } : undefined;
  const broken = await rawGet(server, SVC_PATH);
  t.same([broken.code, broken.body, broken.json], [200, '{"kind":"ServiceList","items":[{', undefined]);
  t.equal((await rawGet(server, SVC_PATH, { token: 'bad' })).code, 401, 'authentication still comes first');
  server.interceptor = undefined;

  const watch = await rawWatch(server, `${SVC_PATH}?watch=true`);
  t.teardown(() => watch.close());
  await watch.next((e) => e.object.metadata?.name === 'web', 'the initial events');
  t.equal(server.writeToWatches('{"type":"ADDED","object":{"kind":"Service","metadata":{"name":"injected"}}}\n'), 1);
  await watch.next((e) => e.object.metadata?.name === 'injected', 'the injected line');
});
