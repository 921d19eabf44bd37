/**
 * Stopping while a reload is in flight (SIGTERM just after a config write, or
 * a test's teardown): the reload must not go on to change a registry that
 * shutdown has closed. It used to, and threw "invariant: unknown listener"
 * as an unhandled rejection (seen on a loaded machine, where validation is
 * slow enough for a stop to land in the middle).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { serviceWithEndpoints, startInstance } from '../helpers/instance.js';
import { freePort, startEchoServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';

t.test('a reload still validating when stop() is called settles without touching the stopped registry', async (t) => {
  const echo = await startEchoServer(t);
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [echo]) });
  const proxy = await startInstance(t, dir, { watch: false });
  await writeFile(join(dir, 'web.yaml'), serviceWithEndpoints('web', await freePort(), [echo]));
  const reload = proxy.reload('api'); // validation runs in a worker: the stop lands before the apply
  await proxy.stop();
  t.equal(await reload, 'unchanged', 'nothing applied after the stop');
  t.equal(proxy.registry.listeners.size, 0, 'no listener opened after the stop');
});
