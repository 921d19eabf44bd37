/**
 * The reload soak, in a file of its own: 100 reloads, each validated in a
 * fresh worker, take most of a file's time budget on a loaded machine, and
 * shared it with the rest of reload.test.ts.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { freePort, request, startServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';
import { serviceWithEndpoints, startInstance } from '../helpers/instance.js';

// Not a deadline on anything the test measures: the file's hang guard. Each reload validates in a fresh process
// (about 0.5 s of CPU-bound work with two CPU burners beside the suite), so 100 of them outgrow tap's 60 s there, as
// config-input.test.ts's 300 reloads do (the same guard, the same reason).
t.setTimeout(240_000);

/** A backend that says its name first, then echoes: tells where a connection went and that it still works. */
function startTaggedEcho(t: Test, name: string): Promise<number> {
  return startServer(t, (s) => {
    s.write(`${name}|`);
    s.pipe(s);
  });
}

t.test('soak: 100 reloads in a row while a client connects without pause: no failed connection', async (t) => {
  const a = await startTaggedEcho(t, 'a');
  const b = await startTaggedEcho(t, 'b');
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [a, b]) });
  const proxy = await startInstance(t, dir, { watch: false });
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const client = (async () => {
    const deadline = Date.now() + 30_000;
    while (!stop && Date.now() < deadline) {
      const outcome = await request(port, 'x');
      if (outcome.error === '' && /^[ab]\|x$/.test(outcome.data.toString())) ok++;
      else failures.push(`${outcome.error} ${outcome.data.toString()}`);
    }
  })();
  const sets = [[a], [b], [a, b], [b, a]];
  for (let i = 0; i < 100; i++) {
    await writeFile(join(dir, 'web.yaml'), serviceWithEndpoints('web', port, sets[i % sets.length]!));
    t.equal(await proxy.reload('api'), 'applied', `reload ${i}`);
  }
  stop = true;
  await client;
  t.same(failures, [], 'no failed connection');
  t.ok(ok > 0, `${ok} connections succeeded during the reloads`);
  t.equal(proxy.status.successes, 101);
});
