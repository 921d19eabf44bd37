/**
 * Live reconfiguration, in-process: real files in temp directories, real
 * sockets, the real watcher.
 *
 * How fast a change applies is a figure, not an assertion: on a quiet machine a
 * watched change of endpoints is served within about 0.3 s of the write (150 ms
 * debounce, the 100 ms settle read, validation in a fresh child process); on a
 * loaded shared machine the child's start alone measured 0.6-1.6 s. So these
 * tests wait for the change with APPLY_DEADLINE_MS, a bound that only a broken
 * reload misses, and the latency is measured by `npm run bench -- --steps reload`.
 */
import { once } from 'node:events';
import { mkdir, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { captureLogger } from '../helpers/log.js';
import { dialTo, eventually, freePort, portOf, request, startServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';
import { serviceWithEndpoints, startInstance } from '../helpers/instance.js';

/** A watched change must be served by then; only a reload that never happens misses it (see the header). */
const APPLY_DEADLINE_MS = 15_000;

/** A backend that says its name first, then echoes: tells where a connection went and that it still works. */
function startTaggedEcho(t: Test, name: string): Promise<number> {
  return startServer(t, (s) => {
    s.write(`${name}|`);
    s.pipe(s);
  });
}

async function whoAnswers(port: number): Promise<string> {
  const outcome = await request(port);
  return outcome.error === '' ? (outcome.data.toString().split('|')[0] ?? '') : outcome.error;
}

/** Sends `text` on an established connection and waits for its echo. */
async function echoes(socket: Socket, text: string): Promise<boolean> {
  let got = '';
  const done = new Promise<boolean>((resolve) => {
    const onData = (c: Buffer): void => {
      got += c.toString();
      if (got.endsWith(text)) {
        socket.removeListener('data', onData);
        resolve(true);
      }
    };
    socket.on('data', onData);
  });
  socket.write(text);
  return done;
}

async function openTagged(t: Test, port: number): Promise<{ socket: Socket; tag: string }> {
  const socket = await dialTo(t, port);
  const [first] = (await once(socket, 'data')) as [Buffer];
  return { socket, tag: first.toString() };
}

t.test('endpoints change: new connections reach the new endpoint; an established one keeps echoing', async (t) => {
  const a = await startTaggedEcho(t, 'a');
  const b = await startTaggedEcho(t, 'b');
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [a]) });
  const proxy = await startInstance(t, dir);
  const established = await openTagged(t, port);
  t.equal(established.tag, 'a|');

  await writeFile(join(dir, 'web.yaml'), serviceWithEndpoints('web', port, [b]));
  await eventually(async () => (await whoAnswers(port)) === 'b', 'the new endpoint', APPLY_DEADLINE_MS);
  t.ok(await echoes(established.socket, 'still here'), 'the established connection still echoes');
  t.equal(proxy.status.successes, 2);
});

t.test('a Service removed: its port refuses; its open connection keeps working', async (t) => {
  const a = await startTaggedEcho(t, 'a');
  const port = await freePort();
  const other = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [a]), 'other.yaml': serviceWithEndpoints('other', other, [a]) });
  await startInstance(t, dir);
  const established = await openTagged(t, port);
  await unlink(join(dir, 'web.yaml'));
  await eventually(async () => (await whoAnswers(port)) === 'ECONNREFUSED', 'the port to refuse', APPLY_DEADLINE_MS);
  t.ok(await echoes(established.socket, 'after removal'));
  t.equal(await whoAnswers(other), 'a', 'the other Service still serves');
});

t.test('an invalid edit: the old snapshot keeps serving and every problem is logged with its path', async (t) => {
  const a = await startTaggedEcho(t, 'a');
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [a]) });
  const { log, records } = captureLogger('info');
  const proxy = await startInstance(t, dir, {}, log);
  await writeFile(join(dir, 'web.yaml'), serviceWithEndpoints('web', port, [a]).replace(`port: ${port}}`, 'port: 0}'));
  await eventually(() => proxy.status.failures === 1, 'the reload to fail');
  t.match(
    records.filter((r) => r.level === 'error').map((r) => r.msg),
    [
      `invalid config: ${join(dir, 'web.yaml')}[0] Service default/web: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive`,
      'config rejected; still serving the last good config',
    ],
  );
  t.same(proxy.status.lastErrors, [
    `${join(dir, 'web.yaml')}[0] Service default/web: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive`,
  ]);
  t.equal(await whoAnswers(port), 'a');
});

t.test('a Kubernetes ConfigMap-style ..data symlink swap is seen three times in a row', async (t) => {
  const backends = [await startTaggedEcho(t, 'v0'), await startTaggedEcho(t, 'v1'), await startTaggedEcho(t, 'v2'), await startTaggedEcho(t, 'v3')];
  const port = await freePort();
  const dir = await configDir(t, {});
  // The kubelet's AtomicWriter layout: web.yaml -> ..data/web.yaml, ..data -> ..<timestamp>/
  const writeVersion = async (v: number): Promise<void> => {
    const versionDir = `..2026_11_24_00_00_0${v}.000000000`;
    await mkdir(join(dir, versionDir));
    await writeFile(join(dir, versionDir, 'web.yaml'), serviceWithEndpoints('web', port, [backends[v]!]));
    await symlink(versionDir, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    if (v > 0) await rm(join(dir, `..2026_11_24_00_00_0${v - 1}.000000000`), { recursive: true });
  };
  await writeVersion(0);
  await symlink(join('..data', 'web.yaml'), join(dir, 'web.yaml'));
  await startInstance(t, dir);
  t.equal(await whoAnswers(port), 'v0');
  for (const v of [1, 2, 3]) {
    await writeVersion(v);
    await eventually(async () => (await whoAnswers(port)) === `v${v}`, `swap ${v}`, APPLY_DEADLINE_MS);
  }
});

t.test('an editor-style save (write a temp file, rename it over the original) is seen', async (t) => {
  const a = await startTaggedEcho(t, 'a');
  const b = await startTaggedEcho(t, 'b');
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [a]) });
  await startInstance(t, dir);
  await writeFile(join(dir, '.web.yaml.swp'), serviceWithEndpoints('web', port, [b]));
  await rename(join(dir, '.web.yaml.swp'), join(dir, 'web.yaml'));
  await eventually(async () => (await whoAnswers(port)) === 'b', 'the saved change', APPLY_DEADLINE_MS);
});

t.test('a config given as a single file is watched through its directory', async (t) => {
  const a = await startTaggedEcho(t, 'a');
  const b = await startTaggedEcho(t, 'b');
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [a]), 'ignored.yaml': 'not: [valid' });
  await startInstance(t, join(dir, 'web.yaml'));
  await writeFile(join(dir, 'web.yaml.tmp'), serviceWithEndpoints('web', port, [b]));
  await rename(join(dir, 'web.yaml.tmp'), join(dir, 'web.yaml'));
  await eventually(async () => (await whoAnswers(port)) === 'b', 'the change', APPLY_DEADLINE_MS);
});

t.test('a port taken by another process: that listener retries and binds once it is free; readiness says why meanwhile', async (t) => {
  const a = await startTaggedEcho(t, 'a');
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const taken = portOf(blocker);
  const free = await freePort();
  const dir = await configDir(t, { 'a.yaml': serviceWithEndpoints('taken', taken, [a]), 'b.yaml': serviceWithEndpoints('free', free, [a]) });
  const proxy = await startInstance(t, dir);
  t.equal(await whoAnswers(free), 'a', 'the other Service serves');
  t.match(proxy.ready, { ready: false, reason: new RegExp(`not bound: TCP 127.0.0.1:${taken} \\(EADDRINUSE`) });
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  await eventually(async () => (await whoAnswers(taken)) === 'a', 'the listener to bind after the port is freed', 5000);
  t.same(proxy.ready, { ready: true, reason: 'ok' });
});

t.test('a retrying listener whose Service goes away stops retrying', async (t) => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const dir = await configDir(t, { 'a.yaml': serviceWithEndpoints('taken', portOf(blocker), [1]) });
  const proxy = await startInstance(t, dir);
  t.equal(proxy.registry.failedListeners().length, 1);
  await writeFile(join(dir, 'a.yaml'), '# no Services any more\n');
  await eventually(() => proxy.registry.listeners.size === 0, 'the listener to be closed');
  t.equal(proxy.registry.failedListeners().length, 0);
});
