/**
 * /metrics read by a real Prometheus text-format parser
 * (parse-prometheus-text-format, a port of the Prometheus Python client's
 * parser): every line parses, every family has its HELP and TYPE, names keep
 * Prometheus' conventions. That parser folds a labelled histogram's series
 * into one (it keeps the buckets of the last, and no sum or count), so the
 * histogram's series are checked with the suite's own line parser.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import t from 'tap';
import { get, metric, parseMetrics } from '../helpers/admin.js';
import { serviceWithEndpoints, startInstance } from '../helpers/instance.js';
import { freePort, request, startServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';

t.test('every family of /metrics parses, typed and documented, after some traffic', async (t) => {
  const up = await startServer(t, (s) => s.end('x'));
  const [web, empty] = [await freePort(), await freePort()];
  const dir = await configDir(t, {
    'web.yaml': serviceWithEndpoints('web', web, [up]),
    // A quote, a backslash and a newline cannot be in a Service name; the port name is the only free text, and it is validated too.
    'empty.yaml': serviceWithEndpoints('empty', empty, []),
  });
  const proxy = await startInstance(t, dir);
  for (let i = 0; i < 3; i++) await request(web);
  await request(empty);
  const body = (await get(proxy.adminPort, '/metrics')).body;

  const families = parsePrometheusTextFormat(body);
  const names = families.map((f) => f.name);
  t.equal(new Set(names).size, names.length, 'each family once');
  t.ok(families.length >= 25, `${families.length} families`);
  for (const f of families) {
    t.not(f.help, '', `${f.name} has HELP`);
    t.not(f.type, 'UNTYPED', `${f.name} has a TYPE`);
    if (f.name.endsWith('_total')) t.equal(f.type, 'COUNTER', `${f.name}: _total is a counter`);
    if (f.type === 'COUNTER') t.ok(f.name.endsWith('_total'), `${f.name}: a counter ends in _total`);
  }
  const family = (name: string) => families.find((f) => f.name === name);
  const labelsOf = { namespace: 'default', service: 'web', port: String(web) };
  t.match(family('svcproxy_connections_total')?.metrics, [
    { labels: { namespace: 'default', service: 'empty' }, value: '1' },
    { labels: labelsOf, value: '3' },
  ]);
  t.match(
    family('svcproxy_rejected_connections_total')?.metrics.find((m) => m.labels?.['service'] === 'empty' && m.labels['reason'] === 'no_endpoints'),
    { value: '1' },
  );

  const histogram = family('svcproxy_upstream_connect_seconds');
  t.equal(histogram?.type, 'HISTOGRAM');
  // (An object's integer-like keys come first, so compare as sorted lists.)
  t.same(
    Object.keys(histogram?.metrics[0]?.buckets ?? {}).sort(),
    ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'].sort(),
    'every bucket docs/metrics.md lists, and +Inf',
  );
  const samples = parseMetrics(body);
  const buckets = samples.filter((s) => s.name === 'svcproxy_upstream_connect_seconds_bucket' && s.labels['service'] === 'web').map((s) => s.value);
  t.same(
    buckets,
    [...buckets].sort((a, b) => a - b),
    'cumulative bucket counts',
  );
  t.equal(buckets.at(-1), 3);
  t.equal(metric(samples, 'svcproxy_upstream_connect_seconds_count', labelsOf), 3);
});

t.test('the parser is strict: a broken exposition throws (so the test above can fail)', async (t) => {
  t.throws(() => parsePrometheusTextFormat('# TYPE x counter\nx{a="b" 1\n'));
});
