/**
 * The port-forward carrier through a real Service port: a listener, the
 * TcpForwarder, a PortForwarder against the minimal SPDY portforward server
 * (pod-server.ts). The endpoints' addresses are unroutable (192.0.2.x,
 * TEST-NET-1): a byte that arrives went through port-forward.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { Test } from 'tap';
import t from 'tap';
import { createPortForwarder } from '../../src/portforward/port-forwarder.js';
import type { PortForwarder } from '../../src/proxy/forwarded.js';
import { tableWith, toxic } from '../helpers/faults.js';
import { silentLog } from '../helpers/log.js';
import { dialTo, startEchoServer, startNamedServer, startServer } from '../helpers/net.js';
import { endpoint, startServicePort } from '../helpers/proxy.js';
import { startPodServer, type PodServer } from './pod-server.js';

function forwarder(t: Test, server: PodServer): PortForwarder {
  const pf = createPortForwarder({ access: server.access, log: silentLog });
  t.teardown(() => pf.close());
  return pf;
}

/** A cluster endpoint of Pod shop/NAME: never dialled (TEST-NET-1), reached by port-forward. */
function podEndpoint(name: string, i: number): ReturnType<typeof endpoint> {
  return endpoint(8080, `192.0.2.${i + 1}`, { pod: `shop/${name}`, portForward: true });
}

async function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'end');
  return Buffer.concat(chunks);
}

t.test('connections are balanced round robin across three Pods, each reached through port-forward', async (t) => {
  const server = await startPodServer(t);
  const names = ['web-0', 'web-1', 'web-2'];
  for (const n of names) server.pods.set(n, await startNamedServer(t, n));
  const pf = forwarder(t, server);
  const { port } = await startServicePort(t, names.map(podEndpoint), { portForwarder: pf });
  const seen: string[] = [];
  for (let i = 0; i < 6; i++) {
    const client = await dialTo(t, port);
    seen.push((await readAll(client)).toString());
  }
  t.same(seen, [...names, ...names]);
  t.equal(server.counts.upgrades, 3, 'one upgraded connection per Pod');
});

t.test('a Pod whose upgrade is refused is a failed dial: the next Pod serves, no client fails', async (t) => {
  const server = await startPodServer(t);
  for (const n of ['web-0', 'web-1']) server.pods.set(n, await startNamedServer(t, n));
  server.refuse.set('web-0', 403);
  const pf = forwarder(t, server);
  const { port, proxy } = await startServicePort(t, ['web-0', 'web-1'].map(podEndpoint), { portForwarder: pf });
  for (let i = 0; i < 4; i++) {
    const client = await dialTo(t, port);
    t.equal((await readAll(client)).toString(), 'web-1');
  }
  t.ok(proxy.stats.connectFailures >= 1, 'the refusal counted as a failed dial');
});

t.test('half-close: the request ends with a FIN, the response follows it', async (t) => {
  const server = await startPodServer(t);
  // Answers only once the request has ended: the client's FIN must cross the port-forward stream.
  const pod = await startServer(t, (s) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => s.end(`got ${Buffer.concat(chunks).length} bytes`));
  });
  server.pods.set('web-0', pod);
  const pf = forwarder(t, server);
  const { port } = await startServicePort(t, [podEndpoint('web-0', 0)], { portForwarder: pf });
  const client = await dialTo(t, port);
  const answer = readAll(client);
  client.end(Buffer.alloc(100_000, 'q'));
  t.equal((await answer).toString(), 'got 100000 bytes');
});

t.test('16 MiB each way on one connection and 8 parallel connections arrive sha256-equal', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-0', await startEchoServer(t));
  const pf = forwarder(t, server);
  const { port } = await startServicePort(t, [podEndpoint('web-0', 0)], { portForwarder: pf });
  const run = async (bytes: number): Promise<void> => {
    const client = await dialTo(t, port);
    const sent = createHash('sha256');
    const got = createHash('sha256');
    let received = 0;
    client.on('data', (c: Buffer) => {
      got.update(c);
      received += c.length;
    });
    const ended = once(client, 'end');
    const chunk = Buffer.alloc(64 * 1024);
    for (let off = 0; off < bytes; off += chunk.length) {
      chunk.fill(off & 0xff);
      chunk.writeUInt32BE(off, 0);
      sent.update(chunk);
      if (!client.write(Buffer.from(chunk))) await once(client, 'drain');
    }
    client.end();
    await ended;
    t.equal(received, bytes);
    t.equal(got.digest('hex'), sent.digest('hex'));
  };
  await run(16 * 1024 * 1024);
  await Promise.all(Array.from({ length: 8 }, () => run(2 * 1024 * 1024)));
  t.equal(server.counts.upgrades, 1, 'all on one upgraded connection');
});

t.test('toxics apply on top of a port-forwarded connection (the toxic pump carries the stream)', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-0', await startEchoServer(t));
  const pf = forwarder(t, server);
  const { port } = await startServicePort(t, [podEndpoint('web-0', 0)], { portForwarder: pf }, undefined, {
    faults: tableWith([toxic('limit_data', { bytes: 1000 })]),
  });
  const client = await dialTo(t, port);
  const all = readAll(client);
  client.write(Buffer.alloc(5000, 'z'));
  const got = await all;
  t.ok(got.length <= 1000, `limit_data closed the connection after at most 1000 bytes (${got.length})`);
});

t.test('the Pod resetting its connection resets the client', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-0', await startServer(t, (s) => s.once('data', () => s.resetAndDestroy())));
  const pf = forwarder(t, server);
  const { port, proxy } = await startServicePort(t, [podEndpoint('web-0', 0)], { portForwarder: pf });
  const client = await dialTo(t, port);
  client.write('boom');
  const [err] = (await once(client, 'error')) as [Error & { code?: string }];
  t.equal(err.code, 'ECONNRESET');
  const deadline = Date.now() + 10_000;
  while (proxy.stats.active > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(proxy.stats.active, 0);
});

t.test('the contract holds on a forwarded connection: idle timeout, drain, byte counts and the end reason the access log gets', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-0', await startEchoServer(t));
  const pf = forwarder(t, server);
  const ended: Array<{ termination: string; fromDownstream: number; fromUpstream: number }> = [];
  const { port, tracker } = await startServicePort(t, [podEndpoint('web-0', 0)], { portForwarder: pf }, undefined, {
    policy: { idleTimeoutMs: 300 },
    onLeaseEnd: (lease) => {
      const bytes = lease.liveBytes();
      ended.push({ termination: lease.termination ?? '', fromDownstream: bytes.fromDownstream, fromUpstream: bytes.fromUpstream });
    },
  });
  // Idle: 5 bytes each way, then nothing: the idle timeout closes it.
  const idle = await dialTo(t, port);
  idle.on('error', () => undefined);
  idle.write('hello');
  await once(idle, 'data');
  await once(idle, 'end'); // svcproxy closed it (the client, half-open, sees the FIN)
  idle.destroy();
  // Drain: a busy connection is reset on demand, the Pod's side with it.
  const busy = await dialTo(t, port);
  busy.on('error', () => undefined);
  busy.write('x');
  await once(busy, 'data');
  const busyClosed = new Promise((resolve) => busy.once('close', resolve));
  tracker.resetAll();
  await busyClosed;
  const deadline = Date.now() + 10_000;
  while ((ended.length < 2 || pf.stats().streamsOpen > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.match(ended, [
    { termination: 'idle_timeout', fromDownstream: 5, fromUpstream: 5 },
    { termination: 'drain', fromDownstream: 1, fromUpstream: 1 },
  ]);
  t.equal(pf.stats().streamsOpen, 0, 'both streams are gone from the pool');
});
