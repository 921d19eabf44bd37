/**
 * svcproxy --cluster end to end, in direct mode, against the fake API server
 * (test/helpers/fake-apiserver/): an in-process instance whose sources are a
 * ClusterSource (and a FileSource where local objects override), real
 * servers on the fake's Pod IPs, real client connections.
 */
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { main } from '../../src/app.js';
import type { ClusterStatus } from '../../src/sources/cluster-status.js';
import { get, getJson } from '../helpers/admin.js';
import { startFakeApiServer } from '../helpers/fake-apiserver/server.js';
import { POD_PORT, podServer, services, startClusterInstance, WAIT_MS } from '../helpers/cluster.js';
import { rollout } from '../helpers/fake-apiserver/rollout.js';
import { eventually, request } from '../helpers/net.js';

/** The Service's address, once svcproxy serves it. */
async function addressOf(admin: number, key: string): Promise<string> {
  let address = '';
  await eventually(
    async () => {
      address = (await services(admin)).services.find((s) => s.key === key)?.addresses[0] ?? '';
      return address !== '';
    },
    `Service ${key} to be served`,
    WAIT_MS,
  );
  return address;
}

/** The ready endpoint addresses of a Service port, sorted. */
async function readyEndpoints(admin: number, key: string): Promise<string[]> {
  const port = (await services(admin)).servicePorts.find((p) => p.key === key);
  return (port?.endpoints ?? [])
    .filter((e) => e.ready)
    .map((e) => e.address)
    .sort();
}

async function endpointsBecome(admin: number, key: string, want: string[], what: string): Promise<void> {
  const sorted = [...want].sort();
  await eventually(async () => JSON.stringify(await readyEndpoints(admin, key)) === JSON.stringify(sorted), what, WAIT_MS);
}

async function fetchFrom(address: string, port: number): Promise<string> {
  const outcome = await request(port, '', address);
  return outcome.data.toString();
}

const SVC = { namespace: 'shop', name: 'web', selector: { app: 'web' }, ports: [{ name: 'http', port: 9080, targetPort: POD_PORT }] };

t.test('names, addresses and round robin across three Pods; the source is the cluster', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.31' });
  server.cluster.addService(SVC);
  const ips: string[] = [];
  for (let i = 0; i < 3; i++) {
    const pod = server.cluster.addPod({ namespace: 'shop', name: `web-${i}`, labels: { app: 'web' } });
    ips.push(pod.status.podIP ?? '');
    await podServer(t, pod.status.podIP ?? '');
  }
  const { admin } = await startClusterInstance(t, server);
  const address = await addressOf(admin, 'shop/web');
  t.notMatch(address, /^10\./, 'an address of --service-cidr, not the cluster clusterIP');
  t.match(address, /^127\./);
  await endpointsBecome(admin, 'shop/web:http', ips, 'three ready endpoints');
  const view = (await services(admin)).services.find((s) => s.key === 'shop/web');
  t.match(view?.source, /^cluster:/);
  t.ok(view?.names.includes('web.shop.svc.cluster.local'));
  const seen = new Map<string, number>();
  for (let i = 0; i < 9; i++) {
    const who = await fetchFrom(address, 9080);
    seen.set(who, (seen.get(who) ?? 0) + 1);
  }
  t.same([...seen.keys()].sort(), [...ips].sort(), 'every Pod answers');
  t.ok(
    [...seen.values()].every((n) => n === 3),
    `round robin: ${JSON.stringify([...seen])}`,
  );
  const cluster = await getJson<ClusterStatus>(admin, '/api/cluster');
  t.equal(cluster.reachable, true);
  t.same(cluster.namespaces, ['shop']);
  t.ok(
    cluster.watches.every((w) => w.phase === 'watching' && w.resourceVersion !== ''),
    'every watch is up',
  );
  const metrics = await get(admin, '/metrics');
  t.match(metrics.body, /svcproxy_kube_api_requests_total\{verb="list",code="200"\} [1-9]/);
});

t.test('a rollout while a client connects continuously: no failed new connection', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.32' });
  server.cluster.addService(SVC);
  const servers = new Map<string, { close: () => Promise<void> }>();
  for (let i = 0; i < 2; i++) {
    const pod = server.cluster.addPod({ namespace: 'shop', name: `web-${i}`, labels: { app: 'web' } });
    servers.set(pod.status.podIP ?? '', await podServer(t, pod.status.podIP ?? ''));
  }
  const { admin } = await startClusterInstance(t, server);
  const address = await addressOf(admin, 'shop/web');
  await endpointsBecome(admin, 'shop/web:http', [...servers.keys()], 'two ready endpoints');
  let running = true;
  const failures: string[] = [];
  let answered = 0;
  const client = (async () => {
    while (running) {
      const who = await fetchFrom(address, 9080);
      if (who === '') failures.push('an empty answer');
      else answered++;
    }
  })();
  await rollout(server.cluster, {
    namespace: 'shop',
    selector: { app: 'web' },
    maxSurge: 1,
    onStep: async ({ action, pod }) => {
      const ip = pod.status.podIP ?? '';
      if (action === 'created') servers.set(ip, await podServer(t, ip));
      // A Pod that stops serving is gone from svcproxy before its process is: as a real Pod's grace period.
      if (action === 'deleted') {
        await eventually(async () => !(await readyEndpoints(admin, 'shop/web:http')).includes(ip), `${ip} to leave the endpoints`, WAIT_MS);
        await servers.get(ip)?.close();
      }
    },
  });
  const after = server.cluster.pods('shop', { app: 'web' }).map((p) => p.status.podIP ?? '');
  await endpointsBecome(admin, 'shop/web:http', after, 'the new Pods only');
  running = false;
  await client;
  t.same(failures, [], 'every new connection was answered');
  t.ok(answered > 0, `${answered} connections answered`);
});

t.test('dropped watches and a forced relist leave no stale endpoint', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.33' });
  server.cluster.addService(SVC);
  const ips: string[] = [];
  for (let i = 0; i < 3; i++) ips.push(server.cluster.addPod({ namespace: 'shop', name: `web-${i}`, labels: { app: 'web' } }).status.podIP ?? '');
  const { admin } = await startClusterInstance(t, server);
  await endpointsBecome(admin, 'shop/web:http', ips, 'three ready endpoints');
  for (let round = 0; round < 3; round++) {
    server.dropWatches({ abrupt: round % 2 === 1 });
    server.cluster.setPodReady('shop', `web-${round}`, false);
    await endpointsBecome(admin, 'shop/web:http', ips.slice(round + 1), `round ${round}: web-${round} gone after a dropped watch`);
  }
  // While no watch is open, a change, then compaction: the resume gets 410 and must relist.
  await eventually(() => server.openWatches > 0, 'the watches to be back', WAIT_MS);
  server.cluster.setPodReady('shop', 'web-0', true);
  server.expireWatches();
  await endpointsBecome(admin, 'shop/web:http', [ips[0] ?? ''], 'web-0 back after an expired watch');
  server.cluster.setPodReady('shop', 'web-1', true);
  server.cluster.deletePod('shop', 'web-0');
  server.compact();
  server.dropWatches();
  await endpointsBecome(admin, 'shop/web:http', [ips[1] ?? ''], 'web-0 gone and web-1 back after a 410 relist');
  const cluster = await getJson<ClusterStatus>(admin, '/api/cluster');
  t.ok(cluster.relists > 0, `relists: ${cluster.relists}`);
  t.ok(cluster.watchRestarts > 0, `watch restarts: ${cluster.watchRestarts}`);
  const lists = server.requests.filter((r) => r.query.get('watch') === null).length;
  t.ok(lists < 40, `API requests stay bounded (${lists} lists)`);
});

t.test('the API server goes away: the last state is served, /readyz says since when; it converges when back', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.34' });
  server.cluster.addService(SVC);
  const pod = server.cluster.addPod({ namespace: 'shop', name: 'web-0', labels: { app: 'web' } });
  const ip0 = pod.status.podIP ?? '';
  await podServer(t, ip0);
  const { admin } = await startClusterInstance(t, server);
  const address = await addressOf(admin, 'shop/web');
  await endpointsBecome(admin, 'shop/web:http', [ip0], 'one endpoint');
  await server.outage('refuse');
  await eventually(async () => !(await getJson<ClusterStatus>(admin, '/api/cluster')).reachable, 'the outage to be seen', WAIT_MS);
  const ready = await fetch(`http://127.0.0.1:${admin}/readyz`, { headers: { accept: 'application/json' } });
  t.equal(ready.status, 200, 'an outage is not a failure status');
  const body = (await ready.json()) as { ready: boolean; cluster: { reachable: boolean; unreachableSince: string } };
  t.equal(body.cluster.reachable, false);
  t.ok(!Number.isNaN(Date.parse(body.cluster.unreachableSince)), `since ${body.cluster.unreachableSince}`);
  t.equal(await fetchFrom(address, 9080), ip0, 'the last state is served');
  const ip1 = server.cluster.addPod({ namespace: 'shop', name: 'web-1', labels: { app: 'web' } }).status.podIP ?? '';
  await server.recover();
  await endpointsBecome(admin, 'shop/web:http', [ip0, ip1], 'the change made during the outage');
  await eventually(async () => (await getJson<ClusterStatus>(admin, '/api/cluster')).reachable, 'reachable again', WAIT_MS);
});

t.test('a forbidden namespace is reported by name and the rest served', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.35' });
  server.policy.forbiddenNamespaces.add('secret');
  server.cluster.addService(SVC);
  server.cluster.addService({ ...SVC, namespace: 'secret' });
  const ip = server.cluster.addPod({ namespace: 'shop', name: 'web-0', labels: { app: 'web' } }).status.podIP ?? '';
  const { admin } = await startClusterInstance(t, server, { namespaces: ['shop', 'secret'] });
  await endpointsBecome(admin, 'shop/web:http', [ip], 'shop is served');
  const cluster = await getJson<ClusterStatus>(admin, '/api/cluster');
  t.same(cluster.forbiddenNamespaces, ['secret']);
  t.notOk((await services(admin)).services.some((s) => s.key === 'secret/web'));
});

t.test('credentials refused at start: a clear error, exit 1', async (t) => {
  const server = await startFakeApiServer(t);
  const kubeconfig = await server.kubeconfig(t, { auth: { token: 'wrong-token' } });
  const err: string[] = [];
  const code = await main(
    ['--cluster', '--kubeconfig', kubeconfig, '--log-level', 'error', '--admin-address', '127.0.0.1:0'],
    {},
    { out: () => undefined, err: (l) => err.push(l) },
  );
  t.equal(code, 1);
  t.match(err.join('\n'), /401 Unauthorized/);
});

t.test('--pod-network accepts portforward and direct only, with a clear usage error', async (t) => {
  const err: string[] = [];
  const code = await main(['--cluster', '--pod-network', 'tunnel'], {}, { out: () => undefined, err: (l) => err.push(l) });
  t.equal(code, 2);
  t.match(err.join('\n'), /--pod-network: "tunnel" is not one of portforward, direct/);
});

t.test('a local Service overrides the cluster one; the rest of the cluster is served', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.36' });
  server.cluster.addService(SVC);
  server.cluster.addService({ namespace: 'shop', name: 'api', selector: { app: 'api' }, ports: [{ name: 'http', port: 9081, targetPort: POD_PORT }] });
  const webIp = server.cluster.addPod({ namespace: 'shop', name: 'web-0', labels: { app: 'web' } }).status.podIP ?? '';
  const apiIp = server.cluster.addPod({ namespace: 'shop', name: 'api-0', labels: { app: 'api' } }).status.podIP ?? '';
  await podServer(t, webIp);
  await podServer(t, apiIp);
  const local = await podServer(t, '127.0.0.37');
  t.teardown(local.close);
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-cluster-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'web.yaml'),
    `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{name: http, port: 9080, targetPort: ${POD_PORT}}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-local, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: ${POD_PORT}}]
endpoints: [{addresses: [127.0.0.37]}]
`,
  );
  const { admin } = await startClusterInstance(t, server, { files: dir });
  const webAddress = await addressOf(admin, 'shop/web');
  const apiAddress = await addressOf(admin, 'shop/api');
  await endpointsBecome(admin, 'shop/web:http', ['127.0.0.37'], 'the local endpoint only');
  const answer = await services(admin);
  t.notMatch(answer.services.find((s) => s.key === 'shop/web')?.source, /^cluster:/, 'web comes from the file');
  t.match(answer.services.find((s) => s.key === 'shop/api')?.source, /^cluster:/, 'api comes from the cluster');
  for (let i = 0; i < 3; i++) t.equal(await fetchFrom(webAddress, 9080), '127.0.0.37');
  t.equal(await fetchFrom(apiAddress, 9081), apiIp);
});

t.test('DNS answers for cluster Services: ClusterIP, headless per-Pod names, ExternalName', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.38' });
  server.cluster.addService(SVC);
  server.cluster.addService({ namespace: 'shop', name: 'db', selector: { app: 'db' }, clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] });
  server.cluster.addService({ namespace: 'shop', name: 'ext', type: 'ExternalName', externalName: 'example.com' });
  server.cluster.addPod({ namespace: 'shop', name: 'web-0', labels: { app: 'web' } });
  const db0 = server.cluster.addPod({ namespace: 'shop', name: 'db-0', labels: { app: 'db' }, hostname: 'db-0', subdomain: 'db' }).status.podIP ?? '';
  const db1 =
    server.cluster.addPod({ namespace: 'shop', name: 'db-1', labels: { app: 'db' }, hostname: 'db-1', subdomain: 'db', ready: false }).status.podIP ?? '';
  const { proxy, admin } = await startClusterInstance(t, server, { dns: true });
  const address = await addressOf(admin, 'shop/web');
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([`127.0.0.1:${proxy.names.dns?.port ?? 0}`]);
  await eventually(async () => (await resolver.resolve4('db.shop.svc.cluster.local').catch(() => [])).length > 0, 'the headless name', WAIT_MS);
  t.same(await resolver.resolve4('web.shop.svc.cluster.local'), [address]);
  t.same(await resolver.resolve4('db.shop.svc.cluster.local'), [db0], 'ready endpoints only');
  t.same(await resolver.resolve4('db-0.db.shop.svc.cluster.local'), [db0], 'the per-Pod name');
  t.same(await resolver.resolveCname('ext.shop.svc.cluster.local'), ['example.com']);
  server.cluster.setPodReady('shop', 'db-1', true);
  await eventually(async () => (await resolver.resolve4('db.shop.svc.cluster.local')).length === 2, 'db-1 to become ready in DNS', WAIT_MS);
  t.same((await resolver.resolve4('db.shop.svc.cluster.local')).sort(), [db0, db1].sort());
});

t.test('--check says which source each Service port comes from', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.39' });
  server.cluster.addService(SVC);
  server.cluster.addPod({ namespace: 'shop', name: 'web-0', labels: { app: 'web' } });
  const kubeconfig = await server.kubeconfig(t, { namespace: 'shop' });
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--cluster', '--kubeconfig', kubeconfig, '--check'], {}, { out: (l) => out.push(l), err: (l) => err.push(l) });
  t.equal(code, 0, err.join('\n'));
  t.match(out.join('\n'), /valid: 1 Service/);
  t.match(out.join('\n'), /Service shop\/web \(from cluster:[^)]+\) port http 9080\/TCP: 127\.96\./);
});

t.test('an object that fails validation is refused alone; the rest is served and follows changes', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.40' });
  server.cluster.addService(SVC);
  const ip0 = server.cluster.addPod({ namespace: 'shop', name: 'web-0', labels: { app: 'web' } }).status.podIP ?? '';
  server.cluster.store.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'broken', namespace: 'shop' }, spec: { ports: [{ port: 99999 }] } });
  const { admin } = await startClusterInstance(t, server);
  await endpointsBecome(admin, 'shop/web:http', [ip0], 'web is served');
  t.notOk((await services(admin)).services.some((s) => s.key === 'shop/broken'));
  const ip1 = server.cluster.addPod({ namespace: 'shop', name: 'web-1', labels: { app: 'web' } }).status.podIP ?? '';
  await endpointsBecome(admin, 'shop/web:http', [ip0, ip1], 'a later change is applied despite the refused object');
  const config = await getJson<{ reloads: { success: number; failure: number } }>(admin, '/api/config');
  t.equal(config.reloads.failure, 0, 'no reload was rejected');
  t.ok(config.reloads.success > 1, 'the later change was a reload of its own');
});

t.test('UDP in direct mode: datagrams reach the Pod and come back', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.41' });
  server.cluster.addService({
    namespace: 'shop',
    name: 'dns',
    selector: { app: 'dns' },
    ports: [{ name: 'dns', port: 9053, targetPort: POD_PORT, protocol: 'UDP' }],
  });
  const ip =
    server.cluster.addPod({ namespace: 'shop', name: 'dns-0', labels: { app: 'dns' }, containerPorts: [{ containerPort: POD_PORT, protocol: 'UDP' }] }).status
      .podIP ?? '';
  const pod = createSocket('udp4');
  pod.on('message', (msg, rinfo) => pod.send(Buffer.concat([Buffer.from(`${ip}|`), msg]), rinfo.port, rinfo.address));
  pod.bind(POD_PORT, ip);
  await once(pod, 'listening');
  t.teardown(() => new Promise<void>((resolve) => pod.close(() => resolve())));
  const { admin } = await startClusterInstance(t, server);
  const address = await addressOf(admin, 'shop/dns');
  await endpointsBecome(admin, 'shop/dns:dns', [ip], 'the UDP endpoint');
  const client = createSocket('udp4');
  client.bind(0, '127.0.0.1');
  await once(client, 'listening');
  t.teardown(() => new Promise<void>((resolve) => client.close(() => resolve())));
  let reply = '';
  client.on('message', (msg) => {
    reply = msg.toString();
  });
  await eventually(
    () => {
      if (reply === '') client.send('ping', 9053, address);
      return reply !== '';
    },
    'a UDP reply',
    WAIT_MS,
  );
  t.equal(reply, `${ip}|ping`);
});

t.test('a Pod deleted under a live connection ends that connection only', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.42' });
  server.cluster.addService(SVC);
  const echoes = new Map<string, { close: () => Promise<void> }>();
  for (let i = 0; i < 2; i++) {
    const ip = server.cluster.addPod({ namespace: 'shop', name: `web-${i}`, labels: { app: 'web' } }).status.podIP ?? '';
    const sockets = new Set<Socket>();
    const echo = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
      s.write(`${ip}\n`);
      s.pipe(s);
    });
    echo.listen(POD_PORT, ip);
    await once(echo, 'listening');
    const close = async (): Promise<void> => {
      for (const s of sockets) s.destroy();
      if (echo.listening) await new Promise<void>((resolve) => echo.close(() => resolve()));
    };
    t.teardown(close);
    echoes.set(ip, { close });
  }
  const { admin } = await startClusterInstance(t, server);
  const address = await addressOf(admin, 'shop/web');
  await endpointsBecome(admin, 'shop/web:http', [...echoes.keys()], 'two endpoints');
  /** A live connection and the Pod it reached (the first line the echo sends). */
  const open = async (): Promise<{ socket: Socket; pod: string; closed: Promise<unknown> }> => {
    const socket = connect({ host: address, port: 9080 });
    socket.on('error', () => undefined);
    t.teardown(() => socket.destroy());
    const [first] = (await once(socket, 'data')) as [Buffer];
    return { socket, pod: first.toString().trim(), closed: once(socket, 'close') };
  };
  const a = await open();
  let b = await open();
  for (let i = 0; b.pod === a.pod && i < 10; i++) {
    b.socket.destroy();
    b = await open();
  }
  t.not(b.pod, a.pod, 'two connections on two Pods');
  const name = server.cluster.pods('shop', { app: 'web' }).find((p) => p.status.podIP === a.pod)?.metadata.name ?? '';
  server.cluster.deletePod('shop', name);
  await endpointsBecome(admin, 'shop/web:http', [b.pod], 'the deleted Pod out of the endpoints');
  await echoes.get(a.pod)?.close(); // the Pod's process goes with it
  await a.closed;
  b.socket.write('still here');
  const [echoed] = (await once(b.socket, 'data')) as [Buffer];
  t.equal(echoed.toString(), 'still here', 'the other connection carries on');
});
