/**
 * --access-log on a FIFO (issue 25), with a real mkfifo and a real svcproxy
 * child process: no reader is an error at start (not an open() that waits
 * forever); a reader that stops reading never holds up the exit after
 * SIGTERM, and what could not be written by the drain deadline is counted
 * as dropped. Bounded by deadlines (a process that hangs fails the test and
 * is killed at teardown), never by how long anything took.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { serviceWithEndpoints } from '../helpers/instance.js';
import { freePort, request, startServer } from '../helpers/net.js';
import { configDir, serveCli, type Run, type Served } from '../helpers/process.js';

async function fifo(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-fifo-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'access.fifo');
  execFileSync('mkfifo', [path]);
  return path;
}

/** The process's exit, or a failure once `timeoutMs` has passed (the teardown then kills it). */
function exitWithin(served: Served, timeoutMs: number, what: string): Promise<Run> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: still running after ${timeoutMs} ms\nstdout:\n${served.logs.map((l) => JSON.stringify(l)).join('\n')}`)),
      timeoutMs,
    );
  });
  return Promise.race([served.exited, late]).finally(() => clearTimeout(timer));
}

t.test('a FIFO with no reader: svcproxy does not hang in open(); it exits at once with a clear error', async (t) => {
  const path = await fifo(t);
  const dir = await configDir(t, { 'empty.yaml': '# nothing\n' });
  const served = serveCli(t, ['--config', dir, '--admin-address', `127.0.0.1:${await freePort()}`, '--access-log', path]);
  const run = await exitWithin(served, 30_000, 'start with no FIFO reader');
  t.not(run.code, 0, 'an error at start');
  t.match(run.stderr, `--access-log: cannot open ${path}: ENXIO: a FIFO with no reader (start its reader first)`);
  t.notOk(
    served.logs.some((l) => l['msg'] === 'started'),
    'never started',
  );
});

t.test('a stalled FIFO reader: SIGTERM still exits; what the pipe would not take is counted as dropped', async (t) => {
  const path = await fifo(t);
  // The reader: opened (non-blocking, so no writer is needed yet) and never read until svcproxy has exited.
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  t.teardown(() => closeSync(reader));
  const backend = await startServer(t, (s) => s.end('ok'));
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [backend]) });
  const served = serveCli(t, ['--config', dir, '--admin-address', `127.0.0.1:${await freePort()}`, '--access-log', path]);
  await served.waitForLog((l) => l['msg'] === 'started', 'started', 30_000);
  // ~300-byte lines: 600 connections are about three times what a 64 KiB pipe holds.
  const connections = 600;
  for (let done = 0; done < connections; done += 20) {
    const batch = await Promise.all(Array.from({ length: 20 }, () => request(port)));
    if (!batch.every((o) => o.data.toString() === 'ok')) t.fail('a request through the proxy failed');
  }
  served.child.kill('SIGTERM');
  const run = await exitWithin(served, 30_000, 'exit after SIGTERM with a stalled FIFO reader');
  t.equal(run.code, 0, 'a clean exit');
  const closed = served.logs.find((l) => l['msg'] === 'access log closed');
  t.ok(closed !== undefined, 'the access log said what it wrote and dropped');
  const written = Number(closed?.['written']);
  const dropped = Number(closed?.['dropped']);
  t.ok(dropped > 0, `${dropped} lines dropped (the pipe was full)`);
  t.equal(written + dropped, connections, 'every connection either written or counted as dropped');
  t.ok(
    served.logs.some((l) => l['msg'] === 'access log: lines not written by the exit deadline dropped'),
    'the drop at the deadline is logged',
  );
  // What was written is in the pipe, whole lines only.
  let text = '';
  const buffer = Buffer.alloc(64 * 1024);
  for (;;) {
    let n = 0;
    try {
      n = readSync(reader, buffer);
    } catch {
      break; // EAGAIN: nothing more
    }
    if (n === 0) break; // EOF: the writer is gone
    text += buffer.subarray(0, n).toString('utf8');
  }
  const lines = text.split('\n').filter((l) => l !== '');
  t.equal(lines.length, written, 'the lines in the pipe are the written ones');
  t.ok(
    lines.every((l) => String((JSON.parse(l) as { servicePort?: string }).servicePort).startsWith('default/web')),
    'each a whole JSON line',
  );
});
