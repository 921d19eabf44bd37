/**
 * Service types and policies on real sockets, in-process. Distinct client
 * addresses come from binding the client socket to 127.0.0.x.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { LookupFn } from '../../src/proxy/resolver.js';
import { startInstance } from '../helpers/instance.js';
import { dialTo, eventually, freePort, readAll, request, startServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';

function named(t: Test, name: string, host = '127.0.0.1'): Promise<number> {
  return startServer(t, (s) => s.end(name), host);
}

/** A Service with hand-written endpoints at 127.0.0.1:<port> (or the given hosts), and extra spec/metadata lines. */
function svc(opts: { port: number; endpoints: Array<number | [string, number]>; spec?: string; meta?: string; addressType?: string; tail?: string }): string {
  const endpoints = opts.endpoints.map((e) => (Array.isArray(e) ? e : (['127.0.0.1', e] as [string, number])));
  const slices = endpoints
    .map(
      ([host, p], i) => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-${i}
  labels: {kubernetes.io/service-name: web}
addressType: ${opts.addressType ?? (host.includes(':') ? 'IPv6' : /^[0-9.]+$/.test(host) ? 'IPv4' : 'FQDN')}
ports: [{port: ${p}}]
endpoints:
  - addresses: ["${host}"]
`,
    )
    .join('');
  return `apiVersion: v1
kind: Service
metadata:
  name: web
${opts.meta ?? ''}spec:
${opts.spec ?? ''}  ports: [{port: ${opts.port}}]
${opts.tail ?? ''}${slices}`;
}

async function from(port: number, local: string, host = '127.0.0.1'): Promise<string> {
  const o = await request(port, '', host, local);
  return o.error === '' ? o.data.toString() : o.error;
}

t.test('NodePort: reachable on the port and on the nodePort', async (t) => {
  const a = await named(t, 'a');
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: [a], spec: '  type: NodePort\n' }) });
  const proxy = await startInstance(t, dir);
  const nodePort = [...proxy.registry.servicePorts.values()][0]?.current.nodePort ?? 0;
  t.ok(nodePort >= 30000 && nodePort <= 32767, `allocated nodePort ${nodePort}`);
  t.equal(await from(port, '127.0.0.1'), 'a');
  t.equal(await from(nodePort, '127.0.0.1'), 'a');
});

t.test('a clusterIP of 127.0.0.x binds there and not on the bind address', async (t) => {
  const a = await named(t, 'a');
  const port = await freePort('127.0.0.10');
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: [a], spec: '  clusterIP: 127.0.0.10\n' }) });
  await startInstance(t, dir);
  t.equal(await from(port, '127.0.0.1', '127.0.0.10'), 'a');
  t.equal(await from(port, '127.0.0.1', '127.0.0.1'), 'ECONNREFUSED');
});

t.test('ClientIP affinity: one client IP always hits one endpoint, another is pinned to the next', async (t) => {
  const ends = [await named(t, 'a'), await named(t, 'b'), await named(t, 'c')];
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: ends, spec: '  sessionAffinity: ClientIP\n' }) });
  await startInstance(t, dir);
  const first = [];
  for (let i = 0; i < 5; i++) first.push(await from(port, '127.0.0.2'));
  t.equal(new Set(first).size, 1, `127.0.0.2 always reaches ${first[0]}`);
  const second = [];
  for (let i = 0; i < 5; i++) second.push(await from(port, '127.0.0.3'));
  t.equal(new Set(second).size, 1);
  t.not(second[0], first[0], 'the second client was pinned to the next endpoint');
});

t.test('ClientIP affinity expires after timeoutSeconds (1 s here)', async (t) => {
  const ends = [await named(t, 'a'), await named(t, 'b'), await named(t, 'c')];
  const port = await freePort();
  const spec = '  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 1}}\n';
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: ends, spec }) });
  await startInstance(t, dir);
  const pinned = await from(port, '127.0.0.2');
  const other = await from(port, '127.0.0.3');
  const lastUse = Date.now();
  // The pin's age is counted in whole seconds: wait until a full second has passed since its last use.
  await eventually(() => Date.now() - lastUse >= 1100, 'the affinity timeout to pass', 3000);
  const after = await from(port, '127.0.0.2');
  t.not(after, pinned, 'expired: the client takes the next endpoint in the rotation');
  t.not(after, other);
});

t.test('ClientIP affinity: a client pinned to an endpoint that dies is re-pinned', async (t) => {
  const ends = [await named(t, 'a'), await named(t, 'b')];
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: ends, spec: '  sessionAffinity: ClientIP\n' }) });
  const proxy = await startInstance(t, dir);
  const pinned = await from(port, '127.0.0.2');
  const survivor = pinned === 'a' ? 'b' : 'a';
  // Stop the pinned endpoint by pointing its slice at a dead port: same endpoint set size, one dead.
  const dead = await freePort();
  const endpoints = pinned === 'a' ? [dead, ends[1] ?? 0] : [ends[0] ?? 0, dead];
  void proxy;
  await writeFile(join(dir, 'web.yaml'), svc({ port, endpoints, spec: '  sessionAffinity: ClientIP\n' }));
  await eventually(async () => (await from(port, '127.0.0.2')) === survivor, 're-pinned to the live endpoint');
  for (let i = 0; i < 3; i++) t.equal(await from(port, '127.0.0.2'), survivor, 'and it sticks');
});

t.test('loadBalancerSourceRanges: 127.0.0.5/32 is let in, 127.0.0.6 is reset and counted', async (t) => {
  const a = await named(t, 'a');
  const port = await freePort();
  const spec = '  type: LoadBalancer\n  loadBalancerSourceRanges: [127.0.0.5/32]\n';
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: [a], spec }) });
  const proxy = await startInstance(t, dir);
  t.equal(await from(port, '127.0.0.5'), 'a');
  t.equal(await from(port, '127.0.0.6'), 'ECONNRESET');
  const sp = [...proxy.registry.servicePorts.values()][0];
  t.equal(sp?.stats.rejected.source_range, 1);
  const nodePort = sp?.current.nodePort ?? 0;
  t.equal(await from(nodePort, '127.0.0.6'), 'ECONNRESET', 'on every listener of the Service, the nodePort too');
});

t.test('an FQDN endpoint: localhost', async (t) => {
  const a = await named(t, 'a', '127.0.0.1');
  const b = await named(t, 'b', '::1');
  const port = await freePort();
  // localhost may resolve to 127.0.0.1 and ::1: listen on both, at two ports, one per endpoint entry.
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: [['localhost', a]] }) });
  await startInstance(t, dir);
  void b;
  const got = await from(port, '127.0.0.1');
  t.ok(got === 'a' || got === 'ECONNRESET' || got === 'b', `reached through a name (${got})`);
  t.equal(got, 'a', 'localhost resolves to 127.0.0.1 here');
});

t.test('a host name whose answer changes: new connections follow it without a restart', async (t) => {
  const a = await named(t, 'on .2', '127.0.0.2');
  let answer = '127.0.0.2';
  const lookup: LookupFn = (host, cb) => (host === 'app.test' ? cb(null, [answer]) : cb(Object.assign(new Error('no'), { code: 'ENOTFOUND' }), []));
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: [['app.test', a]] }) });
  await startInstance(t, dir, {}, undefined, lookup);
  t.equal(await from(port, '127.0.0.1'), 'on .2');
  // The "container" restarts elsewhere: same port, new address.
  const { createServer } = await import('node:net');
  const moved = createServer((s) => s.end('on .3'));
  moved.listen(a, '127.0.0.3');
  await once(moved, 'listening');
  t.teardown(() => new Promise<void>((resolve) => moved.close(() => resolve())));
  answer = '127.0.0.3';
  await eventually(async () => (await from(port, '127.0.0.1')) === 'on .3', 'the new address, after the DNS cache (2 s)', 5000);
});

t.test('a host name that does not resolve: the next endpoint is tried; never a crash', async (t) => {
  const a = await named(t, 'a');
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: [['nowhere.invalid', a], a] }) });
  await startInstance(t, dir);
  for (let i = 0; i < 3; i++) t.equal(await from(port, '127.0.0.1'), 'a');
});

t.test('IPv6: ::1 endpoints behind an IPv6 listener', async (t) => {
  const a = await named(t, 'v6', '::1');
  const port = await freePort('::1');
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: [['::1', a]], spec: '  clusterIP: "::1"\n' }) });
  await startInstance(t, dir);
  t.equal(await from(port, '::1', '::1'), 'v6');
});

t.test('dual-stack: one Service listening on both families', async (t) => {
  const a = await named(t, 'a');
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: [a], spec: '  ipFamilyPolicy: RequireDualStack\n' }) });
  await startInstance(t, dir);
  t.equal(await from(port, '127.0.0.1', '127.0.0.1'), 'a');
  t.equal(await from(port, '::1', '::1'), 'a');
});

t.test('max-connections: beyond it new connections are reset and counted', async (t) => {
  const hold = await startServer(t, (s) => {
    s.write('held');
    s.on('end', () => s.end()); // closes its side when the client leaves
  });
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: [hold], meta: '  annotations: {svcproxy.dev/max-connections: "2"}\n' }) });
  const proxy = await startInstance(t, dir);
  const c1 = await dialTo(t, port);
  const c2 = await dialTo(t, port);
  await Promise.all([once(c1, 'data'), once(c2, 'data')]);
  t.equal(await from(port, '127.0.0.1'), 'ECONNRESET');
  t.equal([...proxy.registry.servicePorts.values()][0]?.stats.rejected.max_connections, 1);
  c1.end();
  await eventually(() => [...proxy.registry.servicePorts.values()][0]?.stats.active === 1, 'a slot to free up');
  const c3 = await dialTo(t, port);
  const [data] = (await once(c3, 'data')) as [Buffer];
  t.equal(data.toString(), 'held', 'a new connection fits again');
});

t.test('idle-timeout: a connection with no bytes either way is closed; an active one is not', async (t) => {
  const echo = await startServer(t, (s) => s.pipe(s));
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: [echo], meta: '  annotations: {svcproxy.dev/idle-timeout: 300ms}\n' }) });
  const proxy = await startInstance(t, dir);
  const idle = await dialTo(t, port);
  const idleDone = once(idle, 'end'); // the proxy closes it; this client is half-open-capable, so 'end' is the signal
  const busy = await dialTo(t, port);
  let echoed = 0;
  busy.on('data', (c: Buffer) => (echoed += c.length));
  const timer = setInterval(() => busy.write('x'), 50);
  t.teardown(() => clearInterval(timer));
  await idleDone;
  t.notOk(busy.destroyed, 'the busy connection is still open');
  t.ok(echoed > 0);
  await eventually(() => [...proxy.registry.servicePorts.values()][0]?.stats.closed.idle_timeout === 1, 'the idle close to be counted');
});

/** An upstream that records every byte it receives, and answers when the client is done. */
function recordingUpstream(t: Test, got: Buffer[]): Promise<number> {
  return startServer(t, (s) => {
    s.on('data', (c: Buffer) => got.push(c));
    s.on('end', () => s.end('ok'));
  });
}

/** Sends "hello" from 127.0.0.5 through a Service with the given PROXY protocol version; returns what the upstream got. */
async function throughProxyProtocol(t: Test, version: 'v1' | 'v2'): Promise<{ got: Buffer; clientPort: number; port: number }> {
  const got: Buffer[] = [];
  const up = await recordingUpstream(t, got);
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': svc({ port, endpoints: [up], meta: `  annotations: {svcproxy.dev/proxy-protocol: ${version}}\n` }) });
  await startInstance(t, dir);
  const c = await dialTo(t, port, '127.0.0.1', '127.0.0.5');
  const clientPort = c.localPort ?? 0;
  const out = readAll(c);
  c.end('hello');
  await out;
  return { got: Buffer.concat(got), clientPort, port };
}

t.test('PROXY protocol v1: the header carries the client and Service addresses, before any client byte', async (t) => {
  const { got, clientPort, port } = await throughProxyProtocol(t, 'v1');
  const text = got.toString('latin1');
  t.equal(text, `PROXY TCP4 127.0.0.5 127.0.0.1 ${clientPort} ${port}\r\nhello`);
});

t.test('PROXY protocol v2: the binary header parses back byte-exact', async (t) => {
  const { got: header, clientPort, port } = await throughProxyProtocol(t, 'v2');
  t.equal(header.subarray(0, 12).toString('hex'), '0d0a0d0a000d0a515549540a', 'signature');
  t.equal(header[12], 0x21, 'version 2, PROXY');
  t.equal(header[13], 0x11, 'TCP over IPv4');
  t.equal(header.readUInt16BE(14), 12);
  t.equal([...header.subarray(16, 20)].join('.'), '127.0.0.5');
  t.equal([...header.subarray(20, 24)].join('.'), '127.0.0.1');
  t.equal(header.readUInt16BE(24), clientPort);
  t.equal(header.readUInt16BE(26), port);
  t.equal(header.subarray(28).toString(), 'hello', 'the client bytes follow the header');
});
