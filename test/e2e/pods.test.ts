/**
 * Services over Pods, end to end in-process: selectors, named targetPorts
 * resolved per Pod, readiness probes run by svcproxy, passive health.
 */
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { captureLogger } from '../helpers/log.js';
import { eventually, freePort, request, startServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';
import { startInstance } from '../helpers/instance.js';

interface PodOpts {
  name: string;
  ip?: string;
  httpPort: number;
  probe?: string;
  labels?: string;
  extraMeta?: string;
}

function podYaml(p: PodOpts): string {
  const status = p.ip === undefined ? '' : `status: {podIP: ${p.ip}}\n`;
  const probe = p.probe === undefined ? '' : `      readinessProbe: ${p.probe}\n`;
  return `---
apiVersion: v1
kind: Pod
metadata:
  name: ${p.name}
  labels: {${p.labels ?? 'app: web'}}
${p.extraMeta ?? ''}spec:
  containers:
    - name: app
      ports: [{name: http, containerPort: ${p.httpPort}}]
${probe}${status}`;
}

function serviceYaml(port: number, extraSpec = ''): string {
  return `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
${extraSpec}  ports: [{port: ${port}, targetPort: http}]
`;
}

/** A backend that answers with the address and port it was reached on. */
function startWhoAmI(t: Test, host: string): Promise<number> {
  return startServer(t, (s) => s.end(`${s.localAddress}:${s.localPort}`), host);
}

async function listen(port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer((s) => {
    s.on('error', () => undefined); // probes connect and go away at once
    s.end(`${host}:${port}`);
  });
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

async function answers(port: number): Promise<string> {
  const o = await request(port);
  return o.error === '' ? o.data.toString() : o.error;
}

t.test('targetPort http over two Pods whose http ports differ: connections alternate and reach the right port on each', async (t) => {
  const a = await startWhoAmI(t, '127.0.0.2');
  const b = await startWhoAmI(t, '127.0.0.3');
  t.not(a, b);
  const port = await freePort();
  const dir = await configDir(t, {
    'web.yaml': serviceYaml(port) + podYaml({ name: 'a', ip: '127.0.0.2', httpPort: a }) + podYaml({ name: 'b', ip: '127.0.0.3', httpPort: b }),
  });
  await startInstance(t, dir);
  const seen = [];
  for (let i = 0; i < 6; i++) seen.push(await answers(port));
  const want = new Set([`127.0.0.2:${a}`, `127.0.0.3:${b}`]);
  t.ok(
    seen.every((s) => want.has(s)),
    `every connection reached a Pod at its own http port: ${seen.join(', ')}`,
  );
  t.not(seen[0], seen[1], 'they alternate');
  t.equal(seen[0], seen[2]);
  t.equal(seen[1], seen[3]);
});

t.test('a Pod whose probe port stops listening leaves the rotation, and comes back when it listens again', async (t) => {
  const aPort = await freePort();
  let aServer = await listen(aPort);
  const b = await startWhoAmI(t, '127.0.0.1');
  const port = await freePort();
  const { log, records } = captureLogger('info');
  const probe = '{tcpSocket: {port: http}, periodSeconds: 1, failureThreshold: 1, successThreshold: 1}';
  const dir = await configDir(t, { 'web.yaml': serviceYaml(port) + podYaml({ name: 'a', httpPort: aPort, probe }) + podYaml({ name: 'b', httpPort: b }) });
  const proxy = await startInstance(t, dir, {}, log);
  await eventually(() => proxy.probes.isReady('default/a'), 'Pod a ready after its first probe');
  t.match(
    records.find((r) => r.msg === 'endpoint ready'),
    { service: 'default/web', pod: 'default/a', address: '127.0.0.1', reason: 'tcp connect ok' },
  );
  const both = new Set([await answers(port), await answers(port)]);
  t.same([...both].sort(), [`127.0.0.1:${aPort}`, `127.0.0.1:${b}`].sort(), 'both Pods serve');

  await new Promise<void>((resolve) => aServer.close(() => resolve()));
  await eventually(() => records.some((r) => r.msg === 'endpoint not ready'), 'Pod a not ready', 5000);
  t.match(
    records.find((r) => r.msg === 'endpoint not ready'),
    { pod: 'default/a', reason: /ECONNREFUSED/ },
  );
  for (let i = 0; i < 4; i++) t.equal(await answers(port), `127.0.0.1:${b}`, 'only Pod b gets new connections');

  aServer = await listen(aPort);
  t.teardown(() => new Promise<void>((resolve) => aServer.close(() => resolve())));
  await eventually(() => proxy.probes.isReady('default/a'), 'Pod a ready again', 5000);
  const again = new Set([await answers(port), await answers(port)]);
  t.equal(again.size, 2, 'Pod a is back in the rotation');
});

t.test('httpGet probes: a Pod answering 200 gets traffic, one answering 500 does not', async (t) => {
  const makeHttp = async (status: number): Promise<number> => {
    const server = createHttpServer((req, res) => {
      res.writeHead(req.url === '/ready' ? status : 200);
      res.end(`status ${status}`);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  };
  const good = await makeHttp(200);
  const bad = await makeHttp(500);
  const port = await freePort();
  const probe = '{httpGet: {port: http, path: /ready}, periodSeconds: 1}';
  const dir = await configDir(t, {
    'web.yaml': serviceYaml(port) + podYaml({ name: 'good', httpPort: good, probe }) + podYaml({ name: 'bad', httpPort: bad, probe }),
  });
  const proxy = await startInstance(t, dir);
  await eventually(() => proxy.probes.isReady('default/good'), 'the 200 Pod ready');
  t.notOk(proxy.probes.isReady('default/bad'));
  for (let i = 0; i < 3; i++) {
    const o = await request(port, 'GET / HTTP/1.0\r\n\r\n');
    t.match(o.data.toString(), /status 200/);
  }
});

t.test('terminating Pods get traffic only when no Pod is ready', async (t) => {
  const a = await startWhoAmI(t, '127.0.0.1');
  const old = await startWhoAmI(t, '127.0.0.1');
  const port = await freePort();
  const terminating = podYaml({ name: 'old', httpPort: old, extraMeta: '  deletionTimestamp: "2026-11-24T00:00:00Z"\n' });
  const dir = await configDir(t, { 'web.yaml': serviceYaml(port) + podYaml({ name: 'a', httpPort: a }) + terminating });
  const proxy = await startInstance(t, dir, { watch: false });
  for (let i = 0; i < 3; i++) t.equal(await answers(port), `127.0.0.1:${a}`);
  await writeFile(join(dir, 'web.yaml'), serviceYaml(port) + terminating);
  t.equal(await proxy.reload('api'), 'applied');
  t.equal(await answers(port), `127.0.0.1:${old}`, 'the terminating Pod serves as a last resort');
});

t.test('publishNotReadyAddresses puts a not-ready Pod in as ready', async (t) => {
  const a = await startWhoAmI(t, '127.0.0.1');
  const probePort = await freePort(); // nothing listens: the probe fails
  const port = await freePort();
  const probe = `{tcpSocket: {port: ${probePort}}, periodSeconds: 1}`;
  const dir = await configDir(t, { 'web.yaml': serviceYaml(port, '  publishNotReadyAddresses: true\n') + podYaml({ name: 'a', httpPort: a, probe }) });
  const proxy = await startInstance(t, dir);
  t.notOk(proxy.probes.isReady('default/a'));
  t.equal(await answers(port), `127.0.0.1:${a}`);
});

t.test('a selector that matches nothing: connections are reset', async (t) => {
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceYaml(port) + podYaml({ name: 'a', httpPort: 1, labels: 'app: other' }) });
  await startInstance(t, dir);
  t.equal(await answers(port), 'ECONNRESET');
});

t.test('passive health: a Pod whose port is dead is skipped after 3 failed dials', async (t) => {
  const live = await startWhoAmI(t, '127.0.0.1');
  const dead = await freePort();
  const port = await freePort();
  const { log, records } = captureLogger('info');
  const dir = await configDir(t, { 'web.yaml': serviceYaml(port) + podYaml({ name: 'dead', httpPort: dead }) + podYaml({ name: 'live', httpPort: live }) });
  const proxy = await startInstance(t, dir, {}, log);
  for (let i = 0; i < 6; i++) t.equal(await answers(port), `127.0.0.1:${live}`, 'the client never notices');
  const stats = [...proxy.registry.servicePorts.values()][0]?.stats;
  t.equal(stats?.connectFailures, 3, 'the dead endpoint was tried 3 times, then skipped');
  t.match(
    records.find((r) => r.msg === 'endpoint skipped after consecutive failed dials'),
    { upstream: `127.0.0.1:${dead}`, backoffMs: 1000 },
  );
});
