/**
 * A config's notes ("not proxied: headless") are logged when they are new:
 * a reload that keeps a note does not log it again; one that brings a new
 * note logs that one; a note that went and came back is logged again.
 */
import t, { type Test } from 'tap';
import { Svcproxy } from '../../src/instance/instance.js';
import { loadDesired } from '../../src/instance/plan.js';
import { serviceWithEndpoints, testConfig } from '../helpers/instance.js';
import { captureLogger, type LogRecord } from '../helpers/log.js';
import { MemorySource } from '../helpers/memory-source.js';
import { freePort } from '../helpers/net.js';

function headless(name: string): string {
  return `---
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec: {clusterIP: None, ports: [{port: 5432}]}
`;
}

async function start(t: Test, source: MemorySource): Promise<{ proxy: Svcproxy; records: LogRecord[] }> {
  const { log, records } = captureLogger('info');
  const config = testConfig('memory');
  const loaded = await loadDesired(config, [source]);
  t.same(loaded.issues, [], 'the first snapshot is valid');
  const proxy = new Svcproxy(config, log, { sources: [source] });
  t.teardown(() => proxy.stop());
  await proxy.start(loaded);
  return { proxy, records };
}

function headlessNotes(records: readonly LogRecord[]): string[] {
  return records.filter((r) => r.msg.startsWith('not proxied: ')).map((r) => String(r['object']));
}

t.test('a note is logged once while the reloads keep it, again when it comes back', async (t) => {
  const port = await freePort();
  const source = new MemorySource('shop.yaml', serviceWithEndpoints('web', port, [1]) + headless('db'));
  const { proxy, records } = await start(t, source);
  t.same(headlessNotes(records), ['Service default/db'], 'at start');
  source.text = serviceWithEndpoints('web', port, [1, 2]) + headless('db');
  t.equal(await proxy.reload('watch'), 'applied');
  source.text = serviceWithEndpoints('web', port, [2]) + headless('db') + headless('cache');
  t.equal(await proxy.reload('watch'), 'applied');
  t.same(headlessNotes(records), ['Service default/db', 'Service default/cache'], 'two reloads: only the new note');
  source.text = serviceWithEndpoints('web', port, [2]) + headless('cache');
  t.equal(await proxy.reload('watch'), 'applied');
  source.text = serviceWithEndpoints('web', port, [2]) + headless('cache') + headless('db');
  t.equal(await proxy.reload('watch'), 'applied');
  t.same(headlessNotes(records), ['Service default/db', 'Service default/cache', 'Service default/db'], 'db went and came back: logged again');
});
