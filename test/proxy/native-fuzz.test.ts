/**
 * A bounded fuzzing client against the native pump through a real Service
 * port: random chunk sizes (zero-length writes included), half-closes and
 * resets from either side at random points. Network input must never crash
 * the process or leak a descriptor, and a connection nobody reset must
 * deliver every byte. Deterministic: the seed is printed, and FUZZ_SEED
 * replays a run.
 */
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import t from 'tap';
import type { NativePump } from '../../src/proxy/native-pump.js';
import { eventually, startServer } from '../helpers/net.js';
import { nativePump, skipWithoutNative } from '../helpers/native.js';
import { endpoint, startServicePort } from '../helpers/proxy.js';
import { openFds } from '../helpers/pump-proxy.js';

const CONNECTIONS = 240;
const CONCURRENCY = 24;

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type UpstreamMove = 'echo' | 'reset_after_first' | 'fin_after_first';
type ClientEnd = 'fin' | 'reset_midway' | 'fin_then_reset';

interface Outcome {
  readonly clean: boolean;
  readonly sent: string;
  readonly received: string;
}

/** The upstream's behaviour for a connection, from the id the client sends first (4 bytes). */
function upstreamMove(id: number, seed: number): UpstreamMove {
  const r = random(seed ^ (id * 2654435761))();
  return r < 0.7 ? 'echo' : r < 0.85 ? 'reset_after_first' : 'fin_after_first';
}

function oneConnection(port: number, id: number, seed: number): Promise<Outcome> {
  const rnd = random(seed + id);
  const move = upstreamMove(id, seed);
  const end: ClientEnd = rnd() < 0.75 ? 'fin' : rnd() < 0.5 ? 'reset_midway' : 'fin_then_reset';
  const chunks = 1 + Math.floor(rnd() * 12);
  return new Promise((resolve) => {
    const socket: Socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const sent = createHash('sha256');
    const received = createHash('sha256');
    let errored = false;
    socket.on('error', () => (errored = true));
    socket.on('data', (c: Buffer) => received.update(c));
    socket.on('end', () => socket.end());
    socket.on('close', () => {
      const clean = !errored && move === 'echo' && end === 'fin';
      resolve({ clean, sent: sent.digest('hex'), received: received.digest('hex') });
    });
    socket.on('connect', () => {
      const id4 = Buffer.alloc(4);
      id4.writeUInt32BE(id);
      sent.update(id4);
      socket.write(id4);
      let i = 0;
      const writeNext = (): void => {
        if (socket.destroyed) return;
        if (i === chunks) {
          if (end === 'fin_then_reset') {
            socket.end();
            setImmediate(() => socket.resetAndDestroy());
          } else socket.end();
          return;
        }
        if (end === 'reset_midway' && i === Math.floor(chunks / 2)) {
          socket.resetAndDestroy();
          return;
        }
        i++;
        const size = rnd() < 0.2 ? 0 : Math.floor(rnd() * (rnd() < 0.1 ? 512 * 1024 : 4096));
        const chunk = Buffer.alloc(size, id & 0xff);
        sent.update(chunk);
        if (socket.write(chunk)) setImmediate(writeNext);
        else socket.once('drain', writeNext);
      };
      writeNext();
    });
  });
}

t.test(`fuzzing client: ${CONNECTIONS} connections, random half-closes, resets and zero-length writes`, { skip: skipWithoutNative() }, async (t) => {
  const native = nativePump as NativePump;
  const seed = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
  t.comment(`FUZZ_SEED=${seed}`);
  const upstream = await startServer(t, (s) => {
    let move: UpstreamMove | undefined;
    s.on('data', (c: Buffer) => {
      if (move === undefined && c.length >= 4) {
        move = upstreamMove(c.readUInt32BE(0), seed);
        if (move === 'reset_after_first') {
          s.resetAndDestroy();
          return;
        }
        if (move === 'fin_after_first') {
          s.end(c);
          return;
        }
      }
      if (move === 'echo' && !s.write(c)) {
        s.pause();
        s.once('drain', () => s.resume());
      }
    });
    s.on('end', () => {
      if (move !== 'fin_after_first') s.end();
    });
  });
  const { port, tracker } = await startServicePort(t, [endpoint(upstream)], { nativePump: native });
  const fdsBefore = openFds();
  const statsBefore = native.threadStats();
  const handedOffBefore = native.counts.handedOff;

  const outcomes: Outcome[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < CONNECTIONS) outcomes.push(await oneConnection(port, next++, seed));
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));

  t.equal(outcomes.length, CONNECTIONS);
  const clean = outcomes.filter((o) => o.clean);
  t.ok(clean.length > CONNECTIONS / 3, `most connections ran clean (${clean.length})`);
  t.same(clean.filter((o) => o.sent !== o.received).length, 0, 'every clean connection got back exactly what it sent');
  t.ok(native.counts.handedOff - handedOffBefore >= CONNECTIONS * 0.9, 'the connections went through the native pump');
  await eventually(() => tracker.active === 0 && native.threadStats().connections === statsBefore.connections, 'every connection to end', 20_000);
  const after = native.threadStats();
  t.equal(after.pipes - after.sparePipes, 0, 'no pipe is held');
  await eventually(() => openFds() - 2 * native.threadStats().pipes <= fdsBefore - 2 * statsBefore.pipes, 'no descriptor to be left behind', 10_000);
});
