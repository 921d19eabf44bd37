import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { constants, createDeflate } from 'node:zlib';
import t from 'tap';
import { dataFrameHeader, encodeRawControl, encodeSettings, encodeSynStream, encodeWindowUpdate, FLAG_FIN, RstStatus } from '../../src/spdy/frames.js';
import { encodeHeaderBlock } from '../../src/spdy/header-block.js';
import type { SpdyStream } from '../../src/spdy/stream.js';
import { SPDY3_DICTIONARY } from '../../src/spdy/zlib-dictionary.js';
import { closed, collect, nextStream, sessionPair } from './pair.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('client opens, server replies, megabytes both ways, FIN both ways: a half-close answered after the FIN', async (t) => {
  const { client, server } = await sessionPair(t);
  const up = randomBytes(3 * 1024 * 1024 + 17);
  const down = randomBytes(2 * 1024 * 1024 + 5);
  const served = nextStream(server);
  const stream = client.openStream({ streamType: 'data', port: '8080', requestID: '0' });
  const replied = once(stream, 'reply') as Promise<[Record<string, string>]>;
  const downstream = collect(stream);
  stream.end(up);
  const peer = await served;
  t.same({ ...peer.headers }, { streamtype: 'data', port: '8080', requestid: '0' });
  t.equal(peer.id, 1, 'the client opens odd ids');
  peer.reply({ ok: 'yes' });
  const received = await collect(peer);
  t.equal(sha(received.data), sha(up), 'the upload arrived whole, then the FIN');
  t.equal(peer.bytesRead, up.length);
  // Only now, after the client's FIN, the server answers: the half-close held.
  peer.end(down);
  const [replyHeaders] = await replied;
  t.same({ ...replyHeaders }, { ok: 'yes' });
  const got = await downstream;
  t.equal(got.error, '');
  t.equal(sha(got.data), sha(down));
  await Promise.all([closed(stream), closed(peer)]);
  t.equal(client.openStreams, 0);
  t.equal(server.openStreams, 0);
});

t.test('the server opens even ids; writes on a peer stream wait for reply(); a SYN_STREAM with FIN ends the peer at once', async (t) => {
  const { client, server } = await sessionPair(t);
  const seen = nextStream(client);
  const fromServer = server.openStream({ kind: 'push' });
  fromServer.end('hello');
  const atClient = await seen;
  t.equal(atClient.id, 2);
  const order: string[] = [];
  fromServer.on('reply', () => order.push('reply'));
  const body = collect(fromServer).then((r) => {
    order.push('data');
    return r;
  });
  atClient.write('early');
  atClient.end(' words');
  await new Promise((r) => setImmediate(r));
  atClient.reply({});
  t.same((await collect(atClient)).data.toString(), 'hello');
  t.same((await body).data.toString(), 'early words');
  t.same(order, ['reply', 'data'], 'DATA went only after the SYN_REPLY');

  const finSeen = nextStream(server);
  const finOpened = client.openStream({ streamType: 'error' }, { fin: true });
  const finPeer = await finSeen;
  finPeer.reply({});
  t.same(await collect(finPeer), { data: Buffer.alloc(0), error: '' }, 'the peer sees the end with no DATA');
  finPeer.end('error text');
  t.same((await collect(finOpened)).data.toString(), 'error text');
});

t.test('RST_STREAM: reset() on one side destroys the other with ECONNRESET and its status; no error where it was called', async (t) => {
  const { client, server } = await sessionPair(t);
  const served = nextStream(server);
  const stream = client.openStream({ a: '1' });
  const outcome = collect(stream);
  const peer = await served;
  let peerErrors = 0;
  peer.on('error', () => peerErrors++);
  peer.reply({});
  peer.write('partial');
  peer.reset(RstStatus.REFUSED_STREAM);
  t.equal((await outcome).error, 'ECONNRESET');
  await closed(peer);
  t.equal(peerErrors, 0);
  t.equal(server.openStreams, 0);
  t.equal(client.openStreams, 0);

  const again = nextStream(server);
  const second = client.openStream({ a: '2' });
  second.on('error', () => {});
  const peer2 = await again;
  peer2.reply({});
  const peerOutcome = collect(peer2);
  second.destroy(new Error('local failure'));
  t.equal((await peerOutcome).error, 'ECONNRESET', 'destroy() sends RST CANCEL');
});

t.test('a RST after the peer FIN: what came before the FIN is still read, then the stream errors', async (t) => {
  const { client, server } = await sessionPair(t);
  const served = nextStream(server);
  const stream = client.openStream({});
  const peer = await served;
  peer.reply({});
  peer.end('all of it');
  await once(stream, 'readable');
  peer.reset();
  const errored = once(stream, 'error') as Promise<[NodeJS.ErrnoException]>;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const [err] = await errored;
  t.equal(Buffer.concat(chunks).toString(), 'all of it');
  t.equal(err.code, 'ECONNRESET');
});

t.test('PING both ways; SETTINGS, WINDOW_UPDATE and unknown control frames are ignored; no window is ever waited for', async (t) => {
  const { client, server, clientSocket } = await sessionPair(t);
  t.ok((await client.ping()) >= 0);
  t.ok((await server.ping()) >= 0);
  clientSocket.write(
    encodeSettings([
      [7, 1],
      [4, 100],
    ]),
  );
  clientSocket.write(encodeWindowUpdate(0, 1000));
  clientSocket.write(encodeRawControl(0x0a, 0, Buffer.from('credential-ish')));
  clientSocket.write(encodeRawControl(0xfff0, 0xff, Buffer.alloc(100)));
  t.ok((await client.ping()) >= 0, 'the session still answers after them');
  // 4 MiB one way with no WINDOW_UPDATE from the peer: SPDY/3.1's initial window is 64 KiB.
  const served = nextStream(server);
  const stream = client.openStream({});
  const payload = randomBytes(4 * 1024 * 1024);
  stream.end(payload);
  const peer = await served;
  peer.reply({});
  peer.end();
  t.equal(sha((await collect(peer)).data), sha(payload));
  t.equal(server.closed, false);
});

t.test('GOAWAY: no new streams either way, open ones finish, then both sessions close cleanly', async (t) => {
  const { client, server } = await sessionPair(t);
  const served = nextStream(server);
  const stream = client.openStream({});
  const peer = await served;
  peer.reply({});
  const closes = [once(client, 'close'), once(server, 'close')];
  server.goAway();
  await new Promise((r) => setImmediate(r));
  const refused = client.openStream({});
  t.equal((await collect(refused)).error, 'ECONNRESET', 'a stream opened after GOAWAY fails as a refused dial');
  t.equal(client.closed, false, 'the open stream keeps the session');
  stream.end('bye');
  t.same((await collect(peer)).data.toString(), 'bye');
  peer.end('ok');
  t.same((await collect(stream)).data.toString(), 'ok');
  const [[clientErr], [serverErr]] = (await Promise.all(closes)) as [[unknown], [unknown]];
  t.equal(clientErr, undefined);
  t.equal(serverErr, undefined);
});

t.test('destroy(): every open stream gets ECONNRESET, the peer session closes, pings in flight reject', async (t) => {
  const { client, server } = await sessionPair(t);
  const served = nextStream(server);
  const a = client.openStream({});
  const peer = await served;
  peer.reply({});
  const outcomes = [collect(a), collect(peer)];
  const peerClosed = once(server, 'close');
  const ping = client.ping();
  client.destroy(new Error('going'));
  await t.rejects(ping);
  t.same(
    (await Promise.all(outcomes)).map((o) => o.error),
    ['ECONNRESET', 'ECONNRESET'],
  );
  await peerClosed;
  t.equal(client.closed, true);
  t.equal(client.openStreams, 0);
});

t.test('a Go-style peer: zlib-compressed headers across SYN_STREAMs, DATA, an empty DATA FIN (spdystream Close)', async (t) => {
  const { server, clientSocket } = await sessionPair(t);
  const deflater = createDeflate({ dictionary: Buffer.from(SPDY3_DICTIONARY), level: 9 });
  const compressed: Buffer[] = [];
  deflater.on('data', (c: Buffer) => compressed.push(c));
  const block = async (headers: Record<string, string>): Promise<Buffer> => {
    deflater.write(encodeHeaderBlock(headers));
    await new Promise<void>((r) => deflater.flush(constants.Z_SYNC_FLUSH, () => r()));
    return Buffer.concat(compressed.splice(0));
  };
  const streams: SpdyStream[] = [];
  server.on('stream', (s: SpdyStream) => {
    streams.push(s);
    s.reply({});
  });
  const headers1 = await block({ streamtype: 'error', port: '80', requestid: '0' });
  const headers2 = await block({ streamtype: 'data', port: '80', requestid: '0' });
  deflater.destroy();
  // The whole conversation in one write, split nowhere special: the reader must find every boundary.
  clientSocket.write(
    Buffer.concat([
      encodeSynStream(1, 0, headers1),
      dataFrameHeader(1, FLAG_FIN, 0),
      encodeSynStream(3, 0, headers2),
      dataFrameHeader(3, 0, 5),
      Buffer.from('hello'),
      dataFrameHeader(3, FLAG_FIN, 0),
    ]),
  );
  const deadline = Date.now() + 5000;
  while (streams.length < 2 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  t.same(
    streams.map((s) => ({ ...s.headers })),
    [
      { streamtype: 'error', port: '80', requestid: '0' },
      { streamtype: 'data', port: '80', requestid: '0' },
    ],
  );
  t.same((await collect(streams[1] as SpdyStream)).data.toString(), 'hello');
});
