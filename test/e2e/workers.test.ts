/**
 * --workers N: a primary and N worker processes sharing the listeners.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { serviceWithEndpoints } from '../helpers/instance.js';
import { freePort, portOf, request, startServer } from '../helpers/net.js';
import { configDir, runCli, serveCli } from '../helpers/process.js';

/** Two consecutive free ports: worker 1's and worker 2's admin servers. */
async function twoFreePorts(): Promise<number> {
  for (;;) {
    const port = await freePort();
    const next = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      next.once('error', () => resolve(false));
      next.listen(port + 1, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise<void>((resolve) => next.close(() => resolve()));
      return port;
    }
  }
}

async function metric(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
  return Number(line?.split(' ').pop() ?? 'NaN');
}

t.test('two workers share the Service port; each has its own admin server; SIGHUP and SIGTERM reach both', async (t) => {
  const a = await startServer(t, (s) => s.end('a'));
  const b = await startServer(t, (s) => s.end('b'));
  const port = await freePort();
  const admin = await twoFreePorts();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [a]) });
  const served = serveCli(t, ['--config', dir, '--admin-address', `127.0.0.1:${admin}`, '--workers', '2', '--no-watch', '--config-poll-interval', '0']);
  await served.waitForLog((l) => l['msg'] === 'started' && l['worker'] === 1, 'worker 1 started');
  await served.waitForLog((l) => l['msg'] === 'started' && l['worker'] === 2, 'worker 2 started');
  for (const p of [admin, admin + 1]) t.equal((await fetch(`http://127.0.0.1:${p}/readyz`)).status, 200, `worker admin on ${p} is ready`);

  for (let i = 0; i < 20; i++) t.equal((await request(port)).data.toString(), 'a');
  const counted = (await metric(admin, 'svcproxy_connections_total')) + (await metric(admin + 1, 'svcproxy_connections_total'));
  t.equal(counted, 20, 'every connection was served by one of the two workers');

  await writeFile(join(dir, 'web.yaml'), serviceWithEndpoints('web', port, [b]));
  served.child.kill('SIGHUP');
  await served.waitForLog((l) => l['msg'] === 'applying config' && l['trigger'] === 'signal' && l['worker'] === 1, 'worker 1 reloaded');
  await served.waitForLog((l) => l['msg'] === 'applying config' && l['trigger'] === 'signal' && l['worker'] === 2, 'worker 2 reloaded');
  for (let i = 0; i < 6; i++) t.equal((await request(port)).data.toString(), 'b', 'whichever worker answers, it has the new config');

  served.child.kill('SIGTERM');
  const exit = await served.exited;
  t.equal(exit.code, 0);
  t.equal(served.logs.filter((l) => l['msg'] === 'stopped').length, 2, 'both workers drained and stopped');
  t.equal((await request(port)).error, 'ECONNREFUSED');
});

t.test('worker 2 serves without an admin server when its admin port is taken', async (t) => {
  const a = await startServer(t, (s) => s.end('a'));
  const admin = await twoFreePorts();
  const blocker = createServer();
  blocker.listen(admin + 1, '127.0.0.1'); // worker 2's admin port
  await once(blocker, 'listening');
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  t.equal(portOf(blocker), admin + 1);
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [a]) });
  const served = serveCli(t, ['--config', dir, '--admin-address', `127.0.0.1:${admin}`, '--workers', '2']);
  await served.waitForLog((l) => l['msg'] === 'started' && l['worker'] === 1, 'worker 1 started');
  await served.waitForLog((l) => l['msg'] === 'started' && l['worker'] === 2, 'worker 2 started');
  t.match(served.logs.find((l) => l['worker'] === 2 && l['level'] === 'warn'), { msg: 'admin server not started for this worker; serving without it' });
  for (let i = 0; i < 4; i++) t.equal((await request(port)).data.toString(), 'a');
  served.child.kill('SIGTERM');
  t.equal((await served.exited).code, 0);
});

t.test('a worker that cannot start (worker 1: its admin port is taken) stops the whole set, exit 1', async (t) => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const admin = portOf(blocker);
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', await freePort(), [1]) });
  const run = await runCli(['--config', dir, '--admin-address', `127.0.0.1:${admin}`, '--workers', '2']);
  t.equal(run.code, 1);
  t.match(run.stderr, `svcproxy: worker 1: admin server cannot listen on 127.0.0.1:${admin}`);
  t.match(run.stdout, /worker failed to start; stopping/);
});

t.test('an invalid config is reported once, by the primary, before any worker starts', async (t) => {
  const dir = await configDir(t, { 'a.yaml': 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 0}]}\n' });
  const run = await runCli(['--config', dir, '--admin-address', `127.0.0.1:${await freePort()}`, '--workers', '2']);
  t.equal(run.code, 1);
  t.equal(run.stderr.trim().split('\n').length, 1);
  t.notMatch(run.stdout, /started workers/);
});
