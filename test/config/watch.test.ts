/**
 * Every save is seen, however the editor writes it (issue 25): an atomic save
 * (a temp file renamed over the config) repeated three times in a row is each
 * time applied by the watch, with the poll on (but too slow to be the one that
 * notices) and with --config-poll-interval 0. "Applied by the watch" is the
 * assertion (the `trigger` of the `config applied` line), not how fast: the
 * deadlines are generous for a loaded machine; the poll never fires within them.
 */
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ConfigWatcher, type WatchTrigger } from '../../src/config/watch.js';
import { serviceWithEndpoints } from '../helpers/instance.js';
import { eventually, freePort, request, startServer } from '../helpers/net.js';
import { configDir, serveCli } from '../helpers/process.js';

/**
 * An atomic save: the whole text into a temp file, renamed over the target.
 * The temp file is written outside the watched tree (same file system), as
 * tools that keep their temp files in one place do, so the only event the
 * watched directory sees is the entry renamed into it: a watch that follows
 * the file's old inode (Node's recursive fs.watch on Linux) sees nothing.
 */
let tempDir = '';
async function atomicSave(path: string, text: string, round: number): Promise<void> {
  tempDir ||= await mkdtemp(join(tmpdir(), 'svcproxy-save-'));
  const temp = join(tempDir, `${round}.tmp`);
  await writeFile(temp, text);
  await rename(temp, path);
}
t.teardown(() => (tempDir === '' ? undefined : rm(tempDir, { recursive: true, force: true })));

async function threeSaves(t: Test, opts: { pollInterval: string; asFile: boolean }): Promise<void> {
  const backend = await startServer(t, (s) => s.end('ok'));
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [backend]) });
  await mkdir(join(dir, 'team'));
  await writeFile(join(dir, 'team', 'api.yaml'), serviceWithEndpoints('api', await freePort(), [backend]));
  const admin = await freePort();
  const config = opts.asFile ? join(dir, 'web.yaml') : dir;
  const served = serveCli(t, ['--config', config, '--admin-address', `127.0.0.1:${admin}`, '--config-poll-interval', opts.pollInterval]);
  await served.waitForLog((l) => l['msg'] === 'started', 'started', 30_000);
  const applied = (): Array<Record<string, unknown>> => served.logs.filter((l) => l['msg'] === 'config applied');
  const targets = opts.asFile ? [join(dir, 'web.yaml')] : [join(dir, 'web.yaml'), join(dir, 'team', 'api.yaml'), join(dir, 'web.yaml')];
  let last = port;
  for (let round = 1; round <= 3; round++) {
    const target = targets[(round - 1) % targets.length] ?? '';
    last = await freePort();
    const name = target.endsWith('api.yaml') ? 'api' : 'web';
    await atomicSave(target, serviceWithEndpoints(name, last, [backend]), round);
    await served.waitForLog(() => applied().length >= round, `save ${round} applied`, 30_000);
    t.equal(applied().length, round, `save ${round}: applied once`);
    t.equal(applied()[round - 1]?.['trigger'], 'watch', `save ${round} (${target.slice(dir.length)}): applied by the watch, not the poll`);
    t.equal((await request(last)).data.toString(), 'ok', `save ${round}: the new port serves`);
  }
}

t.test('three atomic saves in a config tree, poll on (1h): each applied by the watch', (t) => threeSaves(t, { pollInterval: '1h', asFile: false }));
t.test('three atomic saves in a config tree, --config-poll-interval 0: each applied', (t) => threeSaves(t, { pollInterval: '0', asFile: false }));
t.test('three atomic saves of a config file, --config-poll-interval 0: each applied', (t) => threeSaves(t, { pollInterval: '0', asFile: true }));

t.test('ConfigWatcher: a directory added later and a directory replaced are watched again', async (t) => {
  const dir = await configDir(t, { 'a.yaml': 'a: 1\n' });
  const seen: WatchTrigger[] = [];
  const watcher = new ConfigWatcher(dir, { debounceMs: 20, pollIntervalMs: 0, watch: true }, (trigger) => seen.push(trigger), {
    warn: () => undefined,
    debug: () => undefined,
  });
  watcher.start();
  t.teardown(() => watcher.stop());
  await mkdir(join(dir, 'sub'));
  await eventually(() => seen.length >= 1, 'the new directory noticed', 20_000);
  // The new directory's own watch is armed in the debounce that reported it: saves inside it are seen, every time.
  for (let round = 1; round <= 3; round++) {
    const before = seen.length;
    await atomicSave(join(dir, 'sub', 'b.yaml'), `b: ${round}\n`, round + 10);
    await eventually(() => seen.length > before, `save ${round} inside the new directory`, 20_000);
  }
  // The directory replaced by another under its name (a new inode): the new one is watched.
  const beforeSwap = seen.length;
  await mkdir(join(dir, 'sub2'));
  await writeFile(join(dir, 'sub2', 'c.yaml'), 'c: 0\n');
  await rename(join(dir, 'sub'), join(dir, 'sub-old'));
  await rename(join(dir, 'sub2'), join(dir, 'sub'));
  await eventually(() => seen.length > beforeSwap, 'the swap noticed', 20_000);
  const before = seen.length;
  await atomicSave(join(dir, 'sub', 'c.yaml'), 'c: 1\n', 9);
  await eventually(() => seen.length > before, 'a save inside the replacement directory', 20_000);
  t.ok(seen.every((s) => s === 'watch'));
});
