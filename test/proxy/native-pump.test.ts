/**
 * The hand-off from node:net to the native splice pump, and what only the
 * native pump has (pipe pool, shared counters, abort-all). The pump contract
 * itself (half-close, resets, backpressure, timeouts) runs against both pumps
 * in pump.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import t from 'tap';
import { immediateEpollDelete, NativePump } from '../../src/proxy/native-pump.js';
import { loadSpliceAddon } from '../../src/native/splice-addon.js';
import { dialTo, eventually, readAll, startEchoServer, startServer } from '../helpers/net.js';
import { nativePump, skipWithoutNative } from '../helpers/native.js';
import { startPumpProxy } from '../helpers/pump-proxy.js';

const skip = skipWithoutNative();
const native = nativePump as NativePump; // only used by tests that run when it exists

/** Resolves once `socket` holds at least `bytes` read bytes in its buffer, without consuming them. */
async function buffered(socket: Socket, bytes: number): Promise<void> {
  // A 'readable' listener makes Node read into the buffer without flowing; removing it keeps the bytes there.
  const onReadable = (): void => undefined;
  socket.on('readable', onReadable);
  await eventually(() => socket.readableLength >= bytes || socket.readableEnded, 'bytes to be read into the buffer');
  socket.removeListener('readable', onReadable);
}

t.test('loading off Linux gives the reason and no addon', async (t) => {
  const loaded = loadSpliceAddon('darwin');
  t.equal(loaded.addon, undefined);
  t.match(loaded, { reason: /Linux-only; this is darwin/ });
});

t.test('libuv 1.49 and later delete a closed fd from epoll at once', async (t) => {
  t.equal(immediateEpollDelete('1.48.0'), false);
  t.equal(immediateEpollDelete('1.49.0'), true);
  t.equal(immediateEpollDelete('1.52.1'), true);
  t.equal(immediateEpollDelete('2.0.0'), true);
});

t.test('a pair is handed off and 16 MiB each way arrive intact; the JS sockets are gone', { skip }, async (t) => {
  const upstream = await startEchoServer(t);
  let handedDown: Socket | undefined;
  const proxy = await startPumpProxy(t, upstream, { native, beforeHandOff: (down) => void (handedDown = down) });
  const client = await dialTo(t, proxy.port);
  const sent = createHash('sha256');
  const received = createHash('sha256');
  let got = 0;
  client.on('data', (c: Buffer) => {
    received.update(c);
    got += c.length;
  });
  const closed = once(client, 'close');
  for (let i = 0; i < 16; i++) {
    const chunk = randomBytes(1024 * 1024);
    sent.update(chunk);
    if (!client.write(chunk)) await once(client, 'drain');
  }
  await eventually(() => proxy.carriers.size === 1, 'the hand-off');
  const carrier = [...proxy.carriers][0];
  await eventually(() => (carrier?.bytes().fromDownstream ?? 0) > 0, 'live byte counts to move while the connection is open');
  t.ok(handedDown?.destroyed, 'the JS socket of a handed-off connection is destroyed');
  client.end();
  await closed;
  t.equal(got, 16 * 1024 * 1024);
  t.equal(received.digest('hex'), sent.digest('hex'));
  await eventually(() => proxy.finished.length === 1, 'the end to be reported');
  t.match(proxy.finished[0], {
    pump: 'native',
    result: { end: 'client_fin', errorCode: '', bytesFromDownstream: 16 * 1024 * 1024, bytesFromUpstream: 16 * 1024 * 1024 },
  });
  t.same(carrier?.bytes(), { fromDownstream: 16 * 1024 * 1024, fromUpstream: 16 * 1024 * 1024 }, 'final counts stay readable');
});

t.test('bytes Node read before the hand-off are forwarded first, in order, and counted', { skip }, async (t) => {
  let upstreamGot = '';
  const upstream = await startServer(t, (s) => {
    s.write('banner;'); // read into Node's buffer of the upstream socket before the hand-off
    s.on('data', (c: Buffer) => {
      upstreamGot += c.toString();
      if (upstreamGot === 'early;late') s.end('bye');
    });
  });
  let client: Socket | undefined;
  const proxy = await startPumpProxy(t, upstream, {
    native,
    beforeHandOff: async (down, up) => {
      client?.write('early;');
      await buffered(down, 6);
      await buffered(up, 7);
    },
  });
  client = await dialTo(t, proxy.port);
  const outcome = readAll(client);
  await eventually(() => proxy.carriers.size === 1, 'the hand-off');
  client.end('late');
  t.same(await outcome, { data: Buffer.from('banner;bye'), error: '' });
  t.equal(upstreamGot, 'early;late');
  await eventually(() => proxy.finished.length === 1, 'the end to be reported');
  t.match(proxy.finished[0], { pump: 'native', result: { bytesFromDownstream: 10, bytesFromUpstream: 10 } });
});

t.test('a client that sends and closes before the hand-off: its bytes and its FIN arrive', { skip }, async (t) => {
  const upstream = await startServer(t, (s) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => s.end(`reply to ${Buffer.concat(chunks).toString()}`));
  });
  let requestSent: Promise<void> = Promise.resolve();
  const proxy = await startPumpProxy(t, upstream, {
    native,
    beforeHandOff: async (down) => {
      await requestSent;
      await buffered(down, 7); // Node has read the bytes (and maybe the FIN) already
    },
  });
  const client = await dialTo(t, proxy.port);
  const outcome = readAll(client);
  requestSent = new Promise((resolve) => client.end('request', resolve));
  t.same(await outcome, { data: Buffer.from('reply to request'), error: '' });
  await eventually(() => proxy.finished.length === 1, 'the end to be reported');
  t.match(proxy.finished[0], { pump: 'native', result: { end: 'client_fin' } });
});

t.test('a client reset during the hand-off resets the upstream; nothing leaks', { skip }, async (t) => {
  let upstreamSocket: Socket | undefined;
  let upstreamEnd: Promise<string> = Promise.resolve('no connection');
  const upstream = await startServer(t, (s) => {
    upstreamSocket = s;
    upstreamEnd = new Promise((resolve) => {
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? ''));
      s.on('close', () => resolve('closed without error'));
    });
  });
  const before = native.threadStats().connections;
  let client: Socket | undefined;
  const proxy = await startPumpProxy(t, upstream, {
    native,
    beforeHandOff: async () => {
      client?.resetAndDestroy(); // on loopback the RST has reached the proxy's socket when close() returns
      if (client !== undefined) await once(client, 'close');
    },
  });
  client = await dialTo(t, proxy.port);
  await eventually(() => proxy.finished.length === 1, 'the end to be reported');
  t.match(proxy.finished[0], { pump: 'native', result: { end: 'client_reset' } });
  t.equal(await upstreamEnd, 'ECONNRESET', 'the endpoint is reset');
  t.ok(upstreamSocket?.destroyed);
  await eventually(() => native.threadStats().connections === before, 'the addon to let go');
  t.equal(proxy.carriers.size, 0);
});

t.test('an idle held connection holds no pipe; a stalled one holds at most one per direction', { skip }, async (t) => {
  const stall = { paused: false };
  const upstream = await startServer(t, (s) => {
    s.on('data', (c: Buffer) => {
      if (c.toString() === 'flood') {
        const block = Buffer.alloc(1024 * 1024, 1);
        const more = (): void => {
          while (s.write(block));
          stall.paused = true;
          s.once('drain', more);
        };
        more();
      } else s.write(c);
    });
    s.on('end', () => s.end());
  });
  const proxy = await startPumpProxy(t, upstream, { native });
  const idle = await dialTo(t, proxy.port);
  idle.write('ping');
  await once(idle, 'data');
  await eventually(() => proxy.carriers.size === 1, 'the hand-off');
  const stats = native.threadStats();
  t.equal(stats.pipes - stats.sparePipes, 0, 'no pipe is in use while the connection idles');
  t.ok(stats.sparePipes <= native.limits.maxSparePipes, 'spare pipes are bounded');

  const stalled = await dialTo(t, proxy.port);
  stalled.pause(); // never reads: the endpoint's bytes back up into the proxy
  stalled.write('flood');
  await eventually(() => stall.paused, 'the endpoint to be held back', 10_000);
  const held = native.threadStats();
  t.ok(held.pipes - held.sparePipes <= 1, `a stalled direction holds one pipe (${held.pipes - held.sparePipes} in use)`);
  stalled.destroy();
  idle.end();
  await eventually(() => native.threadStats().connections === 0, 'both connections to end');
  const after = native.threadStats();
  t.equal(after.pipes - after.sparePipes, 0, 'every pipe is back or closed');
});

t.test('abortAll resets every natively pumped connection, each reported as a drain reset', { skip }, async (t) => {
  const upstream = await startEchoServer(t);
  const proxy = await startPumpProxy(t, upstream, { native });
  const a = await dialTo(t, proxy.port);
  const b = await dialTo(t, proxy.port);
  const outcomes = [readAll(a), readAll(b)];
  await eventually(() => proxy.carriers.size === 2, 'both hand-offs');
  native.abortAll();
  const [oa, ob] = await Promise.all(outcomes);
  t.equal(oa?.error, 'ECONNRESET');
  t.equal(ob?.error, 'ECONNRESET');
  await eventually(() => proxy.finished.length === 2, 'both ends reported');
  t.same(
    proxy.finished.map((f) => f.pump === 'native' && f.result.end),
    ['drain', 'drain'],
  );
});

t.test('one carrier aborted resets that connection only', { skip }, async (t) => {
  const upstream = await startEchoServer(t);
  const proxy = await startPumpProxy(t, upstream, { native });
  const a = await dialTo(t, proxy.port);
  await eventually(() => proxy.carriers.size === 1, 'the first hand-off');
  const first = [...proxy.carriers][0];
  const b = await dialTo(t, proxy.port);
  await eventually(() => proxy.carriers.size === 2, 'the second hand-off');
  const outcomeA = readAll(a);
  first?.abort();
  t.equal((await outcomeA).error, 'ECONNRESET');
  b.write('still here');
  const [echoed] = (await once(b, 'data')) as [Buffer];
  t.equal(echoed.toString(), 'still here');
  t.ok(first?.ended);
  first?.abort(); // after the end: nothing to do
});

t.test('idle and half-close timeouts close natively pumped pairs', { skip }, async (t) => {
  const upstream = await startServer(t, (s) => s.resume()); // reads, never answers, never closes
  const proxy = await startPumpProxy(t, upstream, { native, options: { idleTimeoutMs: 150, halfCloseTimeoutMs: 60_000 } });
  const idle = await dialTo(t, proxy.port);
  idle.on('end', () => idle.end()); // half-open client: answer the proxy's FIN so the socket closes
  t.same(await readAll(idle), { data: Buffer.alloc(0), error: '' }, 'closed cleanly after the idle timeout');
  const proxy2 = await startPumpProxy(t, upstream, { native, options: { idleTimeoutMs: 0, halfCloseTimeoutMs: 150 } });
  const half = await dialTo(t, proxy2.port);
  const outcome = readAll(half);
  half.end('bye');
  t.same(await outcome, { data: Buffer.alloc(0), error: '' });
  await eventually(() => proxy.finished.length === 1 && proxy2.finished.length === 1, 'both ends reported');
  t.match(proxy.finished[0], { pump: 'native', result: { end: 'idle_timeout' } });
  t.match(proxy2.finished[0], { pump: 'native', result: { end: 'half_close_timeout', bytesFromDownstream: 3 } });
});
