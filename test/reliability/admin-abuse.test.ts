/**
 * The admin server survives abuse (issue 11): slow headers are cut by the
 * header timeout, oversized headers get 431, connections beyond the limit are
 * closed at accept, and WebSocket feed clients that stop reading are
 * disconnected within a few seconds. Meanwhile the data path keeps
 * forwarding. Sizes and counts are bounded; every wait has a deadline.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { ADMIN_LIMITS } from '../../src/admin/server.js';
import { FEED_DEFAULTS } from '../../src/admin/events.js';
import type { AdminServer } from '../../src/admin/server.js';
import type { Svcproxy } from '../../src/instance/instance.js';
import { serviceWithEndpoints, startInstance } from '../helpers/instance.js';
import { eventually, freePort, request, startEchoServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';

async function instance(t: Test): Promise<{ proxy: Svcproxy<AdminServer>; servicePort: number }> {
  const echo = await startEchoServer(t);
  const servicePort = await freePort();
  const proxy = await startInstance(t, await configDir(t, { 'web.yaml': serviceWithEndpoints('web', servicePort, [echo]) }));
  return { proxy, servicePort };
}

/** A raw client socket to the admin port, destroyed at teardown; records when it closes and what it received. */
function rawClient(t: Test, port: number): { socket: Socket; closed: () => boolean; received: () => string } {
  const socket = connect(port, '127.0.0.1');
  let isClosed = false;
  let data = '';
  socket.on('error', () => undefined);
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  socket.on('close', () => (isClosed = true));
  t.teardown(() => socket.destroy());
  return { socket, closed: () => isClosed, received: () => data };
}

async function dataPathWorks(t: Test, port: number, what: string): Promise<void> {
  t.equal((await request(port, 'ping')).data.toString(), 'ping', what);
}

t.test('50 clients trickling request headers are answered 408 and disconnected by the header timeout', async (t) => {
  const { proxy, servicePort } = await instance(t);
  const clients = Array.from({ length: 50 }, () => rawClient(t, proxy.adminPort));
  await Promise.all(clients.map((c) => once(c.socket, 'connect')));
  const header = 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200);
  let sent = 0;
  // One byte per client every 100 ms: each request would take 20 s to arrive.
  const trickle = setInterval(() => {
    const ch = header[sent] ?? 'a';
    sent++;
    for (const c of clients) if (!c.closed()) c.socket.write(ch);
  }, 100);
  t.teardown(() => clearInterval(trickle));
  const started = performance.now();
  await eventually(() => clients.every((c) => c.closed()), 'every slow client to be disconnected', ADMIN_LIMITS.headersTimeoutMs + 10_000);
  clearInterval(trickle);
  t.ok(performance.now() - started < ADMIN_LIMITS.headersTimeoutMs + 10_000, 'within the header timeout and its check interval');
  t.ok(sent < header.length, `cut before the headers could complete (${sent} of ${header.length} bytes sent)`);
  t.equal(clients.filter((c) => c.received().startsWith('HTTP/1.1 408 Request Timeout')).length, 50, 'each got a 408');
  await dataPathWorks(t, servicePort, 'forwarding unaffected');
});

t.test('a 1 MiB request header gets 431, not a reset', async (t) => {
  const { proxy } = await instance(t);
  const c = rawClient(t, proxy.adminPort);
  await once(c.socket, 'connect');
  c.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(1024 * 1024)}\r\n\r\n`);
  await eventually(() => c.closed() || c.received().includes('\r\n\r\n'), 'an answer', 10_000);
  t.match(c.received(), /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  const ok = await fetch(`http://127.0.0.1:${proxy.adminPort}/healthz`);
  t.equal(ok.status, 200, 'the admin server still answers');
});

t.test('connections beyond the limit are closed at accept; those within it are served', async (t) => {
  const { proxy } = await instance(t);
  const extra = 20;
  const clients = Array.from({ length: ADMIN_LIMITS.maxConnections + extra }, () => rawClient(t, proxy.adminPort));
  await eventually(() => clients.filter((c) => c.closed()).length >= extra, `${extra} connections over the limit to be closed`, 5000);
  t.ok(clients.filter((c) => c.closed()).length < ADMIN_LIMITS.maxConnections, 'the others are held (until the header timeout)');
  for (const c of clients) c.socket.destroy();
  await eventually(
    async () => (await fetch(`http://127.0.0.1:${proxy.adminPort}/healthz`).catch(() => undefined))?.status === 200,
    'a slot for a real request',
  );
});

t.test('200 feed clients that never read are disconnected within a few heartbeats', async (t) => {
  const { proxy, servicePort } = await instance(t);
  const admin = proxy.admin;
  if (admin === undefined) throw new Error('the instance has an admin server');
  const clients = Array.from({ length: 200 }, () => rawClient(t, proxy.adminPort));
  await Promise.all(clients.map((c) => once(c.socket, 'connect')));
  for (const c of clients) {
    c.socket.write(
      'GET /api/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
  }
  await eventually(() => admin.feed.clients === 200, 'all 200 to be feed clients');
  for (const c of clients) c.socket.pause(); // from now on nothing is read: no pong can come back
  const started = performance.now();
  await eventually(() => admin.feed.clients === 0, 'the stalled clients to be dropped', FEED_DEFAULTS.heartbeatMs * 5);
  const seconds = (performance.now() - started) / 1000;
  t.ok(seconds <= (FEED_DEFAULTS.heartbeatMs * 5) / 1000, `dropped within ${seconds.toFixed(1)} s`);
  t.equal(admin.feed.dropped, 200, 'each counted as dropped');
  await dataPathWorks(t, servicePort, 'forwarding unaffected');
});
