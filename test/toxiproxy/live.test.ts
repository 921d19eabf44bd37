/**
 * Toxics added through the toxiproxy API reach connections that are already
 * open, as in toxiproxy: a client that opened its connection (a DB pool)
 * before the latency was added sees the latency. Measured on the SAME
 * connection, through an ad-hoc forward and through a Service port, with raw
 * HTTP and with toxiproxy-node-client.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import t, { type Test } from 'tap';
import { Toxiproxy } from 'toxiproxy-node-client';
import type { AdminServer } from '../../src/admin/server.js';
import type { Svcproxy } from '../../src/instance/instance.js';
import { median, roundTripMs } from '../helpers/faults.js';
import { serviceWithEndpoints, startInstance } from '../helpers/instance.js';
import { nativePump, skipWithoutNative } from '../helpers/native.js';
import { dialTo, eventually, freePort, startEchoServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function medianRoundTrip(socket: Socket, n = 15): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) samples.push(await roundTripMs(socket));
  return median(samples);
}

/** The latency the toxic adds on this connection, as the latency test measures it: median against the same connection's own base. */
async function added(socket: Socket, base: number): Promise<number> {
  return (await medianRoundTrip(socket)) - base;
}

type Api = (method: string, path: string, body?: unknown) => Promise<{ status: number; json: unknown }>;

function apiOf(instance: Svcproxy<AdminServer>): Api {
  return async (method, path, body) => {
    const res = await fetch(`http://127.0.0.1:${instance.toxiproxyPort}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
  };
}

/** Bytes held now by API toxics named `name` (on every proxy), from the fault table's counters. */
function heldBy(instance: Svcproxy<AdminServer>, name: string): number {
  return instance.faults
    .counterEntries()
    .filter((e) => e.source === 'api' && e.name === name)
    .reduce((sum, e) => sum + e.counters.heldBytes, 0);
}

/**
 * On one open connection: add latency, see it; update it, see the change;
 * make it hold everything, remove it, and get every held byte back in order.
 */
async function liveLatency(t: Test, instance: Svcproxy<AdminServer>, proxy: string, port: number): Promise<Socket> {
  const api = apiOf(instance);
  const socket = await dialTo(t, port);
  const base = await medianRoundTrip(socket);

  const created = await api('POST', `/proxies/${encodeURIComponent(proxy)}/toxics`, { name: 'lag', type: 'latency', attributes: { latency: 100 } });
  t.equal(created.status, 200);
  const slowed = await added(socket, base);
  t.ok(slowed >= 90 && slowed <= 110, `${proxy}: the connection opened before the toxic now has ${slowed.toFixed(1)} ms more (90-110)`);

  const updated = await api('PATCH', `/proxies/${encodeURIComponent(proxy)}/toxics/lag`, { attributes: { latency: 50 } });
  t.match(updated.json, { attributes: { latency: 50, jitter: 0 } });
  const less = await added(socket, base);
  t.ok(less >= 45 && less <= 55, `${proxy}: after the update, the same connection has ${less.toFixed(1)} ms more (45-55)`);

  // Ten minutes: bytes can only come back before the test's deadline if removing the toxic releases them.
  await api('POST', `/proxies/${encodeURIComponent(proxy)}/toxics/lag`, { attributes: { latency: 600_000 } });
  const payload = randomBytes(128 * 1024);
  const received: Buffer[] = [];
  socket.on('data', (c: Buffer) => received.push(c));
  for (let offset = 0; offset < payload.length; offset += 8192) socket.write(payload.subarray(offset, offset + 8192));
  await eventually(() => heldBy(instance, 'lag') === payload.length, `${proxy}: the echoed bytes to be held by the toxic`, 10_000);
  t.equal(Buffer.concat(received).length, 0, `${proxy}: nothing passed while the toxic held it`);
  t.equal((await api('DELETE', `/proxies/${encodeURIComponent(proxy)}/toxics/lag`)).status, 204);
  await eventually(() => Buffer.concat(received).length === payload.length, `${proxy}: every held byte to be released`, 10_000);
  t.equal(sha256(Buffer.concat(received)), sha256(payload), `${proxy}: released in order, nothing lost`);
  t.equal(heldBy(instance, 'lag'), 0, `${proxy}: nothing held any more`);
  return socket;
}

t.test('an API toxic reaches connections already open: ad-hoc forward and Service port, added, updated, removed', async (t) => {
  const echo = await startEchoServer(t);
  const servicePort = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', servicePort, [echo]) });
  const instance = await startInstance(t, dir, { toxiproxy: { host: '127.0.0.1', port: 0 } });
  const api = apiOf(instance);
  const forward = (await api('POST', '/proxies', { name: 'echo', upstream: `127.0.0.1:${echo}` })).json as { listen: string };
  const viaForward = await liveLatency(t, instance, 'echo', Number(forward.listen.split(':')[1]));
  const viaService = await liveLatency(t, instance, `web.default:${servicePort}`, servicePort);
  t.equal(instance.faults.liveConnections, 2, 'both connections are registered while open');
  viaForward.end();
  viaService.end();
  await eventually(() => instance.faults.liveConnections === 0, 'the registrations to go with the connections');
});

t.test('toxiproxy-node-client: latency added to a Service port reaches the connection opened before it; update and remove too', async (t) => {
  const echo = await startEchoServer(t);
  const servicePort = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', servicePort, [echo]) });
  const instance = await startInstance(t, dir, { toxiproxy: { host: '127.0.0.1', port: 0 } });
  const client = new Toxiproxy(`http://127.0.0.1:${instance.toxiproxyPort}`);
  const pool = await dialTo(t, servicePort); // "the DB pool", opened before any toxic
  const base = await medianRoundTrip(pool);
  const proxy = await client.get(`web.default:${servicePort}`);
  const toxic = await proxy.addToxic({ name: 'lag', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 100, jitter: 0 } });
  const slowed = await added(pool, base);
  t.ok(slowed >= 90 && slowed <= 110, `the open connection has ${slowed.toFixed(1)} ms more (90-110)`);
  const updated = await toxic.update({ attributes: { latency: 50 }, toxicity: 1 } as never);
  t.same(updated.attributes, { latency: 50, jitter: 0 });
  const less = await added(pool, base);
  t.ok(less >= 45 && less <= 55, `after the client's update, ${less.toFixed(1)} ms more (45-55)`);
  await updated.remove();
  const after = await added(pool, base);
  t.ok(after < 20, `after the client removed it, ${after.toFixed(1)} ms more (< 20)`);
});

t.test('with the API on, Service port connections stay off the native pump; with it off they are handed to it', { skip: skipWithoutNative() }, async (t) => {
  const native = nativePump;
  if (native === undefined) throw new Error('unreachable: skipped without the native pump');
  const echo = await startEchoServer(t);
  const servicePort = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', servicePort, [echo]) });
  const withApi = await startInstance(t, dir, { toxiproxy: { host: '127.0.0.1', port: 0 } });
  t.equal(withApi.nativePump, native, 'the instance runs the native pump');
  const before = native.counts.handedOff;
  const socket = await dialTo(t, servicePort);
  t.ok((await roundTripMs(socket, 'hello')) >= 0, 'the connection works');
  t.equal(native.counts.handedOff, before, 'not handed to the native pump: the API may add a toxic to it');
  t.equal(withApi.faults.liveConnections, 1, 'registered with the fault table');
  socket.destroy();
  await eventually(() => withApi.faults.liveConnections === 0, 'the registration to go when the connection ends');
  await withApi.stop();

  const otherPort = await freePort();
  const otherDir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', otherPort, [echo]) });
  const withoutApi = await startInstance(t, otherDir);
  const plain = await dialTo(t, otherPort);
  t.ok((await roundTripMs(plain, 'hello')) >= 0, 'the connection works');
  await eventually(() => native.counts.handedOff === before + 1, 'the connection to be handed to the native pump');
  t.equal(withoutApi.faults.liveConnections, 0, 'nothing registered without the API');
});
