import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import t, { type Test } from 'tap';
import { dialTo, eventually, readAll, startEchoServer, startServer } from '../helpers/net.js';
import { FaultTable } from '../../src/faults/fault-table.js';
import type { NativePump } from '../../src/proxy/native-pump.js';
import { nativePump, PUMPS, skipWithoutNative } from '../helpers/native.js';
import { endpoint, startServicePort } from '../helpers/proxy.js';

/** One pump under test: how the Service port is set up for it. */
interface PumpCase {
  readonly kind: (typeof PUMPS)[number] | 'toxic';
  readonly pumpOptions: { nativePump?: NativePump };
  readonly faults: FaultTable;
  readonly extra: { faults: FaultTable };
  readonly handedOffBefore: number;
}

/** The contract's cases, each a sentence and a test body run once per pump. */
const CASES: ReadonlyArray<readonly [string, (t: Test, c: PumpCase) => Promise<void>]> = [
  [
    'half-close: the client shuts its write side, the upstream replies after EOF, the client gets the reply',
    async (t, { pumpOptions, extra }) => {
      const upstream = await startServer(t, (s) => {
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('end', () => s.end(`reply to ${Buffer.concat(chunks).toString()}`));
      });
      const { port, proxy } = await startServicePort(t, [endpoint(upstream)], pumpOptions, undefined, extra);
      const client = await dialTo(t, port);
      const outcome = readAll(client);
      client.end('request');
      t.same(await outcome, { data: Buffer.from('reply to request'), error: '' });
      await eventually(() => proxy.stats.active === 0, 'the pair to close');
      t.equal(proxy.stats.bytesFromDownstream, 7);
      t.equal(proxy.stats.bytesFromUpstream, 16);
    },
  ],
  [
    'half-close the other way: the upstream finishes first, the client keeps sending',
    async (t, { pumpOptions, extra }) => {
      let upstreamGot = '';
      const upstream = await startServer(t, (s) => {
        s.write('banner');
        s.end(); // upstream FIN first
        s.on('data', (c: Buffer) => (upstreamGot += c.toString()));
      });
      const { port } = await startServicePort(t, [endpoint(upstream)], pumpOptions, undefined, extra);
      const client = await dialTo(t, port);
      const outcome = readAll(client);
      await once(client, 'end');
      client.end('late data');
      t.same(await outcome, { data: Buffer.from('banner'), error: '' });
      await eventually(() => upstreamGot === 'late data', 'the upstream to get the late data');
    },
  ],
  [
    'a reset by the upstream resets the client',
    async (t, { pumpOptions, extra }) => {
      const upstream = await startServer(t, (s) => {
        s.once('data', () => s.resetAndDestroy());
      });
      const { port } = await startServicePort(t, [endpoint(upstream)], pumpOptions, undefined, extra);
      const client = await dialTo(t, port);
      const outcome = readAll(client);
      client.write('x');
      t.equal((await outcome).error, 'ECONNRESET');
    },
  ],
  [
    'a reset by the client resets the upstream',
    async (t, { pumpOptions, extra }) => {
      let upstreamSocket: Socket | undefined;
      const upstreamError = new Promise<string>((resolve) => {
        void startServer(t, (s) => {
          upstreamSocket = s;
          s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? ''));
          s.on('close', () => resolve('closed without error'));
          s.write('hello');
        }).then(async (upstream) => {
          const { port } = await startServicePort(t, [endpoint(upstream)], pumpOptions, undefined, extra);
          const client = await dialTo(t, port);
          await once(client, 'data');
          client.resetAndDestroy();
        });
      });
      t.equal(await upstreamError, 'ECONNRESET');
      t.ok(upstreamSocket?.destroyed);
    },
  ],
  [
    '64 MiB each way arrive intact (sha256 compared)',
    async (t, { pumpOptions, extra }) => {
      const upstream = await startEchoServer(t);
      const { port, proxy } = await startServicePort(t, [endpoint(upstream)], pumpOptions, undefined, extra);
      const client = await dialTo(t, port);
      const block = randomBytes(1024 * 1024);
      const sent = createHash('sha256');
      const received = createHash('sha256');
      let receivedBytes = 0;
      client.on('data', (c: Buffer) => {
        received.update(c);
        receivedBytes += c.length;
      });
      const closed = once(client, 'close');
      for (let i = 0; i < 64; i++) {
        const chunk = Buffer.from(block);
        chunk.writeUInt32BE(i, 0); // every MiB differs, so a reordered or repeated block changes the hash
        sent.update(chunk);
        if (!client.write(chunk)) await once(client, 'drain');
      }
      client.end();
      await closed;
      t.equal(receivedBytes, 64 * 1024 * 1024);
      t.equal(received.digest('hex'), sent.digest('hex'));
      await eventually(() => proxy.stats.active === 0, 'the pair to close');
      t.equal(proxy.stats.bytesFromDownstream, 64 * 1024 * 1024);
      t.equal(proxy.stats.bytesFromUpstream, 64 * 1024 * 1024);
    },
  ],
  [
    'a pair left half-closed and idle is closed after the deadline',
    async (t, { pumpOptions, extra }) => {
      const upstream = await startServer(t, (s) => {
        s.resume(); // reads the FIN but never ends its own side
      });
      const { port, proxy, tracker } = await startServicePort(t, [endpoint(upstream)], { ...pumpOptions, halfCloseTimeoutMs: 200 }, undefined, extra);
      const client = await dialTo(t, port);
      const outcome = readAll(client);
      client.end('bye');
      t.same(await outcome, { data: Buffer.alloc(0), error: '' }, 'the proxy closes the client side cleanly');
      await eventually(() => proxy.stats.active === 0 && tracker.active === 0, 'both proxy sockets to be released');
      t.equal(proxy.stats.closed.half_close_timeout, 1, 'counted as a half-close timeout');
    },
  ],
  [
    'backpressure: a client that does not read holds the upstream back; nothing is lost',
    async (t, { kind, pumpOptions, faults, extra }) => {
      const total = 256 * 1024 * 1024;
      let written = 0;
      const upstream = await startServer(t, (s) => {
        const chunk = Buffer.alloc(64 * 1024, 7);
        const pumpMore = (): void => {
          while (written < total) {
            written += chunk.length;
            if (!s.write(chunk)) {
              s.once('drain', pumpMore);
              return;
            }
          }
          s.end();
        };
        pumpMore();
      });
      const { port, tracker } = await startServicePort(t, [endpoint(upstream)], pumpOptions, undefined, extra);
      const client = await dialTo(t, port);
      client.pause();
      // Wait until the upstream is blocked: what it managed to write stops growing.
      let last = -1;
      await eventually(
        () => {
          const stalled = written === last && written > 0;
          last = written;
          return stalled;
        },
        'the upstream to stall',
        10_000,
      );
      t.ok(written < 64 * 1024 * 1024, `the upstream stalled after ${written} bytes, far short of ${total}`);
      if (kind === 'toxic') t.equal(faults.liveConnections, 1, 'the connection is on the toxic pump, registered for API toxics');
      if (kind !== 'native') {
        for (const s of [...tracker.leases].flatMap((l) => [l.downstream, l.upstream])) {
          if (s === undefined) throw new Error('an open lease holds both sockets');
          t.equal(s.writableHighWaterMark, 64 * 1024, 'both sockets use the 64 KiB buffer size');
          t.ok(s.writableLength <= 1024 * 1024, `the proxy buffers at most 1 MiB per socket (${s.writableLength})`);
        }
      } else {
        t.same(
          [...tracker.leases].map((l) => [l.downstream, l.upstream]),
          [[undefined, undefined]],
          'no net.Socket is kept for the connection',
        );
        const { pipes, sparePipes } = (nativePump as NativePump).threadStats();
        t.ok(pipes - sparePipes <= 1, `the proxy holds at most one pipe (64 KiB) for the stalled direction (${pipes - sparePipes})`);
      }
      let got = 0;
      client.on('data', (c: Buffer) => (got += c.length));
      client.resume();
      await once(client, 'end');
      t.equal(got, total);
    },
  ],
  [
    'the connections above were carried by this pump',
    async (t, { kind, handedOffBefore }) => {
      const handedOff = (nativePump?.counts.handedOff ?? 0) - handedOffBefore;
      if (kind === 'native') t.equal(handedOff, 7, 'every test connection was handed to the native pump');
      else if (kind === 'toxic') t.equal(handedOff, 0, 'with the toxiproxy API on, no connection was handed to the native pump');
      else t.equal(handedOff, 0, 'the JS pump runs alone without a native pump');
    },
  ],
];

/**
 * The pump contract, run against every pump: the JS pump, the native splice
 * pump (where it is built; CI requires it), and the toxic pump with an empty
 * chain, which carries every connection while the toxiproxy API is on (with
 * a native pump available, to show it is not given them). A native run also
 * checks that its connections were really handed off, so a silent fallback
 * to the JS pump cannot pass for the native pump.
 */
for (const kind of [...PUMPS, 'toxic'] as const) {
  const skip = kind === 'native' ? skipWithoutNative() : false;
  t.test(`${kind} pump`, { skip }, async (t) => {
    const faults = new FaultTable();
    if (kind === 'toxic') faults.enableApi();
    const c: PumpCase = {
      kind,
      pumpOptions: kind === 'js' || nativePump === undefined ? {} : { nativePump },
      faults,
      extra: { faults },
      handedOffBefore: nativePump?.counts.handedOff ?? 0,
    };
    for (const [name, run] of CASES) t.test(name, (t) => run(t, c));
  });
}
