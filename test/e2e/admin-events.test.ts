/**
 * The WebSocket feed (/api/events) of a real in-process svcproxy: stats
 * ticks that add up to the traffic the test made, reload and listener
 * events from real config edits, readiness events from real probes, and a
 * stalled client dropped while the proxy keeps forwarding.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { FEED_DEFAULTS } from '../../src/admin/events.js';
import { FeedClient, getJson, metric, scrape, tickFor, type FeedMessage } from '../helpers/admin.js';
import { serviceWithEndpoints, startInstance } from '../helpers/instance.js';
import { captureLogger } from '../helpers/log.js';
import { dialTo, freePort, request, startEchoServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';

/** Writes `text` and waits until as many bytes came back (an echo endpoint). */
async function echoOver(socket: Socket, text: string): Promise<void> {
  let got = 0;
  await new Promise<void>((resolve) => {
    const onData = (c: Buffer): void => {
      got += c.length;
      if (got >= text.length) {
        socket.removeListener('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

/** Σ rate × interval over every stats tick for `key`: what the rates say happened. */
function integrate(messages: readonly FeedMessage[], key: string, field: string): number {
  let total = 0;
  for (const m of messages) {
    const tick = m.type === 'stats' ? tickFor(m, key) : undefined;
    if (tick !== undefined) total += Number(tick[field]) * Number(m['intervalSeconds']);
  }
  return total;
}

t.test('a client gets hello, stats ticks that add up to the traffic, and reload and listener events', async (t) => {
  const echo = await startEchoServer(t);
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [echo]) });
  const proxy = await startInstance(t, dir);
  const feed = await FeedClient.connect(t, proxy.adminPort);
  t.match(await feed.next((m) => m.type === 'hello', 'hello'), { type: 'hello', version: '0.1.0', tickMs: 1000, time: Number });

  for (const payload of ['abc', 'defgh']) t.equal((await request(port, payload)).data.toString(), payload);
  const open = await dialTo(t, port);
  await echoOver(open, '0123456789');
  const key = 'default/web';
  const tick = await feed.next(
    (m) => m.type === 'stats' && tickFor(m, key)?.['connections'] === 3 && tickFor(m, key)?.['bytesFromDownstream'] === 18,
    'a tick showing the traffic',
    5000,
  );
  t.match(tickFor(tick, key), {
    namespace: 'default',
    service: 'web',
    port: String(port),
    activeConnections: 1,
    connections: 3,
    bytesFromDownstream: 18,
    bytesFromUpstream: 18,
    rejectedConnections: 0,
    connectFailures: 0,
    upstreams: { [`127.0.0.1:${echo}`]: 1 },
  });
  // intervalSeconds is the time that really passed between two ticks (the rates are over it), in seconds: on a loaded
  // machine it strays far from the nominal second, so it is checked against the ticks' own clock.
  await feed.until(() => feed.count('stats') >= 2, 'two stats ticks');
  const [first, second] = feed.messages.filter((m) => m.type === 'stats');
  const gap = (Number(second?.['time']) - Number(first?.['time'])) / 1000;
  t.ok(
    Number(second?.['intervalSeconds']) > 0 && Math.abs(Number(second?.['intervalSeconds']) - gap) < 0.1,
    `the time between ticks, in seconds (${String(second?.['intervalSeconds'])} s, ${gap} s apart)`,
  );
  t.ok(Math.abs(integrate(feed.messages, key, 'connectionsPerSecond') - 3) < 0.1, 'connections/s over the ticks add up to 3 connections');
  t.ok(Math.abs(integrate(feed.messages, key, 'downstreamRxBytesPerSecond') - 18) < 0.5, 'bytes/s from clients add up to 18 bytes');
  t.ok(Math.abs(integrate(feed.messages, key, 'upstreamRxBytesPerSecond') - 18) < 0.5, 'bytes/s from endpoints add up to 18 bytes');

  // Move the Service to another port: a reload, the old listener closes, the new one binds.
  const moved = await freePort();
  await writeFile(join(dir, 'web.yaml'), serviceWithEndpoints('web', moved, [echo]));
  t.match(await feed.next((m) => m.type === 'reload', 'the reload'), { type: 'reload', trigger: 'watch', result: 'success', errors: [], changes: Number });
  t.match(
    await feed.next((m) => m.type === 'listener' && m['state'] === 'closed' && String(m['listener']).startsWith('TCP 127.0.0.1:'), 'old listener closed'),
    { listener: `TCP 127.0.0.1:${port}`, servicePort: key, error: '' },
  );
  t.match(
    await feed.next((m) => m.type === 'listener' && m['state'] === 'listening' && String(m['listener']).startsWith('TCP 127.0.0.1:'), 'new listener bound'),
    { listener: `TCP 127.0.0.1:${moved}`, servicePort: key },
  );

  await writeFile(join(dir, 'web.yaml'), 'kind: Service\nmetadata: {name: web}\n');
  const failed = await feed.next((m) => m.type === 'reload' && m['result'] === 'failure', 'the rejected reload');
  t.match(failed, { trigger: 'watch', changes: 0 });
  t.ok(
    Array.isArray(failed['errors']) && (failed['errors'] as string[]).length > 0 && (failed['errors'] as string[]).every((e) => e.includes('web.yaml')),
    'the problems, one line each',
  );
  t.equal(await echoOver(open, 'still here').then(() => true), true, 'the established connection never noticed');
});

t.test('readiness events follow a Pod probe; /api/services shows Pod endpoints with live conditions', async (t) => {
  const backendPort = await freePort(); // nothing listens yet: the Pod starts not ready and stays so
  const port = await freePort();
  const dir = await configDir(t, {
    'web.yaml': `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: ${port}, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: a, labels: {app: web}}
spec:
  containers:
    - name: app
      ports: [{name: http, containerPort: ${backendPort}}]
      readinessProbe: {tcpSocket: {port: http}, periodSeconds: 1, failureThreshold: 1, successThreshold: 1}
`,
  });
  const proxy = await startInstance(t, dir);
  const feed = await FeedClient.connect(t, proxy.adminPort);
  const labels = { namespace: 'default', service: 'web', port: String(port) };
  t.equal(metric(await scrape(proxy.adminPort), 'svcproxy_endpoints', { ...labels, state: 'not_ready' }), 1, 'not ready before its probe passes');

  const backend = createServer((s) => {
    s.on('error', () => undefined);
    s.end();
  });
  backend.listen(backendPort, '127.0.0.1');
  await once(backend, 'listening');
  const closeBackend = (): Promise<void> => new Promise((resolve) => backend.close(() => resolve()));
  t.teardown(() => (backend.listening ? closeBackend() : undefined));
  t.match(await feed.next((m) => m.type === 'readiness' && m['ready'] === true, 'Pod a ready', 10_000), {
    pod: 'default/a',
    services: ['default/web'],
    reason: String,
  });
  const api = await getJson<{ servicePorts: Array<{ endpoints: unknown[] }> }>(proxy.adminPort, '/api/services');
  t.match(api.servicePorts[0]?.endpoints, [{ id: `127.0.0.1:${backendPort}`, source: 'Pod', pod: 'default/a', ready: true }]);
  t.equal(metric(await scrape(proxy.adminPort), 'svcproxy_endpoints', { ...labels, state: 'ready' }), 1);

  await closeBackend();
  t.match(await feed.next((m) => m.type === 'readiness' && m['ready'] === false, 'Pod a not ready', 10_000), {
    pod: 'default/a',
    reason: /ECONNREFUSED|refused/,
  });
  t.equal(metric(await scrape(proxy.adminPort), 'svcproxy_endpoints', { ...labels, state: 'not_ready' }), 1);
});

/** A WebSocket client that completes the handshake and then never reads again. */
async function stalledClient(t: Test, port: number): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  t.teardown(() => socket.destroy());
  await once(socket, 'connect');
  socket.write(
    'GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  const [first] = (await once(socket, 'data')) as [Buffer];
  if (!first.toString().startsWith('HTTP/1.1 101')) throw new Error(`no upgrade: ${first.toString()}`);
  socket.pause(); // from here on the kernel buffers fill, then svcproxy's backlog for this client grows
  return socket;
}

t.test('a stalled client is dropped once its backlog passes the limit; the proxy and other clients carry on', async (t) => {
  const echo = await startEchoServer(t);
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [echo]) });
  const { log, records } = captureLogger('warn');
  const proxy = await startInstance(t, dir, {}, log);
  const admin = proxy.adminPort;
  await stalledClient(t, admin);
  const healthy = await FeedClient.connect(t, admin);
  const open = await dialTo(t, port);

  // Load the feed: reload events with long error lists (a broken config with
  // many problems), emitted through the instance's own event channel. Each
  // waits until the healthy client has it, so only the stalled one falls behind.
  const errors = Array.from({ length: 64 }, (_, i) => `broken.yaml[${i}] Service default/s${i}: ${'x'.repeat(1000)}`);
  const messageBytes = JSON.stringify({ type: 'reload', time: Date.now(), trigger: 'api', result: 'failure', errors, changes: 0 }).length;
  let sent = 0;
  while (proxy.admin?.feed.dropped === 0 && sent < 2000) {
    proxy.events.emit('reload', { trigger: 'api', result: 'failure', errors, changes: 0 });
    sent++;
    await healthy.until(() => healthy.count('reload') === sent, `reload ${sent} at the healthy client`);
    if (sent % 20 === 0) await echoOver(open, `ping ${sent}`); // the data path answers throughout
  }
  t.equal(proxy.admin?.feed.dropped, 1, `dropped after ${sent} messages of ${messageBytes} bytes`);
  const warning = records.find((r) => r.msg === 'admin feed client too slow; disconnected');
  t.match(warning, { level: 'warn', limitBytes: FEED_DEFAULTS.maxBufferedBytes });
  const backlog = Number(warning?.['bufferedBytes']);
  t.ok(backlog > FEED_DEFAULTS.maxBufferedBytes && backlog <= FEED_DEFAULTS.maxBufferedBytes + 2 * messageBytes, `backlog bounded: ${backlog} bytes`);

  const mib = 'y'.repeat(1024 * 1024);
  await echoOver(open, mib);
  t.pass('1 MiB echoed through the proxy after the drop');
  const m = await scrape(admin);
  t.equal(metric(m, 'svcproxy_admin_feed_dropped_clients_total'), 1);
  t.equal(metric(m, 'svcproxy_admin_feed_clients'), 1, 'the healthy client is still connected');
  const ticks = healthy.count('stats');
  await healthy.until(() => healthy.count('stats') > ticks, 'another stats tick at the healthy client', 5000);
  t.equal(healthy.count('reload'), sent, 'the healthy client got every message');
});
