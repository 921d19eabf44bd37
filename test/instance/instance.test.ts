import { once } from 'node:events';
import t, { type Test } from 'tap';
import { Svcproxy } from '../../src/instance/instance.js';
import { loadDesired } from '../../src/instance/plan.js';
import type { Source } from '../../src/sources/source.js';
import { serviceWithEndpoints, testConfig } from '../helpers/instance.js';
import { silentLog } from '../helpers/log.js';
import { MemorySource } from '../helpers/memory-source.js';
import { freePort, request, startNamedServer } from '../helpers/net.js';

async function start(t: Test, sources: readonly Source[]): Promise<Svcproxy> {
  const config = testConfig('memory');
  const loaded = await loadDesired(config, sources);
  t.same(loaded.issues, [], 'the first snapshot is valid');
  const proxy = new Svcproxy(config, silentLog, { sources });
  t.teardown(() => proxy.stop());
  await proxy.start(loaded);
  return proxy;
}

t.test('two sources feed one instance: a Service from one, its endpoints from the other', async (t) => {
  const upstream = await startNamedServer(t, 'up');
  const port = await freePort();
  const whole = serviceWithEndpoints('web', port, [upstream]);
  const split = whole.indexOf('---');
  const proxy = await start(t, [new MemorySource('services.yaml', whole.slice(0, split)), new MemorySource('endpoints.yaml', whole.slice(split))]);
  t.same([...proxy.services.keys()], ['default/web']);
  t.match((await request(port, 'x')).data.toString(), /^up/);
});

t.test('a reload sees its sources change between its two reads: unsettled, then read again and applied', async (t) => {
  const port = await freePort();
  const source = new MemorySource('web.yaml', serviceWithEndpoints('web', port, [1]));
  const proxy = await start(t, [source]);
  source.text = serviceWithEndpoints('web', port, [2]);
  source.restless = 2; // both reads of the next reload see a version of their own
  const applied = once(proxy.events, 'reload');
  t.equal(await proxy.reload('watch'), 'unsettled');
  const [event] = (await applied) as [{ trigger: string; result: string }];
  t.match(event, { trigger: 'watch', result: 'success' }, 'the pending reload read it again, settled');
  t.equal(proxy.status.successes, 2);
});

t.test('a source that says it changed, with nothing changed: unchanged, nothing applied', async (t) => {
  const port = await freePort();
  const source = new MemorySource('web.yaml', serviceWithEndpoints('web', port, [1]));
  const proxy = await start(t, [source]);
  t.equal(await proxy.reload('poll'), 'unchanged');
  source.changed();
  t.equal(proxy.loop.state, 'reloading', 'the watch callback starts a reload');
  t.equal(await proxy.reload('watch'), 'unchanged', 'and a second trigger coalesces into it');
  t.equal(proxy.status.successes, 1);
});

t.test('the same object in two sources: the first source wins', async (t) => {
  const port = await freePort();
  const other = await freePort();
  const proxy = await start(t, [
    new MemorySource('a.yaml', serviceWithEndpoints('web', port, [1])),
    new MemorySource('b.yaml', serviceWithEndpoints('web', other, [2])),
  ]);
  t.same(
    proxy.services.get('default/web')?.ports.map((p) => p.port),
    [port],
  );
});
