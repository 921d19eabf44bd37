/**
 * A ClusterAccess for a plain-HTTP test server on 127.0.0.1:port with a bearer token: a kubeconfig written to a
 * temp directory (removed at teardown) and read by loadClusterAccess, so the request path is the real one.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { loadClusterAccess } from '../../src/kube/kubeconfig.js';
import type { ClusterAccess } from '../../src/kube/types.js';

export async function plainAccess(t: Test, port: number, token: string): Promise<ClusterAccess> {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-kubeconfig-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'config');
  await writeFile(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return loadClusterAccess({ kubeconfig: path, env: {} });
}
