/** The reload step's parts: its backends, its probe, its manifests. No timing is asserted. */
import { parse } from 'yaml';
import t from 'tap';
import { reloadService, reloadSlice } from '../../scripts/bench/configs.js';
import { nameServer, whoAnswers } from '../../scripts/bench/reload.js';
import { freePort } from '../../scripts/bench/targets.js';

t.test('a name server says its name to every connection, and the probe reads it to the close', async (t) => {
  const a = await nameServer('127.0.0.1', 'A');
  t.teardown(() => a.server.close());
  t.equal(await whoAnswers('127.0.0.1', a.port), 'A');
  t.equal(await whoAnswers('127.0.0.1', a.port), 'A', 'again: one answer per connection');
});

t.test('the probe answers the empty string when nothing listens', async (t) => {
  t.equal(await whoAnswers('127.0.0.1', await freePort('127.0.0.1')), '');
});

t.test('the reload manifests: a Service on the listen port, a slice naming one backend port (unnamed, to match the Service port)', async (t) => {
  t.match(parse(reloadService('127.0.0.1', 40001)), { kind: 'Service', metadata: { name: 'bench-reload' }, spec: { ports: [{ port: 40001 }] } });
  t.match(parse(reloadSlice('127.0.0.1', 50001)), {
    kind: 'EndpointSlice',
    metadata: { labels: { 'kubernetes.io/service-name': 'bench-reload' } },
    ports: [{ name: '', port: 50001 }],
    endpoints: [{ addresses: ['127.0.0.1'] }],
  });
  t.throws(() => reloadSlice('10.0.0.1', 1), /refusing "10\.0\.0\.1"/);
  t.throws(() => reloadService('0.0.0.0', 1), /refusing "0\.0\.0\.0"/);
});
