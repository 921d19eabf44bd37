import { ApiException, CoreV1Api, DiscoveryV1Api, KubeConfig, makeInformer, type V1EndpointSlice } from '@kubernetes/client-node';
import type { Test } from 'tap';
import t from 'tap';
import { kubeconfigDocument, writeExecPlugin, type KubeconfigAuth } from '../helpers/fake-apiserver/kubeconfig.js';
import { DEFAULT_TOKEN, startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver/server.js';
import { until } from '../helpers/fake-apiserver/wait.js';

// @kubernetes/client-node 2.0.1 (the library svcproxy's cluster source loads kubeconfig with) is the
// second judge of the fake: its typed models must decode what the fake serves, and its informer
// (list, then watch from the list's resourceVersion, relist on 410) must converge through faults.

async function config(t: Test, server: FakeApiServer, auth: 'token' | 'cert' | KubeconfigAuth = 'token'): Promise<KubeConfig> {
  const kc = new KubeConfig();
  kc.loadFromFile(await server.kubeconfig(t, { auth, namespace: 'shop' }));
  return kc;
}

function seed(server: FakeApiServer): void {
  server.cluster.addService({ namespace: 'shop', name: 'web', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
  for (const name of ['web-a', 'web-b', 'web-c']) server.cluster.addPod({ namespace: 'shop', name, labels: { app: 'web' } });
  server.cluster.addPod({ namespace: 'other', name: 'lonely', labels: { app: 'lonely' } });
}

t.test('CoreV1Api and DiscoveryV1Api decode the typed lists', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const kc = await config(t, server);
  const core = kc.makeApiClient(CoreV1Api);
  const services = await core.listNamespacedService({ namespace: 'shop' });
  t.equal(services.items.length, 1);
  const svc = services.items[0];
  t.ok(svc?.metadata?.creationTimestamp instanceof Date, 'timestamps decode to Dates');
  t.match(svc, {
    metadata: { name: 'web', namespace: 'shop', uid: String, resourceVersion: /^\d+$/ },
    spec: { type: 'ClusterIP', clusterIP: '10.96.0.2', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
  });
  t.match(services.metadata?.resourceVersion, /^\d+$/);

  const pods = await core.listPodForAllNamespaces({ labelSelector: 'app in (web,lonely),app!=lonely' });
  t.same(
    pods.items.map((p) => p.metadata?.name),
    ['web-a', 'web-b', 'web-c'],
  );
  t.same(
    pods.items.map((p) => p.status?.conditions?.find((c) => c.type === 'Ready')?.status),
    ['True', 'True', 'True'],
  );

  const slices = await kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: 'shop', labelSelector: 'kubernetes.io/service-name=web' });
  t.equal(slices.items.length, 1);
  t.same(
    slices.items[0]?.endpoints?.map((e) => [e.addresses[0], e.conditions?.ready, e.targetRef?.name]),
    [
      ['127.0.10.1', true, 'web-a'],
      ['127.0.10.2', true, 'web-b'],
      ['127.0.10.3', true, 'web-c'],
    ],
  );
  t.same(slices.items[0]?.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
});

t.test('client certificates authenticate; a bad token is an ApiException with code 401, a forbidden namespace 403, a missing object 404', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  // From a string this time: the document the kubeconfig file holds.
  const fromString = new KubeConfig();
  fromString.loadFromString(
    JSON.stringify(
      kubeconfigDocument({ server: server.url, caCert: server.pki.caCert, auth: { clientCert: server.pki.clientCert, clientKey: server.pki.clientKey } }),
    ),
  );
  const byCert = fromString.makeApiClient(CoreV1Api);
  t.equal((await byCert.readNamespacedService({ namespace: 'shop', name: 'web' })).metadata?.name, 'web');
  t.equal(server.requests.at(-1)?.user, 'fake-cert-user');

  const byPlugin = (await config(t, server, { exec: { command: await writeExecPlugin(t, DEFAULT_TOKEN) } })).makeApiClient(CoreV1Api);
  t.equal((await byPlugin.listNamespacedPod({ namespace: 'other' })).items[0]?.metadata?.name, 'lonely', 'an exec credential plugin authenticates');
  t.equal(server.requests.at(-1)?.user, 'fake-token-user');

  const bad = (await config(t, server, { token: 'nope' })).makeApiClient(CoreV1Api);
  const code = (err: unknown): number => (err instanceof ApiException ? err.code : -1);
  t.equal(await bad.listNamespacedService({ namespace: 'shop' }).then(() => 0, code), 401);
  server.policy.forbiddenNamespaces.add('shop');
  t.equal(await byCert.listNamespacedService({ namespace: 'shop' }).then(() => 0, code), 403);
  t.equal(await byCert.readNamespacedService({ namespace: 'other', name: 'web' }).then(() => 0, code), 404);
});

/** "ip:ready" of every endpoint the informer holds, sorted, and the same from the store. */
function seen(slices: readonly V1EndpointSlice[]): string[] {
  return slices.flatMap((s) => (s.endpoints ?? []).map((e) => `${e.addresses[0]}:${String(e.conditions?.ready)}`)).sort();
}

function truth(server: FakeApiServer): string[] {
  return server.cluster
    .slices('shop', 'web')
    .flatMap((s) => s.endpoints.map((e) => `${e.addresses[0]}:${String(e.conditions.ready)}`))
    .sort();
}

async function sliceInformer(t: Test, server: FakeApiServer): Promise<{ list: () => readonly V1EndpointSlice[]; errors: () => number }> {
  const kc = await config(t, server);
  const api = kc.makeApiClient(DiscoveryV1Api);
  const selector = 'kubernetes.io/service-name=web';
  const informer = makeInformer(
    kc,
    '/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices',
    () => api.listNamespacedEndpointSlice({ namespace: 'shop', labelSelector: selector }),
    selector,
  );
  let errors = 0;
  let stopped = false;
  // client-node's ListWatch stops on any error but a 410: the caller restarts it (kubernetes-client/javascript#795),
  // after a short pause so that a server that is down is not hammered.
  let restart: NodeJS.Timeout | undefined;
  informer.on('error', () => {
    errors++;
    if (stopped) return;
    clearTimeout(restart);
    restart = setTimeout(() => void informer.start().catch(() => undefined), 100);
  });
  t.teardown(async () => {
    stopped = true;
    clearTimeout(restart);
    await informer.stop();
  });
  await informer.start();
  return { list: () => informer.list(), errors: () => errors };
}

t.test('a makeInformer informer converges after dropped watches, clean and abrupt', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const informer = await sliceInformer(t, server);
  await until(() => seen(informer.list()).join() === truth(server).join(), 'the informer has the slices', 15_000);
  for (let round = 0; round < 4; round++) {
    await until(() => server.openWatches === 1, 'the informer is watching', 15_000);
    // Changes made while no watch is open must arrive by the resume from the last resourceVersion.
    t.equal(server.dropWatches({ abrupt: round % 2 === 1 }), 1);
    server.cluster.setPodReady('shop', 'web-b', round % 2 === 1);
    server.cluster.addPod({ namespace: 'shop', name: `web-extra-${round}`, labels: { app: 'web' } });
    await until(() => seen(informer.list()).join() === truth(server).join(), `round ${round} converged`, 15_000);
  }
  const lists = server.requests.filter((r) => r.path.endsWith('/endpointslices') && r.query.get('watch') !== 'true');
  t.equal(lists.length, 1, 'drops resume the watch; only the first list was needed');
  t.equal(informer.errors(), 2, 'each abrupt drop was an error the caller restarted from');
});

t.test('a makeInformer informer relists and diffs after a 410, as an HTTP status and as an ERROR event', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const informer = await sliceInformer(t, server);
  await until(() => seen(informer.list()).join() === truth(server).join(), 'the informer has the slices', 15_000);
  const listsSoFar = (): number => server.requests.filter((r) => r.path.endsWith('/endpointslices') && r.query.get('watch') !== 'true').length;

  // HTTP 410: the watch is dropped, Pods change and the history is compacted before it can resume.
  await until(() => server.openWatches === 1, 'the informer is watching', 15_000);
  server.dropWatches();
  server.cluster.deletePod('shop', 'web-a');
  server.cluster.setPodReady('shop', 'web-c', false);
  server.compact();
  await until(() => seen(informer.list()).join() === truth(server).join(), 'converged after the HTTP 410', 15_000);
  t.ok(
    server.requests.some((r) => r.code === 410 && r.query.get('watch') === 'true'),
    'a resume was refused with HTTP 410',
  );
  t.equal(listsSoFar(), 2, 'one relist');

  // ERROR event: an open watch is told its version expired, mid-stream.
  await until(() => server.openWatches === 1, 'the informer is watching again', 15_000);
  t.equal(server.expireWatches(), 1);
  server.cluster.addPod({ namespace: 'shop', name: 'web-d', labels: { app: 'web' } });
  await until(() => listsSoFar() === 3 && seen(informer.list()).join() === truth(server).join(), 'converged after the ERROR 410', 15_000);
  t.same(truth(server), ['127.0.10.2:true', '127.0.10.3:false', '127.0.10.5:true']);
  t.equal(informer.errors(), 0, 'a 410 is no error to the informer');
});

t.test('a makeInformer informer restarted on errors converges once the API server is back on its port', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const informer = await sliceInformer(t, server);
  await until(() => seen(informer.list()).join() === truth(server).join(), 'the informer has the slices', 15_000);
  await until(() => server.openWatches === 1, 'the informer is watching', 15_000);
  await server.outage('refuse');
  server.cluster.deletePod('shop', 'web-a');
  server.cluster.addPod({ namespace: 'shop', name: 'web-z', labels: { app: 'web' } });
  await until(() => informer.errors() >= 2, 'the informer failed to reach the server', 15_000);
  await server.recover();
  await until(() => seen(informer.list()).join() === truth(server).join(), 'converged after the outage', 15_000);
  t.ok(server.requests.length < 50, `a bounded number of requests (${server.requests.length})`);
});
