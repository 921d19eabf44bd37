/**
 * The Node fallback for loadgen.c, used when no C compiler is found (or with
 * `--impl node`): the same modes, arguments and JSON lines. It is simpler and
 * slower than the C version; the report says which one ran.
 *
 *   node loadgen-node.js serve HOST
 *   node loadgen-node.js bulk  HOST PORT CONNS BYTES TIMEOUT_MS
 *   node loadgen-node.js rate  HOST PORT THREADS CLIENTS MAX WARMUP DURATION_MS TIMEOUT_MS
 *   node loadgen-node.js rtt   HOST PORT COUNT WARMUP DURATION_MS TIMEOUT_MS
 *   node loadgen-node.js hold  HOST PORT N TIMEOUT_MS
 *
 * THREADS is accepted for compatibility and ignored: one event loop runs all clients.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { assertLoopback } from './loopback.js';
import { percentile } from './stats.js';

const [mode = '?', host = '', ...rest] = process.argv.slice(2);

function emit(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ mode, ...fields })}\n`);
}

function fail(message: string): never {
  emit({ error: message });
  process.exit(3);
}

function cpu(): { cpu_user_s: number; cpu_sys_s: number } {
  const usage = process.cpuUsage();
  return { cpu_user_s: usage.user / 1e6, cpu_sys_s: usage.system / 1e6 };
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

function int(index: number, what: string): number {
  const text = rest[index];
  if (text === undefined || !/^\d+$/.test(text)) fail(`${what}: "${String(text)}" is not a non-negative integer`);
  return Number(text);
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves when `n` more bytes have arrived on `socket`. */
function readBytes(socket: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= n) finish(undefined);
    };
    const onEnd = (): void => finish(new Error('connection closed early'));
    const finish = (err: Error | undefined): void => {
      socket.removeListener('data', onData).removeListener('end', onEnd).removeListener('error', finish);
      if (err === undefined) resolve(Buffer.concat(chunks));
      else reject(err);
    };
    socket.on('data', onData).once('end', onEnd).once('error', finish);
  });
}

async function serve(): Promise<void> {
  const listen = async (server: Server): Promise<number> => {
    server.listen({ host, port: 0, backlog: 4096 });
    await once(server, 'listening');
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  };
  const discard = createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    let count = 0;
    s.on('error', () => s.destroy());
    s.on('data', (c: Buffer) => (count += c.length));
    s.on('end', () => {
      const out = Buffer.alloc(8); // the half-close: report the count, then close
      out.writeBigUInt64BE(BigInt(count));
      s.end(out);
    });
  });
  const echo = createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  emit({ discard: await listen(discard), echo: await listen(echo) });
}

async function bulk(port: number, conns: number, bytes: number): Promise<void> {
  const chunk = Buffer.alloc(256 * 1024, 'x');
  const sockets = await Promise.all(Array.from({ length: conns }, () => dial(port)));
  const t0 = now();
  const upload = async (socket: Socket): Promise<number> => {
    for (let left = bytes; left > 0; left -= chunk.length) {
      const piece = left < chunk.length ? chunk.subarray(0, left) : chunk;
      if (!socket.write(piece)) await once(socket, 'drain');
    }
    const reply = readBytes(socket, 8);
    socket.end();
    const count = (await reply).readBigUInt64BE(0);
    if (count !== BigInt(bytes)) fail(`the discard server counted ${count} bytes, not ${bytes}`);
    socket.destroy();
    return now();
  };
  const end = Math.max(...(await Promise.all(sockets.map(upload))));
  const seconds = end - t0;
  emit({ conns, bytes: bytes * conns, seconds, mbps: (bytes * conns) / seconds / 1e6, ...cpu() });
}

async function rate(port: number, clients: number, max: number, warmup: number, durationMs: number): Promise<void> {
  const message = Buffer.alloc(64, 'r');
  const samples: number[] = [];
  const deadline = now() + durationMs / 1000;
  let started = 0;
  let finished = 0;
  let errors = 0;
  let tMeasure = now();
  let tLast = tMeasure;
  const client = async (): Promise<void> => {
    while (started - errors < max + warmup && now() < deadline) {
      started++;
      const t0 = now();
      try {
        const socket = await dial(port);
        const reply = readBytes(socket, 64);
        socket.write(message);
        await reply;
        socket.destroy();
      } catch {
        if (++errors > 1000) fail(`${errors} connections failed`);
        continue;
      }
      const t = now();
      if (++finished === warmup) tMeasure = t;
      else if (finished > warmup && samples.length < max) {
        samples.push((t - t0) * 1e6);
        tLast = t;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  const seconds = tLast - tMeasure;
  emit({
    threads: 1,
    clients,
    connections: samples.length,
    errors,
    seconds,
    per_s: seconds > 0 ? samples.length / seconds : 0,
    p50_us: percentile(samples, 0.5),
    p99_us: percentile(samples, 0.99),
    max_us: percentile(samples, 1),
    ...cpu(),
  });
}

async function rtt(port: number, count: number, warmup: number, durationMs: number): Promise<void> {
  const socket = await dial(port);
  const ping = Buffer.from('p');
  const once1 = async (): Promise<void> => {
    const reply = readBytes(socket, 1);
    socket.write(ping);
    await reply;
  };
  for (let i = 0; i < warmup; i++) await once1();
  const samples: number[] = [];
  const t0 = now();
  const deadline = t0 + durationMs / 1000;
  while (samples.length < count && now() < deadline) {
    const t = now();
    await once1();
    samples.push((now() - t) * 1e6);
  }
  const seconds = now() - t0;
  socket.destroy();
  emit({
    count: samples.length,
    seconds,
    p50_us: percentile(samples, 0.5),
    p99_us: percentile(samples, 0.99),
    p999_us: percentile(samples, 0.999),
    max_us: percentile(samples, 1),
    ...cpu(),
  });
}

async function hold(port: number, n: number, timer: NodeJS.Timeout): Promise<void> {
  const sockets: Socket[] = [];
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const socket = await dial(port).catch((err: unknown) => fail(`connect #${i + 1}: ${String(err)}`));
    const reply = readBytes(socket, 1);
    socket.write('h');
    await reply;
    sockets.push(socket);
  }
  emit({ held: n, seconds: now() - t0 });
  clearTimeout(timer); // holding is bounded by the bench, which closes our stdin (or kills us)
  process.stdin.resume();
  await once(process.stdin, 'end');
  for (const s of sockets) s.destroy();
  emit({ closed: n, ...cpu() });
}

async function main(): Promise<void> {
  try {
    assertLoopback(host, 'HOST');
  } catch (err: unknown) {
    fail(err instanceof Error ? err.message : String(err));
  }
  if (mode === 'serve') return serve();
  const timeoutMs = int(rest.length - 1, 'TIMEOUT_MS');
  const timer = setTimeout(() => fail('timed out'), timeoutMs);
  const port = int(0, 'PORT');
  if (mode === 'bulk' && rest.length === 4) await bulk(port, int(1, 'CONNS'), int(2, 'BYTES'));
  else if (mode === 'rate' && rest.length === 7) await rate(port, int(2, 'CLIENTS'), int(3, 'MAX'), int(4, 'WARMUP'), int(5, 'DURATION_MS'));
  else if (mode === 'rtt' && rest.length === 5) await rtt(port, int(1, 'COUNT'), int(2, 'WARMUP'), int(3, 'DURATION_MS'));
  else if (mode === 'hold' && rest.length === 3) await hold(port, int(1, 'N'), timer);
  else fail(`bad arguments for mode ${mode}`);
  process.exit(0);
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
