/**
 * DNS under hostile input (issue 25): header counts that cannot fit the
 * message, TCP clients that trickle bytes, and a few clients trying to take
 * every TCP slot. RSS is measured in a child process that runs only the
 * server, with a wide margin; nothing here asserts how long anything took.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { encode, streamDecode } from 'dns-packet';
import t, { type Test } from 'tap';
import { DnsServer } from '../../src/dns/server.js';
import { zoneOf } from '../helpers/dns.js';
import { silentLog } from '../helpers/log.js';
import { eventually } from '../helpers/net.js';
import { DNS_CONFIG } from './fixtures.js';

const zone = zoneOf(DNS_CONFIG, () => true);
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const rcodeOf = (message: Buffer): string => RCODES[message.readUInt16BE(4) & 0xf] ?? 'other'; // a TCP frame: after the length prefix
const CHILD = fileURLToPath(new URL('../helpers/dns-flood-child.js', import.meta.url));

/** The datagram: a query header whose four counts are all 0xffff, and nothing else. */
function maxCounts(id: number): Buffer {
  const b = Buffer.from([0, 0, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  b.writeUInt16BE(id, 0);
  return b;
}

interface Child {
  readonly child: ChildProcess;
  readonly port: number;
  ask(message: string): Promise<Record<string, unknown>>;
}

async function floodServer(t: Test): Promise<Child> {
  const child = fork(CHILD, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const [first] = (await once(child, 'message')) as [{ port: number }];
  const ask = async (message: string): Promise<Record<string, unknown>> => {
    const reply = once(child, 'message') as Promise<[Record<string, unknown>]>;
    child.send(message);
    return (await reply)[0];
  };
  return { child, port: first.port, ask };
}

/**
 * Sends `count` datagrams made by `make(id)`, at most `window` unanswered at
 * a time, resending one that got no answer within a second (a loaded machine
 * may drop a datagram); resolves with the rcode of each answer by id.
 */
async function windowed(socket: DgramSocket, port: number, count: number, make: (id: number) => Buffer, firstId = 0): Promise<Map<number, string>> {
  const window = 32;
  const answers = new Map<number, string>();
  const sentAt = new Map<number, number>();
  let next = firstId;
  const deadline = Date.now() + 120_000;
  socket.on('message', (msg: Buffer) => {
    const id = msg.readUInt16BE(0);
    if (!sentAt.has(id)) return;
    sentAt.delete(id);
    answers.set(id, RCODES[msg.readUInt16BE(2) & 0xf] ?? 'other');
  });
  const send = (id: number): void => {
    sentAt.set(id, Date.now());
    socket.send(make(id), port, '127.0.0.1');
  };
  while (answers.size < count) {
    if (Date.now() > deadline) throw new Error(`only ${answers.size} of ${count} answered`);
    while (sentAt.size < window && next < firstId + count) send(next++);
    for (const [id, at] of sentAt) if (Date.now() - at > 1000) send(id);
    await new Promise((resolve) => setImmediate(resolve));
    if (sentAt.size >= window) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return answers;
}

t.test('0xffff header counts: every one answered FORMERR from the header alone; RSS stays flat', async (t) => {
  const server = await floodServer(t);
  const socket = createSocket('udp4');
  t.teardown(() => socket.close());
  // Warm the server (and its JIT) on well-formed queries first, then take the baseline.
  const query = (id: number): Buffer => encode({ type: 'query', id, flags: 0x0100, questions: [{ type: 'A', name: 'web.default.svc.cluster.local' }] });
  const warm = await windowed(socket, server.port, 2000, query);
  t.equal([...warm.values()].filter((r) => r === 'NOERROR').length, 2000, 'the warm-up queries are answered');
  socket.removeAllListeners('message');
  await server.ask('baseline');

  const N = 20_000;
  // Ids apart from the warm-up's: a late duplicate answer to a resent warm-up query is never taken for a flood answer.
  const answers = await windowed(socket, server.port, N, (id) => maxCounts(id), 30_000);
  t.equal(answers.size, N, 'every datagram answered');
  t.same(new Set(answers.values()), new Set(['FORMERR']), 'all FORMERR');
  const { baseline, peak, stats } = (await server.ask('rss')) as { baseline: number; peak: number; stats: { rcodes: Record<string, number> } };
  t.ok((stats.rcodes['FORMERR'] ?? 0) >= N, 'the server counted them as FORMERR');
  const growthMiB = (peak - baseline) / 2 ** 20;
  t.comment(`RSS growth during the flood: ${growthMiB.toFixed(1)} MiB`);
  // Decoding would allocate ~2 MiB per datagram (+147 MiB for this flood in the issue); the header check allocates nothing.
  t.ok(growthMiB < 48, `RSS growth ${growthMiB.toFixed(1)} MiB stays under 48 MiB`);
  const exited = once(server.child, 'exit');
  server.child.send('stop');
  await exited;
});

t.test('counts that just fit are decoded; one record too many is FORMERR without a question', async (t) => {
  const good = encode({ type: 'query', id: 7, flags: 0x0100, questions: [{ type: 'A', name: 'web.default.svc.cluster.local' }] });
  const server = new DnsServer(zone, { host: '127.0.0.1', port: 0, maxTcpConnections: 8, tcpIdleTimeoutMs: 10_000 }, silentLog);
  t.teardown(() => server.close());
  await server.start();
  const socket = createSocket('udp4');
  t.teardown(() => socket.close());
  const bad = Buffer.from(good);
  bad.writeUInt16BE(Math.floor((good.length - 12 - 5) / 11) + 1, 10); // ARCOUNT: one more record than the bytes left could hold
  const answers = await windowed(socket, server.port, 2, (id) => {
    const b = Buffer.from(id === 0 ? good : bad);
    b.writeUInt16BE(id, 0);
    return b;
  });
  t.equal(answers.get(0), 'NOERROR');
  t.equal(answers.get(1), 'FORMERR');
});

async function tcpFrom(t: Test, port: number, localAddress: string): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  t.teardown(() => socket.destroy());
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

t.test('TCP: a client trickling one byte at a time is closed at the per-message deadline, not kept alive by each byte', async (t) => {
  const server = new DnsServer(zone, { host: '127.0.0.1', port: 0, maxTcpConnections: 8, tcpIdleTimeoutMs: 600 }, silentLog);
  t.teardown(() => server.close());
  await server.start();
  const query = encode({ type: 'query', id: 9, flags: 0x0100, questions: [{ type: 'A', name: 'web.default.svc.cluster.local' }] });
  const framed = Buffer.concat([Buffer.from([query.length >> 8, query.length & 0xff]), query]);
  const socket = await tcpFrom(t, server.port, '127.0.0.1');
  let closed = false;
  socket.on('close', () => {
    closed = true;
  });
  let sent = 0;
  // One byte every 150 ms: each gap is well inside the 600 ms, the whole message (~50 bytes) takes ~7 s.
  while (!closed && sent < framed.length) {
    socket.write(framed.subarray(sent, sent + 1));
    sent++;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  await eventually(() => closed, 'the server to close the trickling connection', 30_000);
  t.ok(sent < framed.length, `closed after ${sent} of ${framed.length} bytes`);
  t.equal(server.stats.tcpTimedOut, 1);
  t.equal(server.stats.queries, 0, 'the trickled query was never answered');
});

t.test('TCP: a query every so often keeps a connection; each complete message re-arms the deadline', async (t) => {
  const server = new DnsServer(zone, { host: '127.0.0.1', port: 0, maxTcpConnections: 8, tcpIdleTimeoutMs: 10_000 }, silentLog);
  t.teardown(() => server.close());
  await server.start();
  const socket = await tcpFrom(t, server.port, '127.0.0.1');
  const received: Array<ReturnType<typeof streamDecode>> = [];
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
      received.push(streamDecode(buffered));
      buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
    }
  });
  for (let id = 1; id <= 3; id++) {
    const query = encode({ type: 'query', id, flags: 0x0100, questions: [{ type: 'A', name: 'web.default.svc.cluster.local' }] });
    socket.write(Buffer.concat([Buffer.from([query.length >> 8, query.length & 0xff]), query]));
    await eventually(() => received.length === id, `answer ${id}`, 20_000);
  }
  t.same(
    received.map((r) => [r.id, (r.flags ?? 0) & 0xf]),
    [
      [1, 0],
      [2, 0],
      [3, 0],
    ],
  );
});

t.test('TCP: one client address cannot take every slot; another client is still answered', async (t) => {
  const server = new DnsServer(zone, { host: '127.0.0.1', port: 0, maxTcpConnections: 16, maxTcpConnectionsPerClient: 4, tcpIdleTimeoutMs: 60_000 }, silentLog);
  t.teardown(() => server.close());
  await server.start();
  let closedCount = 0;
  const hogs: Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const s = await tcpFrom(t, server.port, '127.0.0.2');
    s.on('close', () => closedCount++);
    s.write(Buffer.from([0x00])); // half a length prefix, then silence: a trickler holding its slot
    hogs.push(s);
  }
  await eventually(() => closedCount >= 12, 'the connections over the per-client limit to be closed', 30_000);
  t.equal(server.stats.tcpRefused, 12, '12 of the 16 refused');
  const other = await tcpFrom(t, server.port, '127.0.0.3');
  const query = encode({ type: 'query', id: 5, flags: 0x0100, questions: [{ type: 'A', name: 'web.default.svc.cluster.local' }] });
  const reply = new Promise<Buffer>((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    other.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) resolve(buffered);
    });
    other.on('close', () => reject(new Error('the other client was refused')));
  });
  other.write(Buffer.concat([Buffer.from([query.length >> 8, query.length & 0xff]), query]));
  t.equal(rcodeOf(await reply), 'NOERROR', 'another client is answered');
  t.equal(closedCount, 12, 'the four admitted hog connections stay open (until their deadline)');
});
