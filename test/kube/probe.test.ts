import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadClusterAccess } from '../../src/kube/kubeconfig.js';
import { ClusterUnavailable, probeCluster } from '../../src/kube/probe.js';
import { kubeconfigDocument } from '../helpers/fake-apiserver/kubeconfig.js';
import { startFakeApiServer } from '../helpers/fake-apiserver/server.js';

t.test('probeCluster: the server version; refused credentials, a refused certificate, a server away: one clear error each', async (t) => {
  const server = await startFakeApiServer(t);
  const good = loadClusterAccess({ kubeconfig: await server.kubeconfig(t, { context: 'dev' }), env: {} });
  t.match(await probeCluster(good), { gitVersion: /^v1\.\d+\.\d+/ });

  const bad = loadClusterAccess({ kubeconfig: await server.kubeconfig(t, { auth: { token: 'nope' }, context: 'dev' }), env: {} });
  const unauthorized = await probeCluster(bad).catch((err: unknown) => err);
  t.ok(unauthorized instanceof ClusterUnavailable);
  t.match(unauthorized, {
    code: 401,
    message: `the API server ${server.url} (context "dev", user "dev") answered 401 Unauthorized: Unauthorized: the credentials were refused`,
  });

  server.interceptor = () => ({ code: 200, body: 'not json' });
  t.same(await probeCluster(good), { gitVersion: '' }, 'an odd /version body is no failure');
  server.interceptor = undefined;

  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-probe-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const doc = kubeconfigDocument({ server: server.url, caCert: server.pki.caCert, auth: { token: 'fake-token' } });
  doc.clusters = [{ name: 'fake', cluster: { server: server.url } }];
  await writeFile(join(dir, 'config'), JSON.stringify(doc));
  const noCa = loadClusterAccess({ kubeconfig: join(dir, 'config'), env: {} });
  await t.rejects(probeCluster(noCa), { name: 'ClusterUnavailable', code: 0, message: /^cannot reach the API server .*certificate/ }, 'an unknown CA');

  await server.outage('refuse');
  await t.rejects(probeCluster(good, { timeoutMs: 2000 }), { name: 'ClusterUnavailable', code: 0, message: /^cannot reach the API server .*ECONNREFUSED/ });
  await server.recover();
});
