import { execFile } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { AccessLog, openAccessLog } from '../../src/access-log/access-log.js';
import { Lease, type LeaseOwner } from '../../src/proxy/lease.js';
import { servicePortKey } from '../../src/state/types.js';
import { captureLogger, silentLog } from '../helpers/log.js';
import { eventually } from '../helpers/net.js';

const owner: LeaseOwner = { key: servicePortKey('default', 'web', ''), settle: () => undefined };

function lease(n: number): Lease {
  const l = new Lease(owner, 'TCP', '127.0.0.1', 40000 + n);
  l.end('client_fin', { fromDownstream: n, fromUpstream: 2 * n });
  return l;
}

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-access-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('lines go to the file in order, batched, and are counted', async (t) => {
  const file = join(await tempDir(t), 'access.log');
  const log = new AccessLog(openAccessLog(file), { format: 'json', base: { pid: 1 }, flushMs: 5 }, silentLog);
  for (let i = 1; i <= 3000; i++) log.record(lease(i));
  await log.close();
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  t.equal(lines.length, 3000);
  t.same(
    lines.slice(0, 3).map((l) => (JSON.parse(l) as { bytesFromClient: number }).bytesFromClient),
    [1, 2, 3],
  );
  t.equal((JSON.parse(lines[2999] ?? '{}') as { client: string }).client, '127.0.0.1:43000');
  t.equal(log.written, 3000);
  t.equal(log.dropped, 0);
  log.record(lease(1));
  t.equal(log.dropped, 1, 'a lease that ends after close is dropped and counted');
});

t.test('the file is appended to, and the text format is used when asked', async (t) => {
  const file = join(await tempDir(t), 'access.log');
  const first = new AccessLog(openAccessLog(file), { format: 'text', base: { pid: 1 }, flushMs: 5 }, silentLog);
  first.record(lease(1));
  await first.close();
  const second = new AccessLog(openAccessLog(file), { format: 'text', base: { pid: 1 }, flushMs: 5 }, silentLog);
  second.record(lease(2));
  await second.close();
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  t.equal(lines.length, 2);
  t.match(lines[1], /^127\.0\.0\.1:40002 \[.*\] default\/web TCP - -\/\d+ 2 4 client_fin$/);
});

t.test('a path that cannot be opened is an error with the reason', async (t) => {
  const dir = await tempDir(t);
  t.throws(() => openAccessLog(join(dir, 'missing', 'access.log')), { message: new RegExp(`^--access-log: cannot open ${dir}/missing/access\\.log: ENOENT`) });
  t.throws(() => openAccessLog(dir), { message: /EISDIR/ });
  t.match(openAccessLog('-'), { fd: 1, owned: false });
});

t.test('a full disk: lines are dropped and counted, a warning is logged, forwarding never waits', async (t) => {
  const { log: logger, records } = captureLogger('info');
  const log = new AccessLog(openAccessLog('/dev/full'), { format: 'json', base: { pid: 1 }, flushMs: 5, retryMs: 5 }, logger);
  t.equal(log.written, 0);
  for (let i = 0; i < 100; i++) log.record(lease(i));
  await eventually(() => log.dropped === 100, 'every line dropped');
  t.equal(log.written, 0);
  t.match(
    records.find((r) => r.msg === 'access log write failed; lines dropped'),
    { level: 'warn', code: 'ENOSPC' },
  );
  await log.close();
});

t.test('a reader that never reads: the queue is bounded, lines beyond it are dropped, the event loop keeps turning', async (t) => {
  const dir = await tempDir(t);
  const fifo = join(dir, 'fifo');
  await promisify(execFile)('mkfifo', [fifo]);
  // Opened read-write and non-blocking: the pipe has a reader (us) that never reads, as a stalled `| slow-consumer`.
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  const log = new AccessLog({ fd, stream: true, owned: true }, { format: 'json', base: { pid: 1 }, flushMs: 1, maxQueued: 500 }, silentLog);
  const lines = 5000; // about 1.2 MB of JSON: far beyond the 64 KiB pipe buffer plus the queue
  let turns = 0;
  const ticker = setInterval(() => turns++, 1);
  for (let i = 0; i < lines; i++) {
    log.record(lease(i));
    // Let writes start, as traffic would: the first 250 lines (about 60 KB) must reach the pipe before the rest come,
    // or a loaded machine's late flush timer finds only a full queue and nothing written yet.
    if (i === 250) await eventually(() => log.written > 0, 'the first lines to be written');
    else if (i % 250 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await eventually(() => log.queued === 500, 'the pipe to fill, and the queue with it');
  clearInterval(ticker);
  t.ok(log.dropped > 0, `lines dropped (${log.dropped}) rather than waited for`);
  t.ok(log.written > 0 && log.written < lines, `what fits in the pipe was written (${log.written})`);
  t.ok(log.queued <= 500, 'the queue never grows past its bound');
  t.ok(turns > 0, 'timers kept firing while the pipe was full');
  const closing = Date.now();
  await log.close(200);
  t.ok(Date.now() - closing < 2000, 'close gives up on a reader that never reads');
  t.equal(log.queued, 0);
});
