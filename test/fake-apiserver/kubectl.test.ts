import t from 'tap';
import { writeExecPlugin } from '../helpers/fake-apiserver/kubeconfig.js';
import { kubectl, kubectlWatch } from '../helpers/fake-apiserver/kubectl.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver/server.js';
import { until } from '../helpers/fake-apiserver/wait.js';

// kubectl 1.32 is the judge of the fake: what it prints and parses is what a real server would give it.

function seed(server: FakeApiServer): void {
  const { cluster } = server;
  cluster.addService({ namespace: 'shop', name: 'web', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
  cluster.addService({ namespace: 'shop', name: 'db', selector: { app: 'db' }, ports: [{ port: 5432 }], clusterIP: 'None' });
  cluster.addPod({ namespace: 'shop', name: 'web-a', labels: { app: 'web' }, containerPorts: [{ name: 'http', containerPort: 8080 }] });
  cluster.addPod({ namespace: 'shop', name: 'web-b', labels: { app: 'web' }, ready: false });
  cluster.addPod({ namespace: 'other', name: 'lonely', labels: { app: 'lonely' } });
}

t.test('kubectl get svc prints the server-side Table of the context namespace', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const run = await kubectl(t, await server.kubeconfig(t, { namespace: 'shop' }), ['get', 'svc']);
  t.equal(run.code, 0, run.stderr);
  const lines = run.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/));
  t.same(lines[0], ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
  t.same(
    lines.slice(1).map((l) => l.slice(0, 5)),
    [
      ['db', 'ClusterIP', 'None', '<none>', '5432/TCP'],
      ['web', 'ClusterIP', '10.96.0.2', '<none>', '80/TCP'],
    ],
  );
  const asked = server.requests.find((r) => r.path === '/api/v1/namespaces/shop/services');
  t.match(asked?.accept, /as=Table;v=v1;g=meta\.k8s\.io/, 'kubectl asked for a Table');
});

t.test('kubectl get endpointslices -o json decodes the slices the controller wrote', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const run = await kubectl(t, await server.kubeconfig(t, { namespace: 'shop' }), [
    'get',
    'endpointslices',
    '-l',
    'kubernetes.io/service-name=web',
    '-o',
    'json',
  ]);
  t.equal(run.code, 0, run.stderr);
  const list = JSON.parse(run.stdout) as {
    kind: string;
    items: Array<Record<string, unknown> & { metadata: Record<string, unknown>; endpoints: Array<Record<string, unknown>> }>;
  };
  t.equal(list.kind, 'List');
  t.equal(list.items.length, 1);
  const slice = list.items[0];
  t.match(slice, {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    addressType: 'IPv4',
    metadata: {
      namespace: 'shop',
      labels: { 'kubernetes.io/service-name': 'web' },
      generation: Number,
      uid: String,
      resourceVersion: /^\d+$/,
      creationTimestamp: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    },
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
  t.same(
    slice?.endpoints.map((e) => [e['addresses'], e['conditions'], (e['targetRef'] as { name: string }).name]),
    [
      [['127.0.10.1'], { ready: true, serving: true, terminating: false }, 'web-a'],
      [['127.0.10.2'], { ready: false, serving: false, terminating: false }, 'web-b'],
    ],
  );
});

t.test('kubectl get pods -A lists every namespace, with the NAMESPACE column', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const run = await kubectl(t, await server.kubeconfig(t), ['get', 'pods', '-A']);
  t.equal(run.code, 0, run.stderr);
  const rows = run.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/).slice(0, 5));
  t.same(rows, [
    ['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS'],
    ['other', 'lonely', '1/1', 'Running', '0'],
    ['shop', 'web-a', '1/1', 'Running', '0'],
    ['shop', 'web-b', '0/1', 'Running', '0'],
  ]);
  t.ok(
    server.requests.some((r) => r.path === '/api/v1/pods'),
    'one list across all namespaces',
  );
});

t.test('kubectl get -w sees a change made after it started', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const watch = await kubectlWatch(t, await server.kubeconfig(t, { namespace: 'shop' }), ['get', 'pods', '-w']);
  await watch.waitFor(/web-b\s+0\/1/);
  // Only once kubectl's watch is open is the change made, so it must come through the watch.
  await until(() => server.openWatches === 1, 'kubectl opened its watch', 20_000);
  server.cluster.setPodReady('shop', 'web-b', true);
  await watch.waitFor(/web-b\s+1\/1\s+Running/);
  server.cluster.terminatePod('shop', 'web-a');
  await watch.waitFor(/web-a\s+1\/1\s+Terminating/);
  const watchRequest = server.requests.find((r) => r.query.get('watch') === 'true');
  t.match(watchRequest?.query.get('resourceVersion'), /^\d+$/, 'the watch resumed from the list');
});

t.test('kubectl authenticates with a client certificate', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const run = await kubectl(t, await server.kubeconfig(t, { auth: 'cert', namespace: 'other' }), ['get', 'pods', '-o', 'name']);
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stdout, 'pod/lonely\n');
  t.equal(server.requests.at(-1)?.user, 'fake-cert-user');
});

t.test('kubectl authenticates with the token an exec credential plugin prints', async (t) => {
  const server = await startFakeApiServer(t, { tokens: { 'from-plugin': 'plugin-user' } });
  seed(server);
  const plugin = await writeExecPlugin(t, 'from-plugin');
  const run = await kubectl(t, await server.kubeconfig(t, { auth: { exec: { command: plugin } }, namespace: 'other' }), ['get', 'pods', '-o', 'name']);
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stdout, 'pod/lonely\n');
  t.equal(server.requests.at(-1)?.user, 'plugin-user');
});

t.test('kubectl reports a bad token as Unauthorized, a forbidden namespace as Forbidden, a missing object as NotFound', async (t) => {
  const server = await startFakeApiServer(t);
  seed(server);
  const bad = await kubectl(t, await server.kubeconfig(t, { auth: { token: 'wrong' } }), ['get', 'svc']);
  t.not(bad.code, 0);
  // kubectl's words for a 401 Status from any server.
  t.match(bad.stderr, /error: You must be logged in to the server \(the server has asked for the client to provide credentials\)/);
  t.ok(
    server.requests.every((r) => r.code === 401 || r.path === '/version'),
    'every request was refused',
  );

  const good = await server.kubeconfig(t);
  server.policy.forbiddenNamespaces.add('shop');
  const forbidden = await kubectl(t, good, ['get', 'svc', '-n', 'shop']);
  t.not(forbidden.code, 0);
  t.match(forbidden.stderr, /services is forbidden: User "fake-token-user" cannot list resource "services" in API group "" in the namespace "shop"/);

  const missing = await kubectl(t, good, ['get', 'svc', 'nope', '-n', 'other']);
  t.not(missing.code, 0);
  t.match(missing.stderr, /services "nope" not found/);
  const noNamespace = await kubectl(t, good, ['get', 'svc', 'nope', '-n', 'nowhere']);
  t.match(noNamespace.stderr, /namespaces "nowhere" not found/);
});
