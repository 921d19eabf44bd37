/**
 * v1 ReplicationController makes Pods as a ReplicaSet does (issue 23, point
 * 10): kubernetes/examples' guestbook-go, vendored unchanged, serves its
 * Services with one endpoint per replica; names, labels, the `--check` Pod
 * table, live scaling and terminating Pods.
 */
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import type { Svcproxy } from '../../src/instance/instance.js';
import type { PodInfo } from '../../src/state/types.js';
import { startInstance } from '../helpers/instance.js';
import { eventually, freePort, request } from '../helpers/net.js';
import { configDir, runCli } from '../helpers/process.js';
import { isolatedNetwork } from '../helpers/service-network.js';

const GUESTBOOK_GO = fileURLToPath(new URL('../../../test/fixtures/manifests/guestbook-go/', import.meta.url));
const SUFFIX = '[bcdfghjklmnpqrstvwxz2456789]{5}';

function options(): Record<string, unknown> {
  const net = isolatedNetwork();
  return {
    serviceCidr: net.serviceCidr,
    podCidr: net.podCidr,
    bindAddress: net.bindAddress,
    nodeAddress: net.bindAddress,
    dnsAddress: { host: '127.0.0.1', port: 0 },
  };
}

async function guestbookGo(t: Test): Promise<string> {
  const files: Record<string, string> = {};
  for (const name of await readdir(GUESTBOOK_GO)) files[name] = await readFile(join(GUESTBOOK_GO, name), 'utf8');
  return configDir(t, files);
}

function podsOf(proxy: Svcproxy, workload: string): PodInfo[] {
  return [...proxy.pods.values()].filter((p) => p.workloadName === workload && !p.terminating);
}

function endpointsOf(proxy: Svcproxy, key: string): Array<{ host: string; port: number; terminating: boolean }> {
  return [...(proxy.registry.servicePorts.get(key as never)?.current.endpoints ?? [])];
}

/** A TCP server at host:port that writes its name; closed (with its connections) at teardown. */
async function startNamed(t: Test, host: string, port: number, name: string): Promise<void> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined).on('close', () => sockets.delete(s));
    s.end(`${name}\n`);
  });
  server.listen(port, host);
  await once(server, 'listening');
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

t.test('--check: guestbook-go unchanged is valid and its Pod table has one row per replica of each ReplicationController', async (t) => {
  const run = await runCli(['--check', '--config', GUESTBOOK_GO, '--admin-address', '127.0.0.1:0']);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout.split('\n')[0], /valid: 3 Services, .*, 6 Pods \(6 from 3 workloads\)/);
  const rows = run.stdout.split('\n').filter((l) => /^ {2}(ReplicationController|Deployment) /.test(l));
  t.same(
    rows.map((l) => l.trim().split(/\s+/).slice(0, 2).join(' ')),
    [
      'Deployment redis-master',
      'ReplicationController guestbook',
      'ReplicationController guestbook',
      'ReplicationController guestbook',
      'ReplicationController redis-replica',
      'ReplicationController redis-replica',
    ].sort((a, b) => rows.findIndex((r) => r.includes(a)) - rows.findIndex((r) => r.includes(b))),
  );
  for (const row of rows.filter((r) => r.includes('ReplicationController guestbook ')))
    t.match(row, new RegExp(`default/guestbook-${SUFFIX}\\s+127\\.\\d+\\.\\d+\\.\\d+\\s+http-server 3000/TCP\\s+tcpSocket :3000`));
});

t.test('guestbook-go unchanged: 3 guestbook, 1 redis-master and 2 redis-replica endpoints; a stand-in at a Pod address is reached', async (t) => {
  const proxy = await startInstance(t, await guestbookGo(t), options());
  t.same(
    ['default/guestbook', 'default/redis-master', 'default/redis-replica'].map((k) => endpointsOf(proxy, k).map((e) => e.port)),
    [[3000, 3000, 3000], [6379], [6379, 6379]],
  );
  t.equal(new Set(endpointsOf(proxy, 'default/guestbook').map((e) => e.host)).size, 3, 'three Pods, three addresses');
  const pods = podsOf(proxy, 'guestbook');
  t.equal(pods.length, 3);
  for (const pod of pods) {
    t.match(pod.key, new RegExp(`^default/guestbook-${SUFFIX}$`), 'named as generateName `guestbook-` names it');
    t.equal(pod.workloadKind, 'ReplicationController');
  }
  const [first] = pods;
  if (first === undefined) throw new Error('no guestbook Pod');
  await startNamed(t, first.address, 3000, first.key);
  await eventually(() => proxy.probes.isReady(first.key), 'the implied probe finds the stand-in', 15_000);
  const own = proxy.services.get('default/guestbook')?.addresses[0] ?? '';
  await eventually(async () => (await request(3000, '', own)).data.toString().trim() === first.key, 'the Service reaches the ready Pod');
});

const rc = (replicas: number, port: number): string => `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: ${port}, targetPort: http}]
---
apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: ${replicas}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]
`;

t.test('scaling a ReplicationController (selector left out: the template labels) in a live edit: removed Pods terminate, then go', async (t) => {
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': rc(3, port) });
  const proxy = await startInstance(t, dir, options());
  const first = podsOf(proxy, 'web');
  t.equal(first.length, 3);
  t.same(
    first.map((p) => p.services),
    [['default/web'], ['default/web'], ['default/web']],
    'the Service selects each by the template labels',
  );
  await writeFile(join(dir, 'web.yaml'), rc(1, port));
  t.equal(await proxy.reload('signal'), 'applied');
  const endpoints = endpointsOf(proxy, 'default/web');
  t.equal(endpoints.length, 3, 'removed Pods are still endpoints while they terminate');
  t.equal(endpoints.filter((e) => e.terminating).length, 2);
  const kept = podsOf(proxy, 'web');
  t.equal(kept.length, 1);
  t.ok(
    first.some((p) => p.key === kept[0]?.key),
    'replica 0 keeps its name',
  );
  await eventually(() => endpointsOf(proxy, 'default/web').length === 1, 'the terminating Pods are gone after their grace period', 15_000);
  t.equal(proxy.pods.size, 1);
});
