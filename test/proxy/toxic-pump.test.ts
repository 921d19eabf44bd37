/**
 * Each toxic measured on the wire: real sockets on loopback through a
 * ServicePortProxy whose FaultTable holds the toxic. The assertions are
 * about the effect of a toxic (with generous, stated bounds for a busy
 * 2-core machine), never about svcproxy's speed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import t from 'tap';
import { NativePump } from '../../src/proxy/native-pump.js';
import { HOLD_CAP } from '../../src/proxy/toxic-pump.js';
import { fakeAddon } from '../helpers/fake-addon.js';
import { median, roundTripMs, tableWith, toxic } from '../helpers/faults.js';
import { dialTo, eventually, readAll, startEchoServer, startServer } from '../helpers/net.js';
import { endpoint, startServicePort } from '../helpers/proxy.js';

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads until the server's FIN, answers it with ours, and returns what came and how it closed. */
function receiveAll(client: Socket): ReturnType<typeof readAll> {
  client.on('end', () => client.end());
  return readAll(client);
}

/** A server that sends `payload` and ends as soon as a client connects. */
function startSender(t: Parameters<typeof startServer>[0], payload: Buffer): Promise<number> {
  return startServer(t, (s) => s.end(payload));
}

t.test('latency: the median added round trip is the setting within ±10% (100 ms, jitter 0)', async (t) => {
  const echo = await startEchoServer(t);
  const plain = await startServicePort(t, [endpoint(echo)]);
  const slow = await startServicePort(t, [endpoint(echo)], {}, undefined, { faults: tableWith([toxic('latency', { latency: 100 })]) });
  const base: number[] = [];
  const delayed: number[] = [];
  const late: number[] = [];
  const client0 = await dialTo(t, plain.port);
  const client = await dialTo(t, slow.port);
  // Plain and delayed round trips in turn, so that both see the same load; beside each delayed one, a 100 ms timer of
  // this process says how late timers fire right now (about 1 ms on an idle machine, far more on a loaded one).
  for (let i = 0; i < 15; i++) {
    base.push(await roundTripMs(client0));
    const since = performance.now();
    const timer = new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - since - 100), 100));
    delayed.push(await roundTripMs(client));
    late.push(await timer);
  }
  const added = median(delayed) - median(base);
  const slack = Math.max(0, median(late));
  t.ok(Math.min(...delayed) >= 99, `every delayed round trip takes the whole setting (shortest ${Math.min(...delayed).toFixed(1)} ms)`);
  t.ok(
    added >= 90 && added <= 110 + slack,
    `median added latency ${added.toFixed(1)} ms is within 90-110 ms (+ ${slack.toFixed(1)} ms the machine's timers are late)`,
  );
});

t.test('latency with jitter: every added delay stays within latency ± jitter (plus scheduling slack)', async (t) => {
  const echo = await startEchoServer(t);
  const slow = await startServicePort(t, [endpoint(echo)], {}, undefined, { faults: tableWith([toxic('latency', { latency: 60, jitter: 30 })]) });
  const client = await dialTo(t, slow.port);
  const samples: number[] = [];
  for (let i = 0; i < 12; i++) samples.push(await roundTripMs(client));
  t.ok(Math.min(...samples) >= 29, `shortest ${Math.min(...samples).toFixed(1)} ms >= 30 ms - 1`);
  t.ok(new Set(samples.map((s) => Math.round(s / 5))).size > 1, 'jitter makes the delays differ');
});

t.test('bandwidth: 20 MB arrive at the set rate within ±10% (10,000 KB/s)', async (t) => {
  const size = 20_000_000;
  const payload = randomBytes(size);
  const sender = await startSender(t, payload);
  // How long the toxic pump takes for the same bytes with a toxic that adds nothing (latency 0), right now: the
  // machine's own slowness, which the lower bound allows for.
  const plain = await startServicePort(t, [endpoint(sender)], {}, undefined, { faults: tableWith([toxic('latency', { latency: 0 })]) });
  const plainStarted = performance.now();
  t.equal((await receiveAll(await dialTo(t, plain.port))).data.length, size);
  const plainSeconds = (performance.now() - plainStarted) / 1000;
  const { port } = await startServicePort(t, [endpoint(sender)], {}, undefined, { faults: tableWith([toxic('bandwidth', { rate: 10_000 })]) });
  const client = await dialTo(t, port);
  let started = 0;
  client.once('data', () => (started = performance.now()));
  const outcome = await receiveAll(client);
  // From the first byte to the end: the first piece leaves after its own share of time (65,536 B at 10 KB/ms = 6.5 ms).
  const seconds = (performance.now() - started + 6.5) / 1000;
  t.equal(outcome.data.length, size, 'every byte arrives');
  t.equal(sha256(outcome.data), sha256(payload), 'in order');
  const rateKBs = size / 1000 / seconds;
  // Never above the rate; below it only by what the pump itself needs right now (tens of ms on an idle machine).
  const slowest = size / 1000 / (size / 9_000_000 + plainSeconds);
  t.ok(
    rateKBs >= slowest && rateKBs <= 11_000,
    `measured ${rateKBs.toFixed(0)} KB/s within ${slowest.toFixed(0)}-11,000 KB/s (9,000 less the pump's own ${(plainSeconds * 1000).toFixed(0)} ms)`,
  );
});

t.test('slicer: every byte in order (sha256), in many small writes', async (t) => {
  const payload = randomBytes(64 * 1024);
  const sender = await startSender(t, payload);
  const { port } = await startServicePort(t, [endpoint(sender)], {}, undefined, {
    faults: tableWith([toxic('slicer', { average_size: 512, size_variation: 256, delay: 1000 })]),
  });
  const dialled = performance.now(); // the sender writes once the proxy has dialled it, after this
  const client = await dialTo(t, port);
  let reads = 0;
  client.on('data', () => reads++);
  const outcome = await receiveAll(client);
  const spreadMs = performance.now() - dialled;
  t.equal(sha256(outcome.data), sha256(payload), 'the same bytes in the same order');
  // A loaded reader reads many slices at once, so count time, not reads: pieces of at most 768 B leave 1 ms apart,
  // so 64 KiB take at least 85 ms from the send (the plain pump: about 1 ms).
  t.ok(reads >= 2 && spreadMs >= 85, `arrived in ${reads} reads, ${spreadMs.toFixed(0)} ms after the send`);
});

t.test('slicer on the upstream stream: the backend gets the client bytes intact, in pieces', async (t) => {
  const payload = randomBytes(32 * 1024);
  let reads = 0;
  const chunks: Buffer[] = [];
  let ended = false;
  const backend = await startServer(t, (s) => {
    s.on('data', (c: Buffer) => {
      reads++;
      chunks.push(c);
    });
    s.on('end', () => {
      ended = true;
      s.end();
    });
  });
  const { port } = await startServicePort(t, [endpoint(backend)], {}, undefined, {
    faults: tableWith([toxic('slicer', { average_size: 256, delay: 1000 }, { stream: 'upstream' })]),
  });
  const client = await dialTo(t, port);
  const sent = performance.now();
  client.end(payload);
  await eventually(() => ended, 'the backend to get the end of the stream', 10_000);
  const spreadMs = performance.now() - sent;
  t.equal(sha256(Buffer.concat(chunks)), sha256(payload));
  // Time, not reads (a loaded reader takes many slices at once): 128 pieces of 256 B leave 1 ms apart.
  t.ok(reads >= 2 && spreadMs >= 127, `the backend read ${reads} times, ${spreadMs.toFixed(0)} ms after the send`);
});

t.test('limit_data: the client gets exactly N bytes, then the connection closes', async (t) => {
  const payload = randomBytes(200_000);
  const sender = await startSender(t, payload);
  const { port, proxy } = await startServicePort(t, [endpoint(sender)], {}, undefined, { faults: tableWith([toxic('limit_data', { bytes: 1000 })]) });
  const client = await dialTo(t, port);
  const outcome = await receiveAll(client);
  t.equal(outcome.data.length, 1000, 'exactly 1000 bytes');
  t.same(outcome.data, payload.subarray(0, 1000), 'the first 1000');
  t.equal(outcome.error, '', 'a clean close, not a reset');
  await eventually(() => proxy.stats.active === 0, 'the connection to end');
});

t.test('reset_peer: the client gets ECONNRESET after its first data', async (t) => {
  const echo = await startEchoServer(t);
  const { port } = await startServicePort(t, [endpoint(echo)], {}, undefined, {
    faults: tableWith([toxic('reset_peer', { timeout: 20 }, { stream: 'upstream' })]),
  });
  const client = await dialTo(t, port);
  const outcome = readAll(client);
  client.write('hello');
  const result = await outcome;
  t.equal(result.error, 'ECONNRESET');
  t.equal(result.data.length, 0, 'the data never reached the echo server');
});

t.test('timeout: nothing passes, then the connection closes after the timeout', async (t) => {
  const sender = await startSender(t, Buffer.from('hello'));
  const table = tableWith([toxic('timeout', { timeout: 300 })]);
  const { port } = await startServicePort(t, [endpoint(sender)], {}, undefined, { faults: table });
  const started = performance.now();
  const client = await dialTo(t, port);
  const outcome = await receiveAll(client);
  const elapsed = performance.now() - started;
  t.equal(outcome.data.length, 0, 'the stalled data never arrives');
  t.ok(elapsed >= 280, `closed after ${elapsed.toFixed(0)} ms, not before the 300 ms timeout`);
  const entry = table.counterEntries()[0];
  t.equal(entry?.counters.droppedBytes, 5, 'the held bytes are counted as dropped');
  t.equal(entry?.counters.heldBytes, 0, 'and no longer held');
});

t.test('slow_close: data passes at once, the FIN waits', async (t) => {
  const sender = await startSender(t, Buffer.from('hello'));
  const { port } = await startServicePort(t, [endpoint(sender)], {}, undefined, { faults: tableWith([toxic('slow_close', { delay: 300 })]) });
  const started = performance.now();
  const client = await dialTo(t, port);
  const [first] = (await once(client, 'data')) as [Buffer];
  const dataAt = performance.now() - started;
  await once(client, 'end');
  const endAt = performance.now() - started;
  client.end();
  t.equal(first.toString(), 'hello');
  t.ok(endAt - dataAt >= 280, `the end came ${(endAt - dataAt).toFixed(0)} ms after the data`);
});

t.test('removing a toxic from a live connection releases what it held, in order, nothing lost', async (t) => {
  const payload = randomBytes(3 * HOLD_CAP);
  const received: Buffer[] = [];
  let backendSocket: Socket | undefined;
  const backend = await startServer(t, (s) => {
    backendSocket = s;
    s.on('data', (c: Buffer) => received.push(c));
  });
  const table = tableWith([toxic('timeout', { timeout: 0 }, { stream: 'upstream' })]);
  const { port } = await startServicePort(t, [endpoint(backend)], {}, undefined, { faults: table });
  const client = await dialTo(t, port);
  client.write(payload);
  const counters = () => table.counterEntries()[0]?.counters;
  await eventually(() => (counters()?.heldBytes ?? 0) > 0 && backendSocket !== undefined, 'the toxic to hold data');
  await eventually(() => (counters()?.heldBytes ?? 0) >= HOLD_CAP - 65536, 'the hold to reach its cap');
  t.equal(Buffer.concat(received).length, 0, 'nothing passed while the toxic stood');
  t.ok((counters()?.heldBytes ?? 0) <= HOLD_CAP + 65536, `held ${counters()?.heldBytes} bytes: capped`);
  table.setDeclared([], Date.now()); // the fault is removed from the config
  await eventually(() => Buffer.concat(received).length === payload.length, 'every byte to reach the backend', 10_000);
  t.equal(sha256(Buffer.concat(received)), sha256(payload), 'in order');
  t.equal(counters()?.heldBytes, 0);
});

t.test('a timeout: 0 toxic holding many connections holds a capped amount per connection, and gives it all back when removed', async (t) => {
  let received = 0;
  const backend = await startServer(t, (s) => {
    s.on('data', (c: Buffer) => (received += c.length));
    s.on('end', () => s.end());
  });
  const table = tableWith([toxic('timeout', { timeout: 0 }, { stream: 'upstream' })]);
  const { port, proxy } = await startServicePort(t, [endpoint(backend)], {}, undefined, { faults: table });
  const connections = 100;
  const payload = Buffer.alloc(1024 * 1024, 7); // 1 MiB each: 100 MiB held if nothing were capped
  const clients: Socket[] = [];
  for (let i = 0; i < connections; i++) {
    const c = await dialTo(t, port);
    c.on('error', () => undefined);
    c.write(payload);
    clients.push(c);
  }
  const held = () => table.counterEntries()[0]?.counters.heldBytes ?? 0;
  await eventually(() => proxy.stats.active === connections && held() >= connections * (HOLD_CAP - 65536), 'every connection to stall at its cap', 30_000);
  t.ok(held() <= connections * (HOLD_CAP + 65536), `${held()} bytes held for ${connections} connections: at most the cap each`);
  t.equal(received, 0, 'nothing passed');
  table.setDeclared([], Date.now());
  await eventually(() => received === connections * payload.length, 'every byte to reach the backend once the toxic is gone', 60_000);
  t.equal(held(), 0, 'nothing held any more');
  for (const c of clients) c.end();
  await eventually(() => proxy.stats.active === 0, 'the connections to end', 30_000);
});

t.test('the lease records the toxics a connection met (and none for one that met none)', async (t) => {
  const sender = await startSender(t, Buffer.from('hello'));
  const ended: Array<{ toxics: readonly string[]; termination: string | undefined; bytes: number }> = [];
  const table = tableWith([toxic('latency', { latency: 1 }), toxic('limit_data', { bytes: 2 }, { stream: 'downstream', name: 'cut' })]);
  const { port } = await startServicePort(t, [endpoint(sender)], {}, undefined, {
    faults: table,
    onLeaseEnd: (lease) => ended.push({ toxics: lease.toxics, termination: lease.termination, bytes: lease.bytes.fromUpstream }),
  });
  t.equal((await receiveAll(await dialTo(t, port))).data.toString(), 'he');
  await eventually(() => ended.length === 1, 'the lease to end');
  t.same(ended[0], { toxics: ['latency_downstream', 'cut'], termination: 'endpoint_fin', bytes: 5 });
  table.setDeclared([], Date.now());
  t.equal((await receiveAll(await dialTo(t, port))).data.toString(), 'hello');
  await eventually(() => ended.length === 2, 'the second lease to end');
  t.same(ended[1]?.toxics, [], 'no toxics: the plain pump');
});

t.test('the drain deadline aborts a connection held by a toxic', async (t) => {
  const backend = await startServer(t, () => undefined);
  const table = tableWith([toxic('timeout', { timeout: 0 }, { stream: 'upstream' })]);
  const { port, proxy, tracker } = await startServicePort(t, [endpoint(backend)], {}, undefined, { faults: table });
  const client = await dialTo(t, port);
  const outcome = readAll(client);
  client.write('stuck');
  await eventually(() => (table.counterEntries()[0]?.counters.heldBytes ?? 0) === 5, 'the toxic to hold the bytes');
  tracker.resetAll();
  t.equal((await outcome).error, 'ECONNRESET');
  await eventually(() => proxy.stats.active === 0, 'the lease to end');
  t.equal(proxy.stats.closed.drain, 1, 'ended as drain');
});

t.test('toxicity 0: no connection gets the toxic, and it runs on the plain pump', async (t) => {
  const echo = await startEchoServer(t);
  const table = tableWith([toxic('limit_data', { bytes: 0 }, { toxicity: 0 })]);
  const { port } = await startServicePort(t, [endpoint(echo)], {}, undefined, { faults: table });
  const client = await dialTo(t, port);
  t.ok((await roundTripMs(client, 'ping')) >= 0, 'the echo came back');
  t.same(table.counterEntries(), [], 'no application counted');
});

t.test('with a native pump available, a connection with toxics stays on the toxic pump; one without goes native', async (t) => {
  const { addon, adopted, end } = fakeAddon();
  const native = new NativePump(addon, { slots: 4, maxPipes: 4, maxSparePipes: 1 });
  const sender = await startSender(t, Buffer.from('hello'));
  const table = tableWith([toxic('limit_data', { bytes: 2 })]);
  const { port } = await startServicePort(t, [endpoint(sender)], { nativePump: native }, undefined, { faults: table });
  t.equal((await receiveAll(await dialTo(t, port))).data.toString(), 'he', 'the toxic acted');
  t.same(adopted, [], 'the native pump was not given the leased connection with toxics');
  table.setDeclared([], Date.now());
  const plain = await dialTo(t, port);
  await eventually(() => adopted.length === 1, 'the next connection (no toxics) to be handed to the native pump');
  end(adopted[0] as number, 0, 5);
  plain.destroy();
});
