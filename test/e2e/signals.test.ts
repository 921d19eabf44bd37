/**
 * Signals, in a real child process: SIGHUP reloads, SIGTERM drains.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import t, { type Test } from 'tap';
import { serviceWithEndpoints } from '../helpers/instance.js';
import { dialTo, eventually, freePort, readAll, request, startEchoServer, startServer } from '../helpers/net.js';
import { configDir, serveCli, type Served } from '../helpers/process.js';

/** The built CLI serving an echo Service, with one established connection through it. */
async function servingWithLiveConnection(t: Test, drainTimeout: string): Promise<{ served: Served; client: Socket; port: number }> {
  const echo = await startEchoServer(t);
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [echo]) });
  const served = serveCli(t, ['--config', dir, '--admin-address', `127.0.0.1:${await freePort()}`, '--drain-timeout', drainTimeout]);
  await served.waitForLog((l) => l['msg'] === 'started', 'started');
  const client = await dialTo(t, port);
  client.write('x');
  await once(client, 'data');
  return { served, client, port };
}

t.test('SIGHUP reloads at once (with watching and polling off)', async (t) => {
  const a = await startServer(t, (s) => s.end('a'));
  const b = await startServer(t, (s) => s.end('b'));
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [a]) });
  const served = serveCli(t, ['--config', dir, '--admin-address', `127.0.0.1:${await freePort()}`, '--no-watch', '--config-poll-interval', '0']);
  await served.waitForLog((l) => l['msg'] === 'started', 'started');
  await writeFile(join(dir, 'web.yaml'), serviceWithEndpoints('web', port, [b]));
  t.equal((await request(port)).data.toString(), 'a', 'not watching: the old config still serves');
  served.child.kill('SIGHUP');
  await served.waitForLog((l) => l['msg'] === 'config applied' && l['trigger'] === 'signal', 'the reload');
  t.equal((await request(port)).data.toString(), 'b');
  served.child.kill('SIGTERM');
  t.equal((await served.exited).code, 0);
});

t.test('SIGTERM with a live connection: listeners close at once, the connection completes, exit 0', async (t) => {
  const { served, client, port } = await servingWithLiveConnection(t, '20s');
  served.child.kill('SIGTERM');
  await served.waitForLog((l) => l['msg'] === 'draining', 'draining');
  t.equal((await request(port)).error, 'ECONNREFUSED', 'no new connections while draining');
  t.equal(served.child.exitCode, null, 'still running while the connection is open');
  const rest = readAll(client);
  client.end('after');
  t.same(await rest, { data: Buffer.from('after'), error: '' }, 'the connection completes normally');
  const exit = await served.exited;
  t.equal(exit.code, 0);
  t.notOk(served.logs.some((l) => l['msg'] === 'drain timeout; resetting the remaining connections'));
});

t.test('SIGTERM with --drain-timeout shorter than the connection: it is reset at the deadline, exit 0', async (t) => {
  const { served, client } = await servingWithLiveConnection(t, '300ms');
  const outcome = readAll(client);
  served.child.kill('SIGTERM');
  t.equal((await outcome).error, 'ECONNRESET');
  t.equal((await served.exited).code, 0);
  t.ok(served.logs.some((l) => l['msg'] === 'drain timeout; resetting the remaining connections'));
});

t.test('a second signal exits at once', async (t) => {
  const { served, client } = await servingWithLiveConnection(t, '60s');
  const outcome = readAll(client);
  served.child.kill('SIGTERM');
  await served.waitForLog((l) => l['msg'] === 'draining', 'draining');
  served.child.kill('SIGINT');
  t.equal((await served.exited).code, 1);
  t.equal((await outcome).error, 'ECONNRESET');
  await eventually(() => client.destroyed, 'the client to be closed');
});
