/**
 * Nothing pinned forever. A reader paused by backpressure is not polled by
 * libuv, so before issue 11 a client that reset while its endpoint had
 * stopped reading went unseen and both sockets stayed open for good (with the
 * default idle timeout, 0). The pump probes paused sockets every
 * PAUSED_PROBE_MS; TCP keepalive on both sockets covers a peer that vanished
 * while idle. The native pump (run here too) watches both sockets for errors
 * all along (EPOLLERR), paused or not. The toxic pump (every connection's
 * while the toxiproxy API is on) probes its paused readers as the JS pump does.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import t from 'tap';
import { PAUSED_PROBE_MS } from '../../src/proxy/pump.js';
import { FaultTable } from '../../src/faults/fault-table.js';
import type { NativePump } from '../../src/proxy/native-pump.js';
import { dialTo, eventually, startServer } from '../helpers/net.js';
import { nativePump, PUMPS, skipWithoutNative } from '../helpers/native.js';
import { endpoint, startServicePort } from '../helpers/proxy.js';

const run = promisify(execFile);

/** The `ss -tnoH` line of the socket with exactly this local and peer address (both ends of a loopback pair are listed). */
async function ssLine(local: string, peer: string): Promise<string | undefined> {
  const { stdout } = await run('ss', ['-tnoH', 'state', 'established']);
  return stdout.split('\n').find((l) => {
    const [, , localColumn, peerColumn] = l.trim().split(/\s+/);
    return localColumn === local && peerColumn === peer;
  });
}

for (const kind of [...PUMPS, 'toxic'] as const) {
  const skip = kind === 'native' ? skipWithoutNative() : false;
  t.test(`${kind} pump: a client that resets while the pump is paused by backpressure is noticed, and the endpoint is reset too`, { skip }, async (t) => {
    let upstreamSide: Socket | undefined;
    let upstreamEnd: (how: string) => void = () => undefined;
    const upstreamClosed = new Promise<string>((resolve) => (upstreamEnd = resolve));
    const upstreamPort = await startServer(t, (s) => {
      upstreamSide = s;
      s.pause(); // never reads: the proxy's writes to it fill every buffer
      s.on('error', (err: NodeJS.ErrnoException) => upstreamEnd(err.code ?? 'error'));
      s.on('close', () => upstreamEnd('closed'));
    });
    const faults = new FaultTable();
    if (kind === 'toxic') faults.enableApi(); // no toxic: an empty chain, as every connection has with the API on
    const { port, proxy, tracker } = await startServicePort(
      t,
      [endpoint(upstreamPort)],
      kind === 'native' ? { nativePump: nativePump as NativePump } : {},
      undefined,
      { faults },
    );
    const client = await dialTo(t, port);
    const chunk = Buffer.alloc(256 * 1024, 1);
    // Write until the pump is paused by backpressure (an awaited state, not "no drain within N ms", which a busy
    // machine fakes): the JS and toxic pumps pause their reader of the client with bytes queued for the endpoint;
    // the native pump's pipe holds bytes the endpoint will not take.
    const paused = (): boolean => {
      if (kind === 'native') {
        const stats = nativePump?.threadStats();
        return stats !== undefined && stats.pipes - stats.sparePipes > 0;
      }
      const lease = [...tracker.leases][0];
      return lease?.downstream?.isPaused() === true && (lease.upstream?.writableLength ?? 0) > 0;
    };
    let stalled = false;
    for (let i = 0; i < 400 && !stalled; i++) {
      if (!client.write(chunk)) {
        let drained = false;
        client.once('drain', () => (drained = true));
        await eventually(() => drained || paused(), 'the client to drain or the pump to pause', 30_000);
        stalled = !drained;
      }
    }
    t.ok(stalled, 'the path is stalled by backpressure');
    t.ok(upstreamSide !== undefined, 'the endpoint has its connection');
    t.equal(tracker.active, 1);
    client.resetAndDestroy();
    await eventually(() => tracker.active === 0, 'the proxy to notice the reset', PAUSED_PROBE_MS * 4);
    t.equal(proxy.stats.closed.client_reset, 1, 'counted as a client reset');
    upstreamSide?.resume(); // the test's own endpoint is paused too: it sees the reset once it reads
    t.equal(await upstreamClosed, 'ECONNRESET', 'the endpoint is reset, as with any client reset');
  });
}

t.test('TCP keepalive runs on both sockets of a proxied connection', async (t) => {
  const upstream = await startServer(t, (s) => s.pipe(s));
  const { port, tracker } = await startServicePort(t, [endpoint(upstream)], { keepAliveMs: 45_000 });
  const client = await dialTo(t, port);
  client.write('x');
  await once(client, 'data');
  const lease = [...tracker.leases][0];
  const downstreamPort = lease?.downstream?.remotePort;
  const upstreamLocal = lease?.upstream?.localPort;
  t.ok(downstreamPort !== undefined && upstreamLocal !== undefined, 'the lease holds both sockets');
  // ss shows the timer a socket has armed: keepalive, counting down from the 45 s idle time.
  const accepted = await ssLine(`127.0.0.1:${port}`, `127.0.0.1:${downstreamPort}`);
  const dialled = await ssLine(`127.0.0.1:${upstreamLocal}`, `127.0.0.1:${upstream}`);
  t.match(accepted, /timer:\(keepalive,/, 'the client-side socket');
  t.match(dialled, /timer:\(keepalive,/, 'the endpoint-side socket');
  client.end();
  await once(client, 'close');
});

t.test('--tcp-keepalive 0 turns keepalive off', async (t) => {
  const upstream = await startServer(t, (s) => s.pipe(s));
  const { port, tracker } = await startServicePort(t, [endpoint(upstream)], { keepAliveMs: 0 });
  const client = await dialTo(t, port);
  client.write('x');
  await once(client, 'data');
  const lease = [...tracker.leases][0];
  const accepted = await ssLine(`127.0.0.1:${port}`, `127.0.0.1:${lease?.downstream?.remotePort}`);
  t.ok(accepted !== undefined, 'the socket is listed');
  t.notMatch(accepted, /keepalive/);
  client.end();
  await once(client, 'close');
});
