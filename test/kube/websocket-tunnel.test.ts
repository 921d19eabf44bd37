import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import t, { type Test } from 'tap';
import { WebSocketServer } from 'ws';
import { WebSocketTunnel, newWebSocketKey, webSocketAccept } from '../../src/kube/websocket-tunnel.js';

/** A connected loopback TCP pair (client socket, server socket), both closed at teardown. */
async function tcpPair(t: Test): Promise<{ client: Socket; server: Socket }> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error('not TCP');
  const accepted = once(listener, 'connection') as Promise<[Socket]>;
  const client = connect(address.port, '127.0.0.1');
  const [server] = await accepted;
  await once(client, 'connect').catch(() => undefined);
  listener.close();
  for (const s of [client, server]) {
    s.on('error', () => undefined);
    t.teardown(() => s.destroy());
  }
  return { client, server };
}

async function tunnels(t: Test): Promise<{ client: WebSocketTunnel; server: WebSocketTunnel }> {
  const pair = await tcpPair(t);
  const client = new WebSocketTunnel(pair.client, { role: 'client' });
  const server = new WebSocketTunnel(pair.server, { role: 'server' });
  for (const s of [client, server]) t.teardown(() => s.destroy());
  return { client, server };
}

/** Everything `stream` yields until its end, as one buffer. */
async function readAll(stream: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A frame built by hand: `fin`, opcode, payload, masked with `mask` when given. */
function frame(opcode: number, payload: Buffer, options: { readonly fin?: boolean; readonly mask?: Buffer; readonly rsv?: number } = {}): Buffer {
  const fin = options.fin ?? true;
  const len = payload.length;
  const ext = len < 126 ? Buffer.alloc(0) : len < 65536 ? Buffer.alloc(2) : Buffer.alloc(8);
  if (ext.length === 2) ext.writeUInt16BE(len, 0);
  if (ext.length === 8) ext.writeBigUInt64BE(BigInt(len), 0);
  const b1 = (options.mask === undefined ? 0 : 0x80) | (len < 126 ? len : len < 65536 ? 126 : 127);
  const head = Buffer.from([(fin ? 0x80 : 0) | (options.rsv ?? 0) | opcode, b1]);
  let body = payload;
  if (options.mask !== undefined) {
    const mask = options.mask;
    body = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] ?? 0)));
  }
  return Buffer.concat([head, ext, options.mask ?? Buffer.alloc(0), body]);
}

/** Collects raw bytes off a socket and parses the (unmasked or masked) frames in them. */
function frameReader(socket: Socket): { frames: () => Array<{ opcode: number; masked: boolean; payload: Buffer }> } {
  let raw = Buffer.alloc(0);
  socket.on('data', (c: Buffer) => (raw = Buffer.concat([raw, c])));
  return {
    frames: () => {
      const out: Array<{ opcode: number; masked: boolean; payload: Buffer }> = [];
      let at = 0;
      while (at + 2 <= raw.length) {
        const b1 = raw[at + 1] ?? 0;
        let len = b1 & 0x7f;
        let hdr = 2;
        if (len === 126) {
          len = raw.readUInt16BE(at + 2);
          hdr = 4;
        } else if (len === 127) {
          len = Number(raw.readBigUInt64BE(at + 2));
          hdr = 10;
        }
        const masked = (b1 & 0x80) !== 0;
        const mask = masked ? raw.subarray(at + hdr, at + hdr + 4) : undefined;
        if (masked) hdr += 4;
        if (at + hdr + len > raw.length) break;
        const payload = Buffer.from(raw.subarray(at + hdr, at + hdr + len));
        if (mask !== undefined) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
        out.push({ opcode: (raw[at] ?? 0) & 0x0f, masked, payload });
        at += hdr + len;
      }
      return out;
    },
  };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

t.test('the handshake helpers: RFC 6455 section 1.3 example', async (t) => {
  t.equal(webSocketAccept('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  const key = newWebSocketKey();
  t.equal(Buffer.from(key, 'base64').length, 16);
  t.not(newWebSocketKey(), key);
});

t.test('both roles over loopback: megabytes each way intact, then a close each way ends both', async (t) => {
  const { client, server } = await tunnels(t);
  const up = randomBytes(3 * 1024 * 1024 + 7);
  const down = randomBytes(2 * 1024 * 1024 + 3);
  const closed = Promise.all([once(client, 'close'), once(server, 'close')]);
  const gotUp = readAll(server);
  const gotDown = readAll(client);
  client.end(up);
  server.end(down);
  t.equal(sha(await gotUp), sha(up), 'client -> server');
  t.equal(sha(await gotDown), sha(down), 'server -> client');
  await closed;
});

t.test('half a close: the client ends, the server still writes until it ends too', async (t) => {
  const pair = await tcpPair(t);
  const client = new WebSocketTunnel(pair.client, { role: 'client' });
  const raw = frameReader(pair.server);
  client.end(Buffer.from('bye'));
  await until(() => raw.frames().length >= 2, 'the data and the close frame');
  const [data, close] = raw.frames();
  t.match(data, { opcode: 2, masked: true });
  t.equal(data?.payload.toString(), 'bye');
  t.match(close, { opcode: 8, masked: true });
  t.equal(close?.payload.readUInt16BE(0), 1000);
  const closed = once(client, 'close');
  const clientRead = readAll(client);
  pair.server.write(frame(2, Buffer.from('late reply')));
  pair.server.write(frame(8, Buffer.from([0x03, 0xe8])));
  t.equal((await clientRead).toString(), 'late reply', 'data after our close frame is still read, until the peer closes');
  await closed;
});

t.test('masking: the client masks every frame, the server sends unmasked ones', async (t) => {
  const pair = await tcpPair(t);
  const client = new WebSocketTunnel(pair.client, { role: 'client' });
  const atServer = frameReader(pair.server);
  const payload = Buffer.alloc(70_000, 0x61);
  client.write(payload);
  await until(() => atServer.frames().length >= 2, 'two frames (64 KiB messages)');
  const frames = atServer.frames();
  t.ok(
    frames.every((f) => f.masked && f.opcode === 2),
    'masked binary frames',
  );
  t.equal(sha(Buffer.concat(frames.map((f) => f.payload))), sha(payload), 'unmasked, the payload');

  const pair2 = await tcpPair(t);
  const server = new WebSocketTunnel(pair2.server, { role: 'server' });
  const atClient = frameReader(pair2.client);
  server.write(Buffer.from('hello'));
  await until(() => atClient.frames().length >= 1, 'a frame');
  t.match(atClient.frames()[0], { opcode: 2, masked: false });
  t.equal(atClient.frames()[0]?.payload.toString(), 'hello');
});

t.test('fragmented and tiny: a message in three fragments, fed one byte at a time, a ping between fragments', async (t) => {
  const pair = await tcpPair(t);
  const server = new WebSocketTunnel(pair.server, { role: 'server' });
  const atClient = frameReader(pair.client);
  const mask = Buffer.from([1, 2, 3, 4]);
  const wire = Buffer.concat([
    frame(2, Buffer.from('frag-one|'), { fin: false, mask }),
    frame(9, Buffer.from('are you there'), { mask }),
    frame(0, Buffer.from('frag-two|'), { fin: false, mask }),
    frame(0, Buffer.alloc(0), { fin: false, mask }),
    frame(0, Buffer.from('end'), { mask }),
    frame(2, Buffer.alloc(300, 0x7a), { mask }),
    frame(2, Buffer.from('x'), { mask: Buffer.from([0xff, 0xff, 0xff, 0xff]) }),
  ]);
  const got: Buffer[] = [];
  server.on('data', (c: Buffer) => got.push(c));
  for (const byte of wire) {
    pair.client.write(Buffer.from([byte]));
    // Every byte its own TCP segment, most of the time: wait until it has been read.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const want = `frag-one|frag-two|end${'z'.repeat(300)}x`;
  await until(() => Buffer.concat(got).toString() === want, 'the payload of every message, in order');
  await until(() => atClient.frames().length >= 1, 'the pong');
  t.match(atClient.frames()[0], { opcode: 10, masked: false });
  t.equal(atClient.frames()[0]?.payload.toString(), 'are you there', 'the pong echoes the ping');
});

t.test('ping from our side; a pong is ignored', async (t) => {
  const pair = await tcpPair(t);
  const client = new WebSocketTunnel(pair.client, { role: 'client' });
  const atServer = frameReader(pair.server);
  client.ping(Buffer.from('p'));
  pair.server.write(frame(10, Buffer.from('p')));
  pair.server.write(frame(2, Buffer.from('after the pong')));
  const got = await once(client, 'data');
  t.equal(String(got[0]), 'after the pong');
  await until(() => atServer.frames().length >= 1, 'the ping at the server');
  t.match(atServer.frames()[0], { opcode: 9, masked: true });
  t.equal(atServer.frames()[0]?.payload.toString(), 'p');
  t.throws(() => client.ping(Buffer.alloc(126)), RangeError);
});

const BAD: ReadonlyArray<{ readonly name: string; readonly wire: Buffer; readonly limit?: number }> = [
  { name: 'an unknown opcode', wire: frame(3, Buffer.from('x'), { mask: Buffer.from([1, 2, 3, 4]) }) },
  { name: 'a text message', wire: frame(1, Buffer.from('x'), { mask: Buffer.from([1, 2, 3, 4]) }) },
  { name: 'an unmasked client frame', wire: frame(2, Buffer.from('x')) },
  { name: 'reserved bits', wire: frame(2, Buffer.from('x'), { mask: Buffer.from([1, 2, 3, 4]), rsv: 0x40 }) },
  { name: 'a continuation without a message', wire: frame(0, Buffer.from('x'), { mask: Buffer.from([1, 2, 3, 4]) }) },
  { name: 'a fragmented ping', wire: frame(9, Buffer.from('x'), { fin: false, mask: Buffer.from([1, 2, 3, 4]) }) },
  { name: 'a frame over the limit (header only)', wire: frame(2, Buffer.alloc(2000), { mask: Buffer.from([1, 2, 3, 4]) }).subarray(0, 8), limit: 1024 },
  {
    name: 'a fragmented message over the limit',
    wire: Buffer.concat([
      frame(2, Buffer.alloc(600), { fin: false, mask: Buffer.from([1, 2, 3, 4]) }),
      frame(0, Buffer.alloc(600), { mask: Buffer.from([1, 2, 3, 4]) }),
    ]),
    limit: 1024,
  },
  { name: 'a 2^63 length', wire: Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]) },
];

for (const bad of BAD) {
  t.test(`server role: ${bad.name} destroys the tunnel with EWSPROTO and a 1002 close`, async (t) => {
    const pair = await tcpPair(t);
    const server = new WebSocketTunnel(pair.server, { role: 'server', ...(bad.limit === undefined ? {} : { maxMessageBytes: bad.limit }) });
    const atClient = frameReader(pair.client);
    const failed = once(server, 'error') as Promise<[Error & { code?: string }]>;
    server.resume();
    pair.client.write(bad.wire);
    const clientClosed = once(pair.client, 'close');
    const [err] = await failed;
    t.equal(err.code, 'EWSPROTO', err.message);
    await clientClosed;
    t.match(atClient.frames().at(-1), { opcode: 8 });
    t.equal(atClient.frames().at(-1)?.payload.readUInt16BE(0), 1002);
  });
}

t.test('client role: a masked frame from the server is refused', async (t) => {
  const pair = await tcpPair(t);
  const client = new WebSocketTunnel(pair.client, { role: 'client' });
  const failed = once(client, 'error') as Promise<[Error & { code?: string }]>;
  pair.server.write(frame(2, Buffer.from('x'), { mask: Buffer.from([1, 2, 3, 4]) }));
  t.equal((await failed)[0].code, 'EWSPROTO');
});

t.test('the head bytes of the upgrade are read first; a TCP end at a frame boundary is a clean end, mid-frame a reset', async (t) => {
  const pair = await tcpPair(t);
  const mask = Buffer.from([9, 8, 7, 6]);
  const server = new WebSocketTunnel(pair.server, { role: 'server', head: frame(2, Buffer.from('head|'), { mask }) });
  const got = readAll(server);
  pair.client.end(frame(2, Buffer.from('body'), { mask }));
  t.equal((await got).toString(), 'head|body');

  const pair2 = await tcpPair(t);
  const server2 = new WebSocketTunnel(pair2.server, { role: 'server' });
  const failed = once(server2, 'error') as Promise<[Error & { code?: string }]>;
  server2.resume();
  pair2.client.end(frame(2, Buffer.from('truncated'), { mask }).subarray(0, 9));
  t.equal((await failed)[0].code, 'ECONNRESET');
});

t.test('backpressure: a reader that does not read holds back the socket, and then gets every byte', async (t) => {
  const pair = await tcpPair(t);
  const client = new WebSocketTunnel(pair.client, { role: 'client' });
  const server = new WebSocketTunnel(pair.server, { role: 'server' });
  const total = 16 * 1024 * 1024;
  const block = randomBytes(64 * 1024);
  let written = 0;
  let sawFullWrite = false;
  const writeSome = async (): Promise<void> => {
    while (written < total) {
      written += block.length;
      if (!client.write(block)) {
        sawFullWrite = true;
        return;
      }
    }
  };
  await writeSome();
  // Nobody reads the server side: the writer must stall well before the 16 MiB are through.
  await until(() => sawFullWrite && pair.server.isPaused(), 'the writer to see a full buffer and the server socket paused');
  t.ok(server.readableLength <= 1024 * 1024, `the unread tunnel holds ${server.readableLength} bytes`);
  t.ok(written < total, 'the writer stalled');
  const hash = createHash('sha256');
  let received = 0;
  const done = new Promise<void>((resolve) => {
    server.on('data', (c: Buffer) => {
      hash.update(c);
      received += c.length;
      if (received === total) resolve();
    });
  });
  const expected = createHash('sha256');
  for (let i = 0; i < total / block.length; i++) expected.update(block);
  client.on('drain', () => void writeSome());
  await writeSome();
  await done;
  t.equal(hash.digest('hex'), expected.digest('hex'));
});

t.test('client role against another implementation (the ws package as the server): echo of 1 MiB, pings answered, a clean close', async (t) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  t.teardown(() => new Promise((resolve) => wss.close(resolve)));
  let pongs = 0;
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => ws.send(data));
    ws.on('pong', () => pongs++);
    ws.ping(Buffer.from('hi'));
  });
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('not TCP');
  const socket = connect(address.port, '127.0.0.1');
  socket.on('error', () => undefined);
  t.teardown(() => socket.destroy());
  await once(socket, 'connect');
  const key = newWebSocketKey();
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let head = Buffer.alloc(0);
  while (head.indexOf('\r\n\r\n') === -1) head = Buffer.concat([head, ((await once(socket, 'data')) as [Buffer])[0]]);
  socket.pause();
  const end = head.indexOf('\r\n\r\n');
  t.match(head.subarray(0, end).toString(), new RegExp(`^HTTP/1.1 101[^]*Sec-WebSocket-Accept: ${webSocketAccept(key).replace(/[+/]/g, '\\$&')}`, 'i'));
  const client = new WebSocketTunnel(socket, { role: 'client', head: head.subarray(end + 4) });
  const payload = randomBytes(1024 * 1024);
  const echoed = new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    client.on('data', (c: Buffer) => {
      chunks.push(c);
      n += c.length;
      if (n >= payload.length) resolve(Buffer.concat(chunks));
    });
  });
  client.write(payload);
  t.equal(sha(await echoed), sha(payload));
  await until(() => pongs === 1, 'our pong at the ws server');
  const closed = once(client, 'close');
  client.end();
  await closed;
});
