import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { streamDecode, streamEncode } from 'dns-packet';
import t, { type Test } from 'tap';
import { DnsServer, dnsRetryDelayMs } from '../../src/dns/server.js';
import type { Zone } from '../../src/dns/zone.js';
import { servicesOf, zoneOf } from '../helpers/dns.js';
import { silentLog } from '../helpers/log.js';
import { DNS_CONFIG } from './fixtures.js';

const zone = zoneOf(DNS_CONFIG, () => true);
const web = servicesOf(DNS_CONFIG).get('default/web')?.addresses[0] ?? '';

async function startDns(
  t: Test,
  z: Zone = zone,
  options: Partial<{ maxTcpConnections: number; tcpIdleTimeoutMs: number; port: number }> = {},
): Promise<DnsServer> {
  const server = new DnsServer(z, { host: '127.0.0.1', port: 0, maxTcpConnections: 8, tcpIdleTimeoutMs: 10_000, ...options }, silentLog);
  t.teardown(() => server.close());
  await server.start();
  return server;
}

function resolverFor(server: DnsServer): Resolver {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([`127.0.0.1:${server.port}`]);
  return resolver;
}

async function tcpClient(t: Test, port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  t.teardown(() => socket.destroy());
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** Reads length-prefixed DNS messages until `count` have come. */
function readMessages(socket: Socket, count: number): Promise<Array<ReturnType<typeof streamDecode>>> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const out: Array<ReturnType<typeof streamDecode>> = [];
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        out.push(streamDecode(buffered));
        buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
      }
      if (out.length >= count) resolve(out);
    });
    socket.on('close', () => reject(new Error(`closed after ${out.length} messages`)));
  });
}

t.test("Node's resolver over UDP: A, SRV, PTR, NXDOMAIN and REFUSED", async (t) => {
  const server = await startDns(t);
  const resolver = resolverFor(server);
  t.same(await resolver.resolve4('web.default.svc.cluster.local'), [web]);
  t.same(await resolver.resolve4('web'), [web]);
  t.match(await resolver.resolveSrv('_http._tcp.web.default.svc.cluster.local'), [
    { name: 'web.default.svc.cluster.local', port: 80, priority: 0, weight: 100 },
  ]);
  t.same(await resolver.reverse(web), ['web.default.svc.cluster.local']);
  t.same((await resolver.resolve4('db')).sort(), ['127.0.50.1', '127.0.50.2', '127.0.50.3']);
  await t.rejects(resolver.resolve4('nope.default.svc.cluster.local'), { code: 'ENOTFOUND' });
  await t.rejects(resolver.resolve4('example.com'), { code: 'EREFUSED' });
  t.equal(server.stats.rcodes.NXDOMAIN, 1);
  t.ok(server.stats.rcodes.REFUSED >= 1);
});

t.test('answers follow a new zone at once', async (t) => {
  const server = await startDns(t);
  const resolver = resolverFor(server);
  await t.rejects(resolver.resolve4('extra.default.svc.cluster.local'), { code: 'ENOTFOUND' });
  const next = zoneOf(`${DNS_CONFIG}---\napiVersion: v1\nkind: Service\nmetadata: {name: extra}\nspec: {clusterIP: 127.0.0.99, ports: [{port: 1}]}\n`);
  server.setZone(next);
  t.same(await resolver.resolve4('extra.default.svc.cluster.local'), ['127.0.0.99']);
});

t.test('TCP: length-prefixed queries, several on one connection', async (t) => {
  const server = await startDns(t);
  const socket = await tcpClient(t, server.port);
  const reading = readMessages(socket, 2);
  socket.write(
    Buffer.concat([
      streamEncode({ type: 'query', id: 1, questions: [{ name: 'web.default.svc.cluster.local', type: 'A' }] }),
      streamEncode({ type: 'query', id: 2, questions: [{ name: 'api.shop', type: 'A' }] }),
    ]),
  );
  const [a, b] = await reading;
  t.same([a?.id, a?.answers?.[0]?.type === 'A' && a.answers[0].data], [1, web]);
  t.equal(b?.id, 2);
});

t.test('TCP is bounded: connections beyond the limit are refused, a partial message is dropped when idle', async (t) => {
  const server = await startDns(t, zone, { maxTcpConnections: 2, tcpIdleTimeoutMs: 300 });
  const first = await tcpClient(t, server.port);
  await tcpClient(t, server.port);
  const third = await tcpClient(t, server.port);
  await once(third, 'close');
  t.equal(server.stats.tcpRefused, 1);
  first.write(Buffer.from([0xff, 0xff, 1, 2, 3])); // announces 65535 bytes, sends 3
  await once(first, 'close');
  t.pass('the idle connection holding a partial message was closed');
});

t.test('TCP fuzz: random frames are answered or dropped, then the idle connection is closed', async (t) => {
  const server = await startDns(t, zone, { tcpIdleTimeoutMs: 300 });
  const fuzz = await tcpClient(t, server.port);
  fuzz.resume();
  const closed = once(fuzz, 'close');
  fuzz.write(randomBytes(200 * 1024));
  await closed;
  t.ok(server.stats.queries > 0);
  t.same(await resolverFor(server).resolve4('web'), [web], 'still answering');
});

t.test('UDP fuzz: random datagrams never stop the server', async (t) => {
  const server = await startDns(t);
  const client = createSocket('udp4');
  t.teardown(() => client.close());
  for (let i = 0; i < 300; i++) client.send(randomBytes(1 + (i % 200)), server.port, '127.0.0.1');
  const resolver = resolverFor(server);
  t.same(await resolver.resolve4('web'), [web], 'still answering');
  t.ok(server.stats.queries >= 1);
});

t.test('a port that cannot be bound: rejected, retried with backoff, bound once free', async (t) => {
  // A port a TCP listener can take (the scarcer kind on a busy loopback), then held for UDP only.
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise((resolve) => probe.close(resolve));
  const blocker = createSocket('udp4');
  blocker.bind(port, '127.0.0.1');
  await once(blocker, 'listening');
  const states: string[] = [];
  const server = new DnsServer(zone, { host: '127.0.0.1', port, maxTcpConnections: 4, tcpIdleTimeoutMs: 1000 }, silentLog, (s) => states.push(s.state));
  t.teardown(() => server.close());
  await t.rejects(server.start(), /DNS server cannot listen on 127\.0\.0\.1:\d+ \(UDP and TCP\): EADDRINUSE/);
  t.equal(server.state, 'failed');
  t.match(server.lastError, /^EADDRINUSE/);
  blocker.close();
  const deadline = Date.now() + 15_000;
  while (server.state !== 'listening' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(server.state, 'listening');
  t.same(await resolverFor(server).resolve4('web'), [web]);
  t.same([dnsRetryDelayMs(1), dnsRetryDelayMs(3), dnsRetryDelayMs(20)], [250, 1000, 10_000]);
  t.match(states, ['failed', 'listening']);
});
