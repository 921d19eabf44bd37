/**
 * The test-port rule (ports.ts): a port handed out is held, refused until
 * someone listens, free for a listener, and never handed to anyone else.
 */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:net';
import t from 'tap';
import { freePort, portOf, request, startServer } from './net.js';
import { freeUdpPort } from './udp.js';

t.test('a held port refuses connections, takes a listener, and refuses again after it closes', async (t) => {
  const port = await freePort();
  t.equal((await request(port)).error, 'ECONNREFUSED', 'nothing listens on it');
  const server = createServer((s) => s.end('here'));
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  t.equal((await request(port)).data.toString(), 'here', 'a listener binds it beside the holder');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  t.equal((await request(port)).error, 'ECONNREFUSED');
  const v6 = createServer((s) => s.end('v6'));
  v6.listen(port, '::1');
  await once(v6, 'listening');
  t.equal((await request(port, '', '::1')).data.toString(), 'v6', 'held in both loopback families, free for a listener in both');
  await new Promise<void>((resolve) => v6.close(() => resolve()));
});

t.test('no port-0 bind gets a held port, nor a port handed out before', async (t) => {
  const held = new Set<number>();
  for (let i = 0; i < 20; i++) held.add(await freePort());
  t.equal(held.size, 20, 'every call a new number');
  const servers = [];
  for (let i = 0; i < 500; i++) {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
  }
  t.notOk(
    servers.some((s) => held.has(portOf(s))),
    'port 0 skips every held port',
  );
  for (const s of servers) s.close();
  t.notOk(held.has(await startServer(t, () => undefined)), 'nor does a test server');
});

t.test('a UDP port lies below the port-0 range, is new each time, and binds in UDP and TCP', async (t) => {
  const a = await freeUdpPort();
  const b = await freeUdpPort();
  t.not(a, b);
  t.ok(a < (await freePort()), 'below the numbers port 0 hands out');
  const udp = createSocket('udp4');
  udp.bind({ port: a, address: '127.0.0.1', exclusive: true });
  await once(udp, 'listening');
  const tcp = createServer();
  tcp.listen(a, '127.0.0.1');
  await once(tcp, 'listening');
  udp.close();
  tcp.close();
});
