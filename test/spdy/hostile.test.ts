import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { constants, createDeflate, deflateSync } from 'node:zlib';
import t from 'tap';
import { SpdyProtocolError } from '../../src/spdy/errors.js';
import { dataFrameHeader, encodePing, encodeRawControl, encodeSynReply, encodeSynStream, FLAG_FIN, RstStatus } from '../../src/spdy/frames.js';
import { encodeHeaderBlock, HeaderCompressor } from '../../src/spdy/header-block.js';
import { SpdySession } from '../../src/spdy/session.js';
import type { SpdyStream } from '../../src/spdy/stream.js';
import { SPDY3_DICTIONARY } from '../../src/spdy/zlib-dictionary.js';
import { eventually } from '../helpers/net.js';
import { collect, sessionPair, socketPair } from './pair.js';

/** A server session on one end of a loopback pair; the test speaks raw bytes on the other end. */
async function rawPeer(t: Parameters<typeof socketPair>[0], role: 'client' | 'server' = 'server', limits = {}) {
  const { clientSocket, serverSocket } = await socketPair(t);
  const transport = role === 'server' ? serverSocket : clientSocket;
  const raw = role === 'server' ? clientSocket : serverSocket;
  const session = new SpdySession({ role, transport, limits });
  t.teardown(() => session.destroy());
  const closed = once(session, 'close') as Promise<[Error | undefined]>;
  const received: Buffer[] = [];
  raw.on('data', (c: Buffer) => received.push(c));
  raw.on('error', () => {});
  return { session, raw, closed, received: () => Buffer.concat(received) };
}

/** A GOAWAY with this status somewhere in what the session wrote. */
function sentGoAway(bytes: Buffer, status: number): boolean {
  const frame = Buffer.from([0x80, 0x03, 0x00, 0x07, 0, 0, 0, 8]);
  const at = bytes.indexOf(frame);
  return at >= 0 && bytes.readUInt32BE(at + 12) === status;
}

t.test('a zlib bomb in a SYN_STREAM closes that session with ESPDYHEADERS; a session beside it goes on', async (t) => {
  const bystander = await sessionPair(t);
  const { session, raw, closed, received } = await rawPeer(t);
  session.on('stream', () => t.fail('no stream from a bomb'));
  const bomb = deflateSync(Buffer.alloc(8 * 1024 * 1024), { dictionary: Buffer.from(SPDY3_DICTIONARY), level: 9 });
  t.ok(bomb.length < 64 * 1024, 'it fits in one control frame');
  raw.write(encodeSynStream(1, 0, bomb));
  const [err] = await closed;
  t.type(err, SpdyProtocolError);
  t.match(err, { code: 'ESPDYHEADERS', message: /over 65536 bytes/ });
  await eventually(() => sentGoAway(received(), 1), 'a GOAWAY PROTOCOL_ERROR to the peer');
  t.ok((await bystander.client.ping()) >= 0, 'the other session still answers');
});

t.test('header blocks that do not decompress, or decode to nonsense, are ESPDYHEADERS', async (t) => {
  for (const block of [Buffer.from('not zlib, not at all'), new HeaderCompressor().compress(Buffer.from([0, 0, 0, 5, 0, 0]))]) {
    const { session, raw, closed } = await rawPeer(t);
    session.on('stream', () => t.fail('no stream'));
    raw.write(encodeSynStream(1, 0, block));
    const [err] = await closed;
    t.match(err, { name: 'SpdyProtocolError', code: 'ESPDYHEADERS' });
  }
});

t.test('stream ids: wrong parity, reused or going down close the session (ESPDYPROTO)', async (t) => {
  const cases: ReadonlyArray<readonly [string, number[]]> = [
    ['an even id from the client', [2]],
    ['the same id twice', [1, 1]],
    ['a lower id after a higher one', [5, 3]],
  ];
  for (const [name, ids] of cases) {
    const { session, raw, closed } = await rawPeer(t);
    session.on('stream', (s: SpdyStream) => s.on('error', () => {}));
    const compressor = new HeaderCompressor();
    raw.write(Buffer.concat(ids.map((id) => encodeSynStream(id, 0, compressor.compress(encodeHeaderBlock({ n: String(id) }))))));
    const [err] = await closed;
    t.match(err, { name: 'SpdyProtocolError', code: 'ESPDYPROTO', message: /SYN_STREAM/ }, name);
  }
});

t.test('bad versions, oversized control and DATA frames close the session with a SpdyProtocolError', async (t) => {
  const cases: ReadonlyArray<readonly [string, Buffer, string]> = [
    ['SPDY/2', encodeRawControl(1, 0, Buffer.alloc(12), 2), 'ESPDYPROTO'],
    ['a 70 KiB control frame', encodeRawControl(0x4000, 0, Buffer.alloc(70 * 1024)), 'ESPDYLIMIT'],
    ['a 2 MiB DATA frame header', dataFrameHeader(1, 0, 2 * 1024 * 1024), 'ESPDYLIMIT'],
    ['a PING of 5 bytes', encodeRawControl(6, 0, Buffer.alloc(5)), 'ESPDYPROTO'],
  ];
  for (const [name, bytes, code] of cases) {
    const { raw, closed } = await rawPeer(t);
    raw.write(bytes);
    const [err] = await closed;
    t.match(err, { name: 'SpdyProtocolError', code }, name);
  }
});

t.test('concurrent streams are bounded both ways: the peers over the limit get RST REFUSED_STREAM', async (t) => {
  const { client, server } = await sessionPair(t, undefined, { maxConcurrentStreams: 3 });
  const accepted: SpdyStream[] = [];
  server.on('stream', (s: SpdyStream) => {
    accepted.push(s);
    s.on('error', () => {});
    s.reply({});
  });
  const streams = Array.from({ length: 4 }, (_, i) => client.openStream({ n: String(i) }));
  const outcomes = streams.map((s) => collect(s));
  const refused = (await outcomes[3]) ?? { error: '' };
  t.equal(refused.error, 'ECONNRESET', 'the fourth is refused');
  t.equal(accepted.length, 3);
  for (const s of accepted) s.end();
  for (const s of streams.slice(0, 3)) s.end();
  t.same(
    (await Promise.all(outcomes.slice(0, 3))).map((o) => o.error),
    ['', '', ''],
  );
  const local = await sessionPair(t, { maxConcurrentStreams: 1 });
  local.server.on('stream', (s: SpdyStream) => {
    s.on('error', () => {});
    s.reply({});
  });
  const first = local.client.openStream({});
  first.on('error', () => {});
  t.equal((await collect(local.client.openStream({}))).error, 'ECONNRESET', 'over the local limit, openStream fails');
});

t.test('a peer RST with REFUSED_STREAM is the status on the error; DATA after FIN resets that stream only', async (t) => {
  const { session, raw, received } = await rawPeer(t, 'client');
  const stream = session.openStream({ streamtype: 'data' });
  const errored = once(stream, 'error') as Promise<[{ code: string; status: number }]>;
  raw.write(encodeRawControl(3, 0, Buffer.from([0, 0, 0, 1, 0, 0, 0, RstStatus.REFUSED_STREAM])));
  const [err] = await errored;
  t.match(err, { code: 'ECONNRESET', status: RstStatus.REFUSED_STREAM });

  const second = session.openStream({ streamtype: 'data' });
  const outcome = collect(second);
  const compressor = new HeaderCompressor();
  raw.write(Buffer.concat([encodeSynReply(3, 0, compressor.compress(encodeHeaderBlock({}))), dataFrameHeader(3, FLAG_FIN, 2), Buffer.from('ok')]));
  raw.write(Buffer.concat([dataFrameHeader(3, 0, 4), Buffer.from('more')]));
  t.equal((await outcome).data.toString(), 'ok', 'the data before the FIN arrived');
  t.equal(session.closed, false, 'the session lives on');
  raw.write(encodePing(2));
  await eventually(() => received().includes(encodePing(2)), 'the PING answered');
});

t.test('a peer that floods one stream whose reader is paused: the transport pauses, memory stays bounded, all arrives later', async (t) => {
  const cap = 256 * 1024;
  const { session, raw } = await rawPeer(t, 'client');
  const stream = session.openStream({});
  stream.on('error', () => {});
  stream.pause();
  const compressor = new HeaderCompressor();
  raw.write(encodeSynReply(1, 0, compressor.compress(encodeHeaderBlock({}))));
  // 64 MiB of DATA written without waiting: more than every kernel buffer on the path can hold.
  const chunk = Buffer.alloc(64 * 1024, 7);
  const frames = 1024;
  for (let i = 0; i < frames; i++) raw.write(Buffer.concat([dataFrameHeader(1, 0, chunk.length), chunk]));
  raw.write(dataFrameHeader(1, FLAG_FIN, 0));
  const transport = (session as unknown as { transport: Socket }).transport;
  await eventually(() => stream.readableLength >= cap, 'the stream buffer to fill');
  const readAtHold = transport.bytesRead;
  // Asserting an absence needs a window: nothing more is read from the kernel while the reader is paused.
  await new Promise((r) => setTimeout(r, 300));
  t.equal(transport.bytesRead, readAtHold, 'no byte was read while the stream was full');
  t.ok(stream.readableLength <= cap + 64 * 1024 + 8, `buffered ${stream.readableLength} bytes, bounded`);
  t.ok(raw.writableLength > 16 * 1024 * 1024, 'the flood waits on the peer side');
  const hash = createHash('sha256');
  let total = 0;
  stream.on('data', (c: Buffer) => {
    total += c.length;
    hash.update(c);
  });
  stream.resume();
  await once(stream, 'end');
  t.equal(total, frames * chunk.length, 'every byte arrived once the reader read');
  const expected = createHash('sha256');
  for (let i = 0; i < frames; i++) expected.update(chunk);
  t.equal(hash.digest('hex'), expected.digest('hex'));
});

t.test('a PING flood from a peer that does not read our answers stops our reading, not our memory', async (t) => {
  const { session, raw } = await rawPeer(t, 'client');
  raw.pause();
  raw.removeAllListeners('data');
  const ping = encodePing(2);
  const flood = Buffer.concat(Array.from({ length: 4096 }, () => ping));
  for (let i = 0; i < 400; i++) raw.write(flood);
  const transport = (session as unknown as { transport: Socket }).transport;
  await eventually(() => transport.isPaused(), 'our side to stop reading');
  t.ok(transport.writableLength < 8 * 1024 * 1024, `answers queued: ${transport.writableLength} bytes`);
  raw.resume();
  await eventually(() => !transport.isPaused() || session.closed, 'reading to go on once the answers drain', 10_000);
  t.equal(session.closed, false);
});

t.test('zlib across frames with Z_SYNC_FLUSH from a real deflater is read; one broken block then ends only that session', async (t) => {
  const { session, raw, closed } = await rawPeer(t);
  const seen: string[] = [];
  session.on('stream', (s: SpdyStream) => {
    seen.push(s.headers.n ?? '');
    s.on('error', () => {});
  });
  const deflater = createDeflate({ dictionary: Buffer.from(SPDY3_DICTIONARY) });
  const out: Buffer[] = [];
  deflater.on('data', (c: Buffer) => out.push(c));
  for (const n of ['1', '3']) {
    deflater.write(encodeHeaderBlock({ n }));
    await new Promise<void>((r) => deflater.flush(constants.Z_SYNC_FLUSH, () => r()));
    raw.write(encodeSynStream(Number(n), 0, Buffer.concat(out.splice(0))));
  }
  deflater.destroy();
  await eventually(() => seen.length === 2, 'both streams');
  raw.write(encodeSynStream(5, 0, Buffer.from([0xff, 0xff, 0xff])));
  const [err] = await closed;
  t.match(err, { code: 'ESPDYHEADERS' });
  t.same(seen, ['1', '3']);
});

t.test('no stream listener: a peer SYN_STREAM is refused with RST, the session goes on', async (t) => {
  const { client, server } = await sessionPair(t);
  t.equal((await collect(client.openStream({}))).error, 'ECONNRESET');
  t.equal(server.closed, false);
  t.ok((await client.ping()) >= 0);
});
