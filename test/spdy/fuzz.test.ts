/**
 * Seeded fuzzing of the frame reader and the session behind it: random bytes, valid conversations mutated, cut,
 * with lying lengths, and split anywhere. The session must either work or close with a SpdyProtocolError; no
 * exception may leave it, and a closed session holds no streams. A failing case names its seed.
 */
import { Duplex } from 'node:stream';
import t from 'tap';
import { SpdyProtocolError } from '../../src/spdy/errors.js';
import {
  dataFrameHeader,
  encodeGoAway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynStream,
  encodeWindowUpdate,
  FLAG_FIN,
} from '../../src/spdy/frames.js';
import { encodeHeaderBlock, HeaderCompressor } from '../../src/spdy/header-block.js';
import { SpdySession } from '../../src/spdy/session.js';
import type { SpdyStream } from '../../src/spdy/stream.js';
import { random } from '../helpers/fuzz.js';

/** A transport in memory: what the session writes is counted and dropped; the test pushes the peer's bytes. */
class MemoryTransport extends Duplex {
  written = 0;
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.written += chunk.length;
    callback();
  }
}

interface Conversation {
  readonly bytes: Buffer;
  /** Per stream id, the DATA it carries. */
  readonly data: ReadonlyMap<number, string>;
}

/** A valid conversation from a peer whose streams have ids of `parity`. */
function conversation(rand: () => number, parity: number): Conversation {
  const compressor = new HeaderCompressor();
  const frames: Buffer[] = [];
  const data = new Map<number, string>();
  const streams = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < streams; i++) {
    const id = parity + 2 * i + (parity === 0 ? 2 : 0);
    frames.push(encodeSynStream(id, 0, compressor.compress(encodeHeaderBlock({ streamtype: 'data', n: String(i), pad: 'x'.repeat(Math.floor(rand() * 50)) }))));
    let body = '';
    for (let d = Math.floor(rand() * 4); d > 0; d--) {
      const piece = String(i).repeat(Math.floor(rand() * 300));
      body += piece;
      frames.push(dataFrameHeader(id, 0, piece.length), Buffer.from(piece));
    }
    const extras = [
      encodePing(1 - parity + 2 * i),
      encodeSettings([[4, 100]]),
      encodeWindowUpdate(id, 1000),
      encodeHeaders(id, 0, compressor.compress(encodeHeaderBlock({ a: 'b' }))),
    ];
    frames.push(extras[Math.floor(rand() * extras.length)] as Buffer);
    frames.push(dataFrameHeader(id, FLAG_FIN, 0));
    data.set(id, body);
  }
  if (rand() < 0.3) frames.push(encodeRstStream(parity === 1 ? 1 : 2, 5));
  if (rand() < 0.2) frames.push(encodeGoAway(0, 0));
  return { bytes: Buffer.concat(frames), data };
}

type Mode = 'valid' | 'random' | 'flip' | 'cut' | 'length' | 'splice';
const MODES: readonly Mode[] = ['valid', 'random', 'flip', 'cut', 'length', 'splice'];

function mangle(mode: Mode, base: Buffer, rand: () => number): Buffer {
  const at = Math.floor(rand() * base.length);
  switch (mode) {
    case 'valid':
      return base;
    case 'random':
      return Buffer.from(Array.from({ length: Math.floor(rand() * 2048) }, () => Math.floor(rand() * 256)));
    case 'flip': {
      const copy = Buffer.from(base);
      for (let n = 1 + Math.floor(rand() * 4); n > 0; n--) copy[Math.floor(rand() * copy.length)] = Math.floor(rand() * 256);
      return copy;
    }
    case 'cut':
      return base.subarray(0, at);
    case 'length': {
      // A frame length (bytes 5..7 of a header) set to anything: most lie.
      const copy = Buffer.from(base);
      const offset = Math.max(0, Math.min(copy.length - 3, at));
      copy.writeUIntBE(Math.floor(rand() * 0xffffff), offset, 3);
      return copy;
    }
    case 'splice':
      return Buffer.concat([base.subarray(0, at), base.subarray(Math.floor(rand() * base.length))]);
  }
}

interface Outcome {
  readonly closedWith: Error | undefined | 'open';
  readonly received: Map<number, string>;
  readonly openStreams: number;
}

/** Feeds the bytes in pieces, ends the transport, and reports how the session ended. */
async function run(role: 'client' | 'server', pieces: readonly Buffer[]): Promise<Outcome> {
  const transport = new MemoryTransport();
  const session = new SpdySession({ role, transport, limits: { maxControlFrameBytes: 4096, maxDataFrameBytes: 8192, maxHeaderBytes: 2048 } });
  let closedWith: Error | undefined | 'open' = 'open';
  session.on('close', (err: Error | undefined) => {
    closedWith = err;
  });
  const received = new Map<number, string>();
  session.on('stream', (s: SpdyStream) => {
    s.on('error', () => {});
    s.reply({ ok: '1' });
    let body = '';
    s.on('data', (c: Buffer) => {
      body += c.toString();
    });
    s.on('end', () => {
      received.set(s.id, body);
      s.end();
    });
  });
  // The session reads in flowing mode: a push is delivered synchronously.
  for (const piece of pieces) transport.push(piece);
  // 'end' on a stream comes a tick after its FIN.
  await new Promise((r) => setImmediate(r));
  const beforeEnd = closedWith;
  transport.push(null);
  return { closedWith: beforeEnd, received, openStreams: session.openStreams };
}

function splitRandomly(bytes: Buffer, rand: () => number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = 1 + Math.floor(rand() * 64);
    pieces.push(bytes.subarray(at, at + n));
    at += n;
  }
  return pieces;
}

t.test('seeded fuzz: the session works or closes with a SpdyProtocolError, never throws, holds nothing after', async (t) => {
  const before = process.memoryUsage().arrayBuffers;
  let failures = 0;
  const endings = new Map<string, number>();
  for (let seed = 1; seed <= 600 && failures < 5; seed++) {
    const rand = random(seed);
    const role = rand() < 0.5 ? 'server' : 'client';
    const base = conversation(rand, role === 'server' ? 1 : 0);
    const mode = MODES[seed % MODES.length] as Mode;
    const bytes = mangle(mode, base.bytes, rand);
    const outcome = await run(role, splitRandomly(bytes, rand));
    const ok = outcome.closedWith === 'open' || outcome.closedWith instanceof SpdyProtocolError;
    const kind = outcome.closedWith === 'open' ? 'open' : outcome.closedWith instanceof SpdyProtocolError ? outcome.closedWith.code : 'other';
    endings.set(kind, (endings.get(kind) ?? 0) + 1);
    if (!ok) {
      failures++;
      t.fail(`seed ${seed} (${mode}): closed with ${String(outcome.closedWith)}`);
    }
    if (mode === 'valid' && !(outcome.closedWith === 'open' && [...base.data].every(([id, body]) => outcome.received.get(id) === body))) {
      failures++;
      t.fail(`seed ${seed}: a valid conversation was not served whole (${String(outcome.closedWith)})`);
    }
  }
  t.equal(failures, 0, `600 cases: ${[...endings].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  t.ok((endings.get('ESPDYPROTO') ?? 0) > 0 && (endings.get('ESPDYHEADERS') ?? 0) > 0 && (endings.get('open') ?? 0) > 100, 'the cases reach each ending');
  t.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'no buffer growth kept across the cases');
});

t.test('a valid conversation split in two at every byte boundary is served the same every time', async (t) => {
  const base = conversation(random(42), 1);
  let mismatches = 0;
  for (let cut = 0; cut <= base.bytes.length; cut++) {
    const outcome = await run('server', [base.bytes.subarray(0, cut), base.bytes.subarray(cut)]);
    const same = outcome.closedWith === 'open' && [...base.data].every(([id, body]) => outcome.received.get(id) === body);
    if (!same && mismatches++ < 3) t.fail(`split at ${cut}: ${String(outcome.closedWith)}`);
  }
  t.equal(mismatches, 0, `${base.bytes.length + 1} splits`);
});

t.test('every prefix of a valid conversation: open or a SpdyProtocolError, and nothing held once the transport ends', async (t) => {
  const base = conversation(random(7), 0);
  let bad = 0;
  for (let cut = 0; cut <= base.bytes.length; cut++) {
    const transport = new MemoryTransport();
    const session = new SpdySession({ role: 'client', transport });
    session.on('stream', (s: SpdyStream) => s.on('error', () => {}));
    let reason: unknown = 'open';
    session.on('close', (err: unknown) => {
      reason = err;
    });
    transport.push(base.bytes.subarray(0, cut));
    transport.push(null);
    await new Promise((r) => setImmediate(r));
    if (!(session.closed && session.openStreams === 0 && (reason === undefined || reason instanceof SpdyProtocolError))) bad++;
  }
  t.equal(bad, 0, 'every prefix closed cleanly and released its streams');
});
