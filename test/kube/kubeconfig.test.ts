import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Test } from 'tap';
import t from 'tap';
import { readBody } from '../../src/kube/api.js';
import { KubeconfigError, loadClusterAccess } from '../../src/kube/kubeconfig.js';
import type { ClusterAccess } from '../../src/kube/types.js';
import { kubeconfigDocument, writeExecPlugin } from '../helpers/fake-apiserver/kubeconfig.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver/server.js';

async function get(access: ClusterAccess, path: string): Promise<{ res: IncomingMessage; body: string }> {
  const res = await access.request(path, { signal: AbortSignal.timeout(10_000), timeoutMs: 10_000 });
  return { res, body: await readBody(res, 1024 * 1024) };
}

async function write(dir: string, name: string, doc: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return path;
}

function doc(server: FakeApiServer, context: string, namespace?: string): Record<string, unknown> {
  return kubeconfigDocument({ server: server.url, caCert: server.pki.caCert, auth: { token: 'fake-token' }, context, ...(namespace === undefined ? {} : { namespace }) });
}

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-kubeconfig-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function throwsKubeconfig(t: Test, fn: () => unknown, pattern: RegExp, what: string): void {
  try {
    fn();
    t.fail(`${what}: no error`);
  } catch (err) {
    t.ok(err instanceof KubeconfigError, `${what}: a KubeconfigError`);
    t.match((err as Error).message, pattern, what);
  }
}

t.test('token, client certificate and exec plugin kubeconfigs authenticate; the context is described', async (t) => {
  const server = await startFakeApiServer(t);
  server.cluster.addService({ namespace: 'shop', name: 'web', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] });
  const byToken = loadClusterAccess({ kubeconfig: await server.kubeconfig(t, { namespace: 'shop' }), env: {} });
  t.match(byToken, { contextName: 'fake', server: server.url, user: 'fake', namespace: 'shop' });
  t.equal(byToken.kubeconfigPaths.length, 1);
  const listed = await get(byToken, '/api/v1/namespaces/shop/services');
  t.equal(listed.res.statusCode, 200);
  t.match(JSON.parse(listed.body), { kind: 'ServiceList', items: [{ metadata: { name: 'web' } }] });
  t.equal(server.requests.at(-1)?.user, 'fake-token-user');
  t.match(server.requests.at(-1)?.userAgent, /^svcproxy\//);

  const byCert = loadClusterAccess({ kubeconfig: await server.kubeconfig(t, { auth: 'cert' }), env: {} });
  t.equal(byCert.namespace, 'default', 'no namespace in the context: default');
  t.equal((await get(byCert, '/api/v1/services')).res.statusCode, 200);
  t.equal(server.requests.at(-1)?.user, 'fake-cert-user');

  const plugin = await writeExecPlugin(t, 'fake-token');
  const byExec = loadClusterAccess({ kubeconfig: await server.kubeconfig(t, { auth: { exec: { command: plugin } } }), env: {} });
  t.equal((await get(byExec, '/api/v1/services')).res.statusCode, 200);
  t.equal(server.requests.at(-1)?.user, 'fake-token-user');

  const badToken = loadClusterAccess({ kubeconfig: await server.kubeconfig(t, { auth: { token: 'wrong' } }), env: {} });
  t.equal((await get(badToken, '/api/v1/services')).res.statusCode, 401);
});

t.test('relative certificate paths resolve against the kubeconfig; insecure-skip-tls-verify needs no CA', async (t) => {
  const server = await startFakeApiServer(t);
  const dir = await tempDir(t);
  await mkdir(join(dir, 'certs'));
  await writeFile(join(dir, 'certs', 'client.crt'), server.pki.clientCert);
  await writeFile(join(dir, 'certs', 'client.key'), server.pki.clientKey);
  await writeFile(join(dir, 'certs', 'ca.crt'), server.pki.caCert);
  const relative = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: server.url, 'certificate-authority': 'certs/ca.crt' } }],
    users: [{ name: 'u', user: { 'client-certificate': 'certs/client.crt', 'client-key': 'certs/client.key' } }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'shop' } }],
    'current-context': 'ctx',
  };
  const access = loadClusterAccess({ kubeconfig: await write(dir, 'config', relative), env: {} });
  t.equal((await get(access, '/api/v1/services')).res.statusCode, 200);
  t.equal(server.requests.at(-1)?.user, 'fake-cert-user');

  const insecure = {
    ...relative,
    clusters: [{ name: 'c', cluster: { server: server.url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: 'fake-token' } }],
  };
  const skip = loadClusterAccess({ kubeconfig: await write(dir, 'insecure', insecure), env: {} });
  t.equal((await get(skip, '/api/v1/services')).res.statusCode, 200);

  const noCa = { ...insecure, clusters: [{ name: 'c', cluster: { server: server.url } }] };
  const unverified = loadClusterAccess({ kubeconfig: await write(dir, 'no-ca', noCa), env: {} });
  await t.rejects(get(unverified, '/api/v1/services'), 'a server certificate no CA vouches for is refused');
});

t.test('precedence and merging as kubectl: --kubeconfig, else $KUBECONFIG (first wins), else ~/.kube/config', async (t) => {
  const server = await startFakeApiServer(t);
  const dir = await tempDir(t);
  const a = await write(dir, 'a', doc(server, 'alpha', 'ns-a'));
  // b names a context "alpha" too (ignored: a defined it first) and its own current-context (ignored too).
  const bDoc = doc(server, 'beta', 'ns-b');
  const bDocContexts = bDoc.contexts as unknown[];
  bDoc.contexts = [...bDocContexts, { name: 'alpha', context: { cluster: 'beta', user: 'beta', namespace: 'from-b' } }];
  const b = await write(dir, 'b', bDoc);
  const missing = join(dir, 'missing');
  const env = { KUBECONFIG: [missing, a, b].join(delimiter) };

  const merged = loadClusterAccess({ env });
  t.match(merged, { contextName: 'alpha', namespace: 'ns-a' }, "the first file's current-context and context win");
  t.same(merged.kubeconfigPaths, [missing, a, b]);
  t.match(loadClusterAccess({ env, context: 'beta' }), { contextName: 'beta', namespace: 'ns-b' });
  t.equal((await get(loadClusterAccess({ env, context: 'beta' }), '/api/v1/services')).res.statusCode, 200);

  t.match(loadClusterAccess({ env, kubeconfig: b }), { contextName: 'beta', kubeconfigPaths: [b] }, '--kubeconfig beats $KUBECONFIG');

  const home = join(dir, 'home');
  await mkdir(join(home, '.kube'), { recursive: true });
  await write(join(home, '.kube'), 'config', doc(server, 'homed'));
  t.match(loadClusterAccess({ env: { HOME: home } }), { contextName: 'homed', kubeconfigPaths: [join(home, '.kube', 'config')] });
  t.match(loadClusterAccess({ env: { HOME: home, KUBECONFIG: '' } }), { contextName: 'homed' }, 'an empty $KUBECONFIG is unset');
});

t.test('every broken kubeconfig is one clear error naming the path(s) and the context', async (t) => {
  const server = await startFakeApiServer(t);
  const dir = await tempDir(t);
  const good = await write(dir, 'good', doc(server, 'fake'));
  const missing = join(dir, 'nope');
  throwsKubeconfig(t, () => loadClusterAccess({ kubeconfig: missing, env: {} }), new RegExp(`kubeconfig ${missing} does not exist`), 'missing --kubeconfig');
  throwsKubeconfig(t, () => loadClusterAccess({ env: { KUBECONFIG: `${missing}${delimiter}${missing}2` } }), new RegExp(`${missing}.*${missing}2 does not exist \\(from \\$KUBECONFIG\\)`), 'no file in $KUBECONFIG');
  throwsKubeconfig(t, () => loadClusterAccess({ env: { HOME: join(dir, 'empty-home') } }), /empty-home\/\.kube\/config does not exist/, 'no ~/.kube/config');
  throwsKubeconfig(t, () => loadClusterAccess({ kubeconfig: dir, env: {} }), new RegExp(`kubeconfig ${dir} cannot be read`), 'unreadable (a directory)');
  const malformed = await write(dir, 'malformed', 'clusters: [ {');
  throwsKubeconfig(t, () => loadClusterAccess({ kubeconfig: malformed, env: {} }), new RegExp(`kubeconfig ${malformed} is malformed`), 'malformed YAML');
  const noName = await write(dir, 'no-name', { ...doc(server, 'fake'), contexts: [{ context: { cluster: 'fake', user: 'fake' } }] });
  throwsKubeconfig(t, () => loadClusterAccess({ kubeconfig: noName, env: {} }), /is malformed: contexts\[0\]\.name is missing/, 'a context without a name');
  throwsKubeconfig(t, () => loadClusterAccess({ kubeconfig: good, context: 'other', env: {} }), new RegExp(`kubeconfig ${good} has no context "other" \\(contexts: fake\\)`), 'missing context');
  const noCurrent = await write(dir, 'no-current', { ...doc(server, 'fake'), 'current-context': '' });
  throwsKubeconfig(t, () => loadClusterAccess({ kubeconfig: noCurrent, env: {} }), new RegExp(`kubeconfig ${noCurrent} has no current-context; pass --context`), 'no current-context');
  const empty = await write(dir, 'empty', '');
  throwsKubeconfig(t, () => loadClusterAccess({ kubeconfig: empty, env: {} }), /has no current-context.*contexts: none/, 'an empty file');
  const noCluster = await write(dir, 'no-cluster', { ...doc(server, 'fake'), clusters: [] });
  throwsKubeconfig(t, () => loadClusterAccess({ kubeconfig: noCluster, env: {} }), /context "fake" names cluster "fake", which is not defined/, 'missing cluster');
  const noUser = await write(dir, 'no-user', { ...doc(server, 'fake'), users: [] });
  throwsKubeconfig(t, () => loadClusterAccess({ kubeconfig: noUser, env: {} }), /context "fake" names user "fake", which is not defined/, 'missing user');
  const badServer = await write(dir, 'bad-server', { ...doc(server, 'fake'), clusters: [{ name: 'fake', cluster: { server: 'ftp://x' } }] });
  throwsKubeconfig(t, () => loadClusterAccess({ kubeconfig: badServer, env: {} }), /unsupported server URL "ftp:\/\/x"/, 'a server URL that is not http(s)');
});

t.test('request: timeoutMs bounds the wait for headers; the signal aborts', async (t) => {
  const server = await startFakeApiServer(t);
  const access = loadClusterAccess({ kubeconfig: await server.kubeconfig(t), env: {} });
  await server.outage('hang');
  await t.rejects(access.request('/api/v1/services', { signal: AbortSignal.timeout(10_000), timeoutMs: 200 }), { code: 'ETIMEDOUT' });
  const controller = new AbortController();
  const pending = access.request('/api/v1/services', { signal: controller.signal });
  setImmediate(() => controller.abort());
  await t.rejects(pending, { name: 'AbortError' });
  await server.recover();
  t.equal((await get(access, '/api/v1/services')).res.statusCode, 200);
});

t.test('proxy-url: requests go through the HTTP CONNECT proxy the cluster names', async (t) => {
  const server = await startFakeApiServer(t);
  const tunnels: string[] = [];
  const sockets: { destroy(): void }[] = [];
  const proxy = createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req: IncomingMessage, client, head: Buffer) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.push(client, upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    proxy.closeAllConnections();
    proxy.close();
  });
  const dir = await tempDir(t);
  const viaProxy = doc(server, 'proxied');
  const clusters = viaProxy.clusters as { name: string; cluster: Record<string, unknown> }[];
  viaProxy.clusters = clusters.map((c) => ({ ...c, cluster: { ...c.cluster, 'proxy-url': `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` } }));
  const access = loadClusterAccess({ kubeconfig: await write(dir, 'config', viaProxy), env: {} });
  t.equal((await get(access, '/api/v1/services')).res.statusCode, 200);
  t.same(tunnels, [`127.0.0.1:${server.port}`], 'one tunnel to the API server');
  t.equal(server.requests.at(-1)?.user, 'fake-token-user');
});
