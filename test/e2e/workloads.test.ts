/**
 * Workloads become Pods, end to end in-process on real sockets: the
 * published manifests unchanged, a stand-in backend started at a Pod's
 * address, live scaling, StatefulSet names in DNS, and a WorkloadBinding to
 * a DNS name that resolves to several addresses.
 */
import { Resolver } from 'node:dns/promises';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { LookupFn } from '../../src/proxy/resolver.js';
import type { PodInfo } from '../../src/state/types.js';
import type { Svcproxy } from '../../src/instance/instance.js';
import { getJson } from '../helpers/admin.js';
import { captureLogger } from '../helpers/log.js';
import { serviceWithDeployment, startInstance } from '../helpers/instance.js';
import { eventually, freePort, request } from '../helpers/net.js';
import { configDir, runCli } from '../helpers/process.js';
import { isolatedNetwork, sharedManifest } from '../helpers/service-network.js';

interface PodsAnswer {
  pods: Array<{
    key: string;
    name: string;
    workload: { kind: string; name: string } | null;
    address: string;
    ready: boolean;
    reason: string;
    terminating: boolean;
    removeAt: string;
    readinessProbe: string;
    ports: Array<{ port: number; servedAt: string }>;
  }>;
}

function network(): ReturnType<typeof isolatedNetwork> & { options: Record<string, unknown> } {
  const net = isolatedNetwork();
  return {
    ...net,
    options: {
      serviceCidr: net.serviceCidr,
      podCidr: net.podCidr,
      bindAddress: net.bindAddress,
      nodeAddress: net.bindAddress,
      dnsAddress: { host: '127.0.0.1', port: 0 },
    },
  };
}

function podsOf(proxy: Svcproxy, workload: string): PodInfo[] {
  return [...proxy.pods.values()].filter((p) => p.workloadName === workload && !p.terminating);
}

function endpointsOf(proxy: Svcproxy, key: string): Array<{ host: string; port: number; terminating: boolean; pod: string }> {
  return [...(proxy.registry.servicePorts.get(key as never)?.current.endpoints ?? [])];
}

function resolverOf(proxy: Svcproxy): Resolver {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([`127.0.0.1:${proxy.names.dns?.port ?? 0}`]);
  return resolver;
}

/** An HTTP server at host:port answering `body`; closed at teardown. */
async function startHttp(t: Test, host: string, port: number, body: string): Promise<Server> {
  const server = createHttpServer((_req, res) => res.end(body));
  server.listen(port, host);
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return server;
}

function fetchText(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet({ host, port, path: '/', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
}

/** A TCP server at host:port that says its name, then echoes; closed (connections too) at teardown or by the returned function. */
async function startEcho(t: Test, host: string, port: number, name: string): Promise<() => Promise<void>> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined).on('close', () => sockets.delete(s));
    s.write(`${name}\n`);
    s.pipe(s);
  });
  server.listen(port, host);
  await once(server, 'listening');
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.teardown(close);
  return close;
}

async function answerOf(port: number, host: string): Promise<string> {
  const o = await request(port, '', host);
  return o.error === '' ? o.data.toString().trim() : o.error;
}

t.test('--check: both shared manifests are valid unchanged and list their Pods', async (t) => {
  const expected = {
    'bookinfo.yaml': ['details-v1', 'productpage-v1', 'ratings-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3'],
    'guestbook-all-in-one.yaml': ['frontend', 'frontend', 'frontend', 'redis-master', 'redis-replica', 'redis-replica'],
  } as const;
  for (const [name, workloads] of Object.entries(expected)) {
    const { path } = await sharedManifest(name as keyof typeof expected);
    const run = await runCli(['--check', '--config', path, '--admin-address', '127.0.0.1:0']);
    t.equal(run.code, 0, `${name}: ${run.stderr}`);
    t.match(run.stdout.split('\n')[0], new RegExp(`valid: .*, ${workloads.length} Pods \\(${workloads.length} from ${new Set(workloads).size} workloads\\)`));
    const rows = run.stdout.split('\n').filter((l) => /^ {2}Deployment /.test(l));
    t.same(
      rows.map((l) => l.split(/\s+/)[2]),
      workloads,
      `${name}: one row per replica`,
    );
    for (const row of rows)
      t.match(
        row,
        /default\/[a-z0-9-]+-[bcdfghjklmnpqrstvwxz2456789]+-[bcdfghjklmnpqrstvwxz2456789]{5}\s+127\.64\.\d+\.\d+\s+\d+\/TCP\s+tcpSocket :\d+ \(implied: no readinessProbe\)$/,
      );
    t.match(run.stdout, /\n {2}WORKLOAD +POD +ADDRESS +PORTS +READINESS\n/);
  }
});

t.test(
  'bookinfo unchanged: one endpoint per replica; a stand-in at one Pod address turns ready and is reached through the Service address and its DNS name',
  async (t) => {
    const net = network();
    const dir = await configDir(t, { 'bookinfo.yaml': (await sharedManifest('bookinfo.yaml')).text });
    const proxy = await startInstance(t, dir, net.options);
    const replicas: Record<string, number> = { 'default/details:http': 1, 'default/productpage:http': 1, 'default/ratings:http': 1, 'default/reviews:http': 3 };
    for (const [key, n] of Object.entries(replicas)) {
      const endpoints = endpointsOf(proxy, key);
      t.equal(endpoints.length, n, `${key}: one endpoint per replica`);
      for (const e of endpoints) t.ok(e.host.startsWith(net.podCidr.replace(/0\/24$/, '')) && e.port === 9080, `${key}: ${e.host}:${e.port} in the pod range`);
    }
    const [details] = podsOf(proxy, 'details-v1');
    if (details === undefined) throw new Error('no details Pod');
    t.notOk(proxy.probes.isReady(details.key), 'nothing listens at the Pod address yet: not ready');
    await startHttp(t, details.address, 9080, 'details stand-in');
    await eventually(() => proxy.probes.isReady(details.key), 'the implied probe finds the stand-in', 15_000);
    const own = proxy.services.get('default/details')?.addresses[0] ?? '';
    t.equal(await fetchText(own, 9080), 'details stand-in', "through the Service's own address");
    const [resolved] = await resolverOf(proxy).resolve4('details.default.svc.cluster.local');
    t.equal(resolved, own);
    t.equal(await fetchText(resolved ?? '', 9080), 'details stand-in', 'through its DNS name');
    const api = await getJson<PodsAnswer>(proxy.adminPort, '/api/pods');
    t.equal(api.pods.length, 6);
    t.match(
      api.pods.find((p) => p.key === details.key),
      {
        ready: true,
        reason: 'tcp connect ok',
        workload: { kind: 'Deployment', name: 'details-v1' },
        address: details.address,
        ports: [{ port: 9080, servedAt: `${details.address}:9080` }],
      },
    );
    const ratings = api.pods.find((p) => p.workload?.name === 'ratings-v1');
    t.match(ratings, { ready: false, reason: /ECONNREFUSED|not probed yet/ }, 'the others wait for their processes');
  },
);

t.test('guestbook unchanged: 3 frontend, 1 redis-master and 2 redis-replica endpoints at Pod addresses', async (t) => {
  const net = network();
  const dir = await configDir(t, { 'guestbook.yaml': (await sharedManifest('guestbook-all-in-one.yaml')).text });
  const proxy = await startInstance(t, dir, net.options);
  t.same(
    ['default/frontend', 'default/redis-master', 'default/redis-replica'].map((k) => endpointsOf(proxy, k).map((e) => e.port)),
    [[80, 80, 80], [6379], [6379, 6379]],
  );
  t.same(new Set(endpointsOf(proxy, 'default/frontend').map((e) => e.host)).size, 3, 'three Pods, three addresses');
});

t.test('scaling a Deployment in a live edit: removed Pods terminate, then go; new ones wait for their probe; an open connection survives', async (t) => {
  const net = network();
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithDeployment(3, port) });
  const { log, records } = captureLogger('info');
  const proxy = await startInstance(t, dir, net.options, log);
  const first = podsOf(proxy, 'web');
  t.equal(first.length, 3);
  for (const p of first) {
    t.ok(
      records.some(
        (r) =>
          r.msg === `Pod ${p.key} (Deployment web): ${p.address}, ports http 8080/TCP; readiness tcpSocket :8080 (http) (implied: no readinessProbe)` &&
          r['address'] === p.address,
      ),
      `the start-up log says where ${p.name} is expected`,
    );
  }
  for (const p of first) await startEcho(t, p.address, 8080, p.name);
  await eventually(() => first.every((p) => proxy.probes.isReady(p.key)), 'three ready Pods', 15_000);
  const own = proxy.services.get('default/web')?.addresses[0] ?? '';
  // A connection open across the edit.
  const held = connect({ host: own, port });
  t.teardown(() => void held.destroy());
  held.setEncoding('utf8');
  let heard = '';
  held.on('data', (c: string) => (heard += c));
  await eventually(() => heard.includes('\n'), 'the held connection reached a Pod');
  const reached = heard.trim();

  await writeFile(join(dir, 'web.yaml'), serviceWithDeployment(1, port));
  t.equal(await proxy.reload('signal'), 'applied');
  const endpoints = endpointsOf(proxy, 'default/web');
  t.equal(endpoints.length, 3, 'removed Pods are still endpoints while they terminate');
  t.equal(endpoints.filter((e) => e.terminating).length, 2);
  const api = await getJson<PodsAnswer>(proxy.adminPort, '/api/pods');
  t.equal(api.pods.filter((p) => p.terminating && p.removeAt !== '').length, 2, '/api/pods says which are terminating, and until when');
  const kept = podsOf(proxy, 'web');
  t.equal(kept.length, 1);
  for (let i = 0; i < 4; i++) t.equal(await answerOf(port, own), kept[0]?.name, 'new connections go to the ready Pod only');
  await eventually(() => endpointsOf(proxy, 'default/web').length === 1, 'the terminating Pods are gone after their grace period', 15_000);
  t.equal(proxy.pods.size, 1);
  const removed = first.filter((p) => p.key !== kept[0]?.key);
  for (const p of removed) {
    t.ok(
      records.some((r) => r.msg === `Pod ${p.key} terminating (removed from the config; gone after its grace period)`),
      `${p.name}: terminating, logged`,
    );
    t.ok(
      records.some((r) => r.msg === `Pod ${p.key} gone`),
      `${p.name}: gone, logged`,
    );
  }
  held.write('still here\n');
  await eventually(() => heard.includes('still here'), 'the connection opened before the edit still carries bytes');
  t.ok(first.some((p) => p.name === reached));

  // Replicas are named by their index: 1 and 2 come back under their old names (their processes still run); 3 is new.
  await writeFile(join(dir, 'web.yaml'), serviceWithDeployment(4, port));
  t.equal(await proxy.reload('signal'), 'applied');
  t.equal(podsOf(proxy, 'web').filter((p) => first.some((q) => q.key === p.key)).length, 3, 'the first three names again');
  const added = podsOf(proxy, 'web').find((p) => !first.some((q) => q.key === p.key));
  if (added === undefined) throw new Error('no new Pod');
  t.notOk(proxy.probes.isReady(added.key), 'a new Pod is not ready');
  await eventually(() => /ECONNREFUSED/.test(proxy.probes.reason(added.key)), 'its probe finds nothing at its address', 15_000);
  await eventually(() => first.every((p) => proxy.probes.isReady(p.key)), 'the three others are ready', 15_000);
  for (let i = 0; i < 6; i++) t.not(await answerOf(port, own), added.name, 'the new one gets no traffic');
  await startEcho(t, added.address, 8080, added.name);
  await eventually(() => proxy.probes.isReady(added.key), 'ready once its process listens', 15_000);
  await eventually(async () => (await answerOf(port, own)) === added.name, 'it takes connections');
});

t.test('StatefulSet: <name>-<ordinal> Pods, hostname and subdomain: per-Pod DNS names under the headless Service once ready', async (t) => {
  const net = network();
  const port = await freePort();
  const yaml = `apiVersion: v1
kind: Service
metadata: {name: nginx}
spec: {clusterIP: None, selector: {app: db}, ports: [{name: web, port: ${port}}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: nginx
  ordinals: {start: 1}
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, ports: [{name: web, containerPort: ${port}}]}]}
`;
  const dir = await configDir(t, { 'db.yaml': yaml });
  const proxy = await startInstance(t, dir, net.options);
  t.same([...proxy.pods.keys()], ['default/db-1', 'default/db-2']);
  const db2 = proxy.pods.get('default/db-2');
  if (db2 === undefined) throw new Error('no db-2');
  const resolver = resolverOf(proxy);
  await t.rejects(resolver.resolve4('db-2.nginx.default.svc.cluster.local'), { code: 'ENOTFOUND' }, 'not ready: no name yet');
  await startEcho(t, db2.address, port, 'db-2');
  await eventually(
    async () => (await resolver.resolve4('db-2.nginx.default.svc.cluster.local').catch(() => [])).join() === db2.address,
    'db-2 has its name once ready',
    15_000,
  );
  t.same(await resolver.resolve4('nginx.default.svc.cluster.local'), [db2.address], 'the headless name lists ready Pods only');
  t.match(await resolver.resolveSrv(`_web._tcp.nginx.default.svc.cluster.local`), [{ name: 'db-2.nginx.default.svc.cluster.local', port }]);
  t.equal(await answerOf(port, db2.address), 'db-2');
});

t.test('a WorkloadBinding to a DNS name: every address it resolves to is one Pod, followed as the answer changes', async (t) => {
  const net = network();
  const [a, b] = [net.backend(1), net.backend(2)];
  const backendPort = await freePort(a);
  await startEcho(t, a, backendPort, 'replica a');
  await startEcho(t, b, backendPort, 'replica b');
  let answer = [a, b];
  const lookup: LookupFn = (host, cb) => (host === 'app.compose' ? cb(null, answer) : cb(Object.assign(new Error('no'), { code: 'ENOTFOUND' }), []));
  const port = await freePort();
  const dir = await configDir(t, {
    'web.yaml': serviceWithDeployment(5, port),
    'binding.yaml': `apiVersion: svcproxy.dev/v1alpha1
kind: WorkloadBinding
metadata: {name: compose}
spec:
  workload: {kind: Deployment, name: web}
  dnsName: app.compose:${backendPort}
`,
  });
  const proxy = await startInstance(t, dir, net.options, undefined, lookup);
  await eventually(() => podsOf(proxy, 'web').length === 2, 'one Pod per resolved address (not the 5 replicas)');
  t.same(
    podsOf(proxy, 'web')
      .map((p) => [p.address, p.binding, p.ports[0]?.servedAt])
      .sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    [
      [a, 'compose', `${a}:${backendPort}`],
      [b, 'compose', `${b}:${backendPort}`],
    ],
  );
  await eventually(() => podsOf(proxy, 'web').every((p) => proxy.probes.isReady(p.key)), 'both ready', 15_000);
  const own = proxy.services.get('default/web')?.addresses[0] ?? '';
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) seen.add(await answerOf(port, own));
  t.same([...seen].sort(), ['replica a', 'replica b'], 'connections go to both replicas');
  answer = [b];
  await eventually(() => podsOf(proxy, 'web').length === 1, 'a replica gone from DNS: its Pod terminates', 10_000);
  await eventually(() => endpointsOf(proxy, 'default/web').length === 1, 'and is gone after the grace period', 15_000);
  for (let i = 0; i < 3; i++) t.equal(await answerOf(port, own), 'replica b');
  const check = await runCli(['--check', '--config', dir, '--admin-address', '127.0.0.1:0', '--pod-cidr', net.podCidr]);
  t.equal(check.code, 0, check.stderr);
  t.match(
    check.stdout,
    `note: WorkloadBinding default/compose: Deployment default/web has one Pod per address app.compose:${backendPort} resolves to, when svcproxy runs`,
  );
});

t.test('a WorkloadBinding with addresses: a process already running on 127.0.0.1 is the Pod', async (t) => {
  const net = network();
  const backendPort = await freePort();
  await startEcho(t, '127.0.0.1', backendPort, 'local process');
  const port = await freePort();
  const dir = await configDir(t, {
    'web.yaml': serviceWithDeployment(2, port),
    'binding.yaml': `apiVersion: svcproxy.dev/v1alpha1\nkind: WorkloadBinding\nmetadata: {name: local}\nspec:\n  workload: {kind: Deployment, name: web}\n  addresses: [127.0.0.1:${backendPort}]\n`,
  });
  const proxy = await startInstance(t, dir, net.options);
  const [pod] = podsOf(proxy, 'web');
  t.match(pod, { address: '127.0.0.1', binding: 'local', ports: [{ port: 8080, servedAt: `127.0.0.1:${backendPort}` }] });
  await eventually(() => proxy.probes.isReady(pod?.key ?? ''), 'ready: its port accepts', 15_000);
  t.equal(await answerOf(port, proxy.services.get('default/web')?.addresses[0] ?? ''), 'local process');
});

t.test('bad input: huge replicas, a pod range too small, template errors with the workload path', async (t) => {
  const dir = await configDir(t, { 'web.yaml': serviceWithDeployment(100000, 8080) });
  const huge = await runCli(['--check', '--config', dir, '--admin-address', '127.0.0.1:0']);
  t.equal(huge.code, 1);
  t.match(huge.stderr, /Deployment default\/web: spec\.replicas: Invalid value: 100000: svcproxy makes at most 1000 Pods from workloads/);
  const small = await configDir(t, { 'web.yaml': serviceWithDeployment(5, 8080) });
  const tiny = await runCli(['--check', '--config', small, '--admin-address', '127.0.0.1:0', '--pod-cidr', '127.64.0.0/30']);
  t.equal(tiny.code, 2, 'a range too small is a usage error: the fix is an option');
  t.match(
    tiny.stderr,
    'svcproxy: --pod-cidr: 5 Pods need an address of the pod range 127.64.0.0/30, which has 2 usable addresses; give --pod-cidr a larger range',
  );
  const broken = await configDir(t, {
    'web.yaml': serviceWithDeployment(1, 8080).replace(
      'ports: [{name: http, containerPort: 8080}]',
      'ports: [{name: http, containerPort: 8080}, {name: http, containerPort: 99999}]',
    ),
  });
  const template = await runCli(['--check', '--config', broken, '--admin-address', '127.0.0.1:0']);
  t.equal(template.code, 1);
  t.match(template.stderr, 'Deployment default/web: spec.template.spec.containers[0].ports[1].name: Duplicate value: "http"');
  t.match(
    template.stderr,
    'Deployment default/web: spec.template.spec.containers[0].ports[1].containerPort: Invalid value: 99999: must be between 1 and 65535, inclusive',
  );
});

t.test('a reload that would need more Pod addresses than the range has is rejected; the running Pods keep serving', async (t) => {
  const net = network();
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithDeployment(1, port) });
  const proxy = await startInstance(t, dir, { ...net.options, podCidr: `${net.podCidr.replace(/0\/24$/, '0')}/30` });
  const [pod] = podsOf(proxy, 'web');
  await writeFile(join(dir, 'web.yaml'), serviceWithDeployment(4, port));
  t.equal(await proxy.reload('signal'), 'invalid');
  t.match(proxy.status.lastErrors, [/--pod-cidr: 4 Pods need an address of the pod range/]);
  t.same(
    podsOf(proxy, 'web').map((p) => p.key),
    [pod?.key],
  );
});

t.test('a binding name whose new addresses make a Pod clash with a hand-written one: the running Pods stay, the problem is logged once', async (t) => {
  const net = network();
  let answer: string[] = [];
  const lookup: LookupFn = (host, cb) =>
    host === 'db.compose' && answer.length > 0 ? cb(null, answer) : cb(Object.assign(new Error('no'), { code: 'ENOTFOUND' }), []);
  const dir = await configDir(t, {
    'db.yaml': `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  selector: {matchLabels: {app: db}}
  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: c, ports: [{containerPort: 5432}]}]}}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0}
spec: {containers: [{name: c}]}
---
apiVersion: svcproxy.dev/v1alpha1
kind: WorkloadBinding
metadata: {name: db}
spec: {workload: {kind: StatefulSet, name: db}, dnsName: db.compose}
`,
  });
  const { log, records } = captureLogger('info');
  const proxy = await startInstance(t, dir, net.options, log, lookup);
  t.same([...proxy.pods.keys()], ['default/db-0'], 'the hand-written Pod; the name resolves to nothing yet');
  answer = [net.backend(3)];
  await eventually(
    () => records.some((r) => /^Pods not updated: .*its Pod default\/db-0 has the name of the Pod at/.test(r.msg)),
    'the clash is logged',
    10_000,
  );
  t.equal(proxy.pods.get('default/db-0')?.workloadKind, '', 'the hand-written Pod stays');
  answer = [net.backend(3), net.backend(4)];
  // The re-plan runs (and fails) right after the new answer is logged.
  await eventually(
    () => records.some((r) => r.msg === 'binding name resolved' && Array.isArray(r['addresses']) && r['addresses'].length === 2),
    'the second answer',
    10_000,
  );
  t.equal(records.filter((r) => r.msg.startsWith('Pods not updated')).length, 1, 'the same problem is logged once, not on every re-plan');
});
