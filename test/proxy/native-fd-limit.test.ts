/**
 * The native pump at the fd limit, in a child process under a low
 * `ulimit -n` (this process's own limit is left alone): a hand-off that
 * cannot dup the sockets or make a pipe leaves the connection to the JS pump
 * and counts it; connections past the limit are refused without a crash, and
 * every descriptor comes back.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { eventually, readAll, startEchoServer } from '../helpers/net.js';
import { skipWithoutNative } from '../helpers/native.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'fd-limit-child.js');

interface ChildStats {
  readonly fds: number;
  readonly thread: { readonly connections: number; readonly pipes: number; readonly sparePipes: number; readonly pipeFailures: number };
  readonly handedOff: number;
  readonly fallbacks: Record<string, number>;
  readonly ended: { readonly native: number; readonly js: number };
  readonly acceptErrors: number;
  readonly storms: number;
}

interface Child {
  readonly port: number;
  stats(): Promise<ChildStats>;
}

async function startChild(t: Test, upstreamPort: number, freeAtHandOff: number, fdLimit: number): Promise<Child> {
  const child: ChildProcessWithoutNullStreams = spawn('bash', [
    '-c',
    `ulimit -n ${fdLimit} && exec "$0" "$@"`,
    process.execPath,
    CHILD,
    String(upstreamPort),
    String(freeAtHandOff),
  ]);
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end();
    await once(child, 'exit');
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const lines: Interface = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const { value, done } = (await iterator.next()) as IteratorResult<string>;
    if (done === true) throw new Error(`the child exited: ${stderr}`);
    return value;
  };
  const first = await next();
  const port = Number(/^port (\d+)$/.exec(first)?.[1] ?? 0);
  if (port === 0) throw new Error(`unexpected first line from the child: ${first} ${stderr}`);
  return {
    port,
    stats: async () => {
      child.stdin.write('stats\n');
      return JSON.parse(await next()) as ChildStats;
    },
  };
}

/**
 * One connection: sends a line, resolves 'echoed' when it comes back or how it ended otherwise. The socket stays open.
 * A refusal may arrive as a RST ('error') or, when the proxy (or libuv's EMFILE trick at accept) closed the socket
 * before the line reached it, as a FIN: with allowHalfOpen that is 'end' and no 'close', so 'end' counts too.
 */
function tryEcho(port: number, held: Socket[]): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    held.push(socket);
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    socket.on('end', () => resolve('ended'));
    socket.on('close', () => resolve('closed'));
    socket.on('connect', () => socket.write('ping'));
    socket.on('data', (c: Buffer) => {
      if (c.toString() === 'ping') resolve('echoed');
    });
  });
}

async function echoOnce(t: Test, port: number): Promise<string> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  t.teardown(() => {
    socket.destroy();
  });
  const outcome = readAll(socket);
  await once(socket, 'connect');
  socket.end('hello');
  return (await outcome).data.toString();
}

const skip = skipWithoutNative();

t.test('no fd for the dup at the hand-off: the JS pump carries the connection, counted as dup:EMFILE', { skip }, async (t) => {
  const upstream = await startEchoServer(t);
  const child = await startChild(t, upstream, 0, 256);
  t.equal(await echoOnce(t, child.port), 'hello', 'nothing is lost');
  await eventually(async () => (await child.stats()).ended.js === 1, 'the connection to end in the JS pump');
  const stats = await child.stats();
  t.same(stats.fallbacks, { 'dup:EMFILE': 1 });
  t.equal(stats.handedOff, 0);
  t.equal(await echoOnce(t, child.port), 'hello', 'the next connection is served');
  await eventually(async () => (await child.stats()).ended.native === 1, 'the next connection to be pumped natively');
});

t.test('EMFILE on pipe creation at the hand-off: the JS pump carries the connection, counted as pipe:EMFILE', { skip }, async (t) => {
  const upstream = await startEchoServer(t);
  const child = await startChild(t, upstream, 2, 256);
  t.equal(await echoOnce(t, child.port), 'hello', 'nothing is lost');
  await eventually(async () => (await child.stats()).ended.js === 1, 'the connection to end in the JS pump');
  const stats = await child.stats();
  t.same(stats.fallbacks, { 'pipe:EMFILE': 1 });
  t.equal(stats.thread.pipeFailures, 1);
  t.equal(stats.handedOff, 0);
});

t.test('more connections than the fd limit allows: the excess is refused, nothing crashes, every fd comes back', { skip }, async (t) => {
  const upstream = await startEchoServer(t);
  const child = await startChild(t, upstream, -1, 160);
  const before = await child.stats();
  const held: Socket[] = [];
  t.teardown(() => {
    for (const s of held) s.destroy();
  });
  const outcomes = await Promise.all(Array.from({ length: 150 }, () => tryEcho(child.port, held)));
  const served = outcomes.filter((o) => o === 'echoed').length;
  t.ok(served > 10, `some connections were served (${served})`);
  t.ok(served < 150, `the fd limit refused the rest (${150 - served})`);
  const during = await child.stats();
  t.comment(`accept errors ${during.acceptErrors}, accept storms ${during.storms}`);
  const fellBack = Object.values(during.fallbacks).reduce((a, b) => a + b, 0);
  t.equal(during.thread.connections + fellBack, served, 'every served connection is pumped, natively or (at the limit) in JS');
  t.same(
    Object.keys(during.fallbacks).filter((k) => !/^(dup|pipe):EMFILE$/.test(k)),
    [],
    'fallbacks are only for want of descriptors',
  );
  for (const s of held) s.destroy();
  await eventually(
    async () => {
      const now = await child.stats();
      return now.thread.connections === 0 && now.fds >= 0 && now.fds - 2 * now.thread.pipes <= before.fds - 2 * before.thread.pipes;
    },
    'every connection and its descriptors to be released',
    20_000,
  );
  t.equal(await echoOnce(t, child.port), 'hello', 'the proxy still serves');
});
