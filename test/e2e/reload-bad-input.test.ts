/**
 * Bad input while running: each is an invalid snapshot or a clear error;
 * the last good config keeps serving; never a crash, never an empty config
 * applied by accident.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Svcproxy } from '../../src/instance/instance.js';
import { serviceWithEndpoints, startInstance } from '../helpers/instance.js';
import { freePort, request, startServer } from '../helpers/net.js';
import { CLI, configDir, runCli } from '../helpers/process.js';

async function setup(t: Test): Promise<{ dir: string; port: number; proxy: Svcproxy; good: string }> {
  const backend = await startServer(t, (s) => s.end('ok'));
  const port = await freePort();
  const good = serviceWithEndpoints('web', port, [backend]);
  const dir = await configDir(t, { 'web.yaml': good });
  const proxy = await startInstance(t, dir, { watch: false });
  return { dir, port, proxy, good };
}

async function stillServes(t: Test, port: number): Promise<void> {
  t.equal((await request(port)).data.toString(), 'ok', 'the last good config still serves');
}

t.test('a YAML document cut mid-way is invalid', async (t) => {
  const { dir, port, proxy, good } = await setup(t);
  await writeFile(join(dir, 'web.yaml'), good.slice(0, good.indexOf('ports:') + 12));
  t.equal(await proxy.reload('api'), 'invalid');
  t.match(proxy.status.lastErrors.join('\n'), /web\.yaml\[0\]/);
  await stillServes(t, port);
});

t.test('a document cut between objects is still checked whole: a Service cut off its endpoints is a change, an object cut mid-way is an error', async (t) => {
  const { dir, port, proxy, good } = await setup(t);
  await writeFile(join(dir, 'web.yaml'), good.slice(0, good.indexOf('addressType')));
  t.equal(await proxy.reload('api'), 'invalid', 'a slice without addressType');
  await stillServes(t, port);
});

t.test('an empty directory is invalid, never an empty config', async (t) => {
  const { dir, port, proxy } = await setup(t);
  await unlink(join(dir, 'web.yaml'));
  t.equal(await proxy.reload('api'), 'invalid');
  t.match(proxy.status.lastErrors, [/the directory holds no \*\.yaml, \*\.yml or \*\.json file/]);
  await stillServes(t, port);
});

t.test('a zero-byte file (still being written) is invalid', async (t) => {
  const { dir, port, proxy } = await setup(t);
  await writeFile(join(dir, 'web.yaml'), '');
  t.equal(await proxy.reload('api'), 'invalid');
  t.match(proxy.status.lastErrors, [/web\.yaml: the file is empty/]);
  await stillServes(t, port);
});

t.test('the config directory deleted is invalid', async (t) => {
  const { dir, port, proxy } = await setup(t);
  await rm(dir, { recursive: true });
  t.equal(await proxy.reload('api'), 'invalid');
  t.match(proxy.status.lastErrors, [/cannot read the config: ENOENT/]);
  await stillServes(t, port);
  await mkdir(dir); // for teardown
});

t.test('the config directory replaced by a file is a clear error', async (t) => {
  const { dir, port, proxy, good } = await setup(t);
  await rm(dir, { recursive: true });
  await writeFile(dir, good);
  t.equal(await proxy.reload('api'), 'invalid');
  t.match(proxy.status.lastErrors, [/the config path was a directory when svcproxy started and is now a file/]);
  await stillServes(t, port);
  await rm(dir);
  await mkdir(dir);
});

t.test('a symlink loop is a clear error', async (t) => {
  const { dir, port, proxy } = await setup(t);
  await unlink(join(dir, 'web.yaml'));
  await symlink('loop-b.yaml', join(dir, 'loop-a.yaml'));
  await symlink('loop-a.yaml', join(dir, 'loop-b.yaml'));
  t.equal(await proxy.reload('api'), 'invalid');
  t.match(proxy.status.lastErrors.join('\n'), /ELOOP/);
  await stillServes(t, port);
});

t.test('an empty but valid snapshot (every Service removed, on purpose) is applied', async (t) => {
  const { dir, port, proxy } = await setup(t);
  await writeFile(join(dir, 'web.yaml'), '# every Service removed on purpose\n');
  t.equal(await proxy.reload('api'), 'applied');
  t.equal(proxy.registry.listeners.size, 0);
  t.equal((await request(port)).error, 'ECONNREFUSED');
});

t.test('the same invalid content seen again is not reported again', async (t) => {
  const { dir, proxy } = await setup(t);
  await writeFile(join(dir, 'web.yaml'), 'kind: [');
  t.equal(await proxy.reload('poll'), 'invalid');
  t.equal(await proxy.reload('poll'), 'unchanged');
  t.equal(proxy.status.failures, 1);
});

t.test('permission denied is a clear error', async (t) => {
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', 18000, [18001]) });
  await chmod(join(dir, 'web.yaml'), 0o000);
  await chmod(dir, 0o755);
  let run;
  if (process.getuid?.() === 0) {
    // root reads anything: run the check as the unprivileged 'nobody' user instead.
    await chmod(join(dir, 'web.yaml'), 0o600);
    const child = spawn(process.execPath, [CLI, '--check', '--config', dir], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, 'close')) as [number];
    run = { code, stderr };
  } else {
    run = await runCli(['--check', '--config', dir]);
  }
  t.equal(run.code, 1);
  t.match(run.stderr, /web\.yaml: cannot read: EACCES/);
});
