/**
 * No line another writer appends to the hosts file is lost while svcproxy
 * rewrites its block (issue 25): child processes append lines (open, append,
 * close, as `echo >> /etc/hosts` does, taking no lock) while the test
 * rewrites the block as fast as it can; every appended line is there once at
 * the end, and the block is the last one written.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BLOCK_BEGIN, BLOCK_END, updateHostsFile } from '../../src/dns/hosts-file.js';

/** A child that appends `count` lines `<id> <i>` to `path`, one open-append-close each, 5-35 ms apart. */
const APPENDER = `
const fs = require('node:fs');
const [path, id, count] = process.argv.slice(1);
const pause = new Int32Array(new SharedArrayBuffer(4));
for (let i = 0; i < Number(count); i++) {
  fs.appendFileSync(path, '127.1.' + id + '.' + i + '\\tappended-' + id + '-' + i + '\\n');
  Atomics.wait(pause, 0, 0, 5 + Math.floor(Math.random() * 30));
}
`;

t.test('concurrent appenders racing the rewrites: every appended line survives, exactly once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-hosts-race-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'hosts');
  await writeFile(path, '127.0.0.1 localhost\n');
  const appenders = 3;
  const count = 60;
  const children = Array.from({ length: appenders }, (_, id) =>
    spawn(process.execPath, ['-e', APPENDER, path, String(id), String(count)], { stdio: 'inherit' }),
  );
  t.teardown(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  let running = appenders;
  const exits = children.map(async (c) => {
    const [code] = (await once(c, 'exit')) as [number | null];
    running--;
    return code;
  });
  let round = 0;
  let lastBlock: string[] = [];
  // Rewrite while any appender runs (and at least a few times): each round a different block.
  while (running > 0 || round < 5) {
    round++;
    lastBlock = [`127.96.0.${round % 250}\tweb-${round}.default.svc.cluster.local`, `127.96.1.${round % 250}\tapi-${round}.shop.svc.cluster.local`];
    await updateHostsFile(path, lastBlock);
  }
  t.same(await Promise.all(exits), Array(appenders).fill(0), 'the appenders finished');
  t.comment(`${round} rewrites raced ${appenders * count} appends`);
  const text = await readFile(path, 'utf8');
  const lines = text.split('\n');
  const lost: string[] = [];
  const doubled: string[] = [];
  for (let id = 0; id < appenders; id++) {
    for (let i = 0; i < count; i++) {
      const line = `127.1.${id}.${i}\tappended-${id}-${i}`;
      const n = lines.filter((l) => l === line).length;
      if (n === 0) lost.push(line);
      if (n > 1) doubled.push(line);
    }
  }
  t.same(lost, [], 'no appended line lost');
  t.same(doubled, [], 'none doubled');
  t.ok(text.startsWith('127.0.0.1 localhost\n'), 'the text before stays');
  const begin = lines.indexOf(BLOCK_BEGIN);
  t.same(lines.slice(begin + 1, lines.indexOf(BLOCK_END, begin)), lastBlock, 'the block is the last one written');
  t.equal(lines.filter((l) => l === BLOCK_BEGIN).length, 1, 'one block');
});
