/**
 * A micro-benchmark of src/spdy/ (not a test, not part of `npm run bench`): one SPDY session over loopback TCP,
 * client and server in this process, S streams each sending its share of N bytes in 64 KiB writes to a server
 * that counts and drops them; then the same bytes over a bare socket pair, the floor. Prints MiB/s and the
 * process's CPU per GiB for both (the CPU is both ends' together, framing and parsing alike).
 *
 *   npx tsc -p scripts/bench/tsconfig.json && npx node build/scripts/bench/spdy-throughput.js [MiB=1024] [streams=1]
 */
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { SpdySession } from '../../src/spdy/session.js';
import type { SpdyStream } from '../../src/spdy/stream.js';

const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer({ noDelay: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect({ port: address.port, host: '127.0.0.1', noDelay: true });
  const [[peer]] = await Promise.all([accepted, once(client, 'connect')]);
  server.close();
  return [client, peer];
}

/** Writes `bytes` in CHUNK-sized writes, waiting for 'drain' as a pump would. */
async function send(sink: NodeJS.WritableStream & { writableNeedDrain: boolean }, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += CHUNK.length) {
    if (!sink.write(CHUNK)) await once(sink, 'drain');
  }
  sink.end();
}

interface Result {
  readonly seconds: number;
  readonly cpuMs: number;
}

async function measure(run: () => Promise<void>): Promise<Result> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await run();
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - start) / 1000, cpuMs: (used.user + used.system) / 1000 };
}

async function overSpdy(bytes: number, streams: number): Promise<void> {
  const [clientSocket, serverSocket] = await socketPair();
  const client = new SpdySession({ role: 'client', transport: clientSocket });
  const server = new SpdySession({ role: 'server', transport: serverSocket });
  let received = 0;
  const done = new Promise<void>((resolve) => {
    let ended = 0;
    server.on('stream', (s: SpdyStream) => {
      s.on('error', () => {});
      s.reply({});
      s.on('data', (c: Buffer) => {
        received += c.length;
      });
      s.on('end', () => {
        s.end();
        if (++ended === streams) resolve();
      });
    });
  });
  const share = Math.ceil(bytes / streams / CHUNK.length) * CHUNK.length;
  const open = (i: number): SpdyStream => {
    const s = client.openStream({ streamtype: 'data', requestid: String(i) });
    s.on('error', () => {});
    s.resume();
    return s;
  };
  await Promise.all(Array.from({ length: streams }, (_, i) => send(open(i), share)));
  await done;
  if (received !== share * streams) throw new Error(`received ${received} of ${share * streams}`);
  client.destroy();
  server.destroy();
}

async function overTcp(bytes: number): Promise<void> {
  const [a, b] = await socketPair();
  let received = 0;
  b.on('data', (c: Buffer) => {
    received += c.length;
  });
  const ended = once(b, 'end');
  await send(a, bytes);
  await ended;
  if (received < bytes) throw new Error(`received ${received} of ${bytes}`);
  a.destroy();
  b.destroy();
}

function line(name: string, bytes: number, r: Result): string {
  const mib = bytes / 1024 / 1024;
  return `${name.padEnd(22)} ${(mib / r.seconds).toFixed(0).padStart(6)} MiB/s  ${((r.cpuMs * 1024) / mib).toFixed(0).padStart(6)} CPU ms/GiB`;
}

const mib = Number(process.argv[2] ?? 1024);
const streams = Number(process.argv[3] ?? 1);
const bytes = mib * 1024 * 1024;
const tcp = await measure(() => overTcp(bytes));
const spdy = await measure(() => overSpdy(bytes, streams));
console.log(`${mib} MiB, one process, loopback`);
console.log(line('bare TCP', bytes, tcp));
console.log(line(`SPDY, ${streams} stream(s)`, bytes, spdy));
