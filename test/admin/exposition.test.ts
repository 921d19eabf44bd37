import t from 'tap';
import { escapeLabelValue, Exposition, formatValue } from '../../src/admin/exposition.js';

t.test('label values escape backslash, double quote and line feed, and nothing else', async (t) => {
  const cases: Array<[string, string]> = [
    ['plain', 'plain'],
    ['a"b', 'a\\"b'],
    ['c:\\dir', 'c:\\\\dir'],
    ['two\nlines', 'two\\nlines'],
    ['tab\tand {braces} = ok', 'tab\tand {braces} = ok'],
    ['\\"\n', '\\\\\\"\\n'],
  ];
  for (const [input, want] of cases) t.equal(escapeLabelValue(input), want, JSON.stringify(input));
});

t.test('values are written as Prometheus reads floats', async (t) => {
  const cases: Array<[number, string]> = [
    [0, '0'],
    [42, '42'],
    [0.0005, '0.0005'],
    [1.5e21, '1.5e+21'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
  ];
  for (const [input, want] of cases) t.equal(formatValue(input), want, String(input));
});

t.test('a family with HELP and TYPE, samples with escaped labels, and a cumulative histogram', async (t) => {
  const text = new Exposition()
    .family('demo_total', 'counter', 'A demo\\counter\nover two lines.')
    .sample('demo_total', { service: 'we"b' }, 3)
    .sample('demo_total', {}, 1)
    .family('demo_seconds', 'histogram', 'A histogram.')
    .histogram('demo_seconds', { port: 'http' }, { bounds: [0.1, 1], counts: [1, 0, 2], sum: 7.25, count: 3 })
    .text();
  t.equal(
    text,
    [
      '# HELP demo_total A demo\\\\counter\\nover two lines.',
      '# TYPE demo_total counter',
      'demo_total{service="we\\"b"} 3',
      'demo_total 1',
      '# HELP demo_seconds A histogram.',
      '# TYPE demo_seconds histogram',
      'demo_seconds_bucket{port="http",le="0.1"} 1',
      'demo_seconds_bucket{port="http",le="1"} 1',
      'demo_seconds_bucket{port="http",le="+Inf"} 3',
      'demo_seconds_sum{port="http"} 7.25',
      'demo_seconds_count{port="http"} 3',
      '',
    ].join('\n'),
  );
});
