import t from 'tap';
import { SMOKE } from '../../scripts/bench/options.js';
import {
  cpuOf,
  cpuRows,
  FIGURE_KEYS,
  FIGURES,
  figuresOf,
  formatRatio,
  formatValue,
  markdownTable,
  ratioColumns,
  ratiosOf,
  tableRows,
  textTable,
  type BenchResults,
} from '../../scripts/bench/report.js';
import type { RunRecord } from '../../scripts/bench/steps.js';

const usage = { wallS: 1, generatorCpuS: 0.5, proxyCpuS: 0.75, backendCpuS: 0.25 };
function runs(target: 'direct' | 'svcproxy', scale: number): RunRecord[] {
  return [1, 2, 3].flatMap((rep) => [
    { step: 'bulk1', target, rep, output: { mbps: scale * (1000 + rep) }, usage },
    { step: 'bulk16', target, rep, output: { mbps: scale * 900 }, usage },
    { step: 'rate', target, rep, output: { per_s: scale * 1e4, p50_us: 100 / scale, p99_us: 200 / scale }, usage },
    { step: 'rtt', target, rep, output: { p50_us: 10 / scale, p99_us: 20 / scale, p999_us: 30 / scale }, usage },
  ]);
}

t.test('every figure has a definition; memory figures have no per-run source, the others exactly one', async (t) => {
  t.same(
    FIGURES.map((f) => f.key),
    [...FIGURE_KEYS],
  );
  for (const f of FIGURES) {
    const sources = (f.field === undefined ? 0 : 1) + (f.perRun === undefined ? 0 : 1);
    t.equal(sources, f.step === 'memory' ? 0 : 1, f.key);
  }
});

t.test('proxy CPU per unit of work: per GiB, per connection, per round trip; none without a proxy', async (t) => {
  const cpu = (key: string): ((r: RunRecord) => number | undefined) => {
    const f = FIGURES.find((d) => d.key === key)?.perRun;
    if (f === undefined) throw new Error(`${key} has no perRun`);
    return f;
  };
  const run = (output: Record<string, number>, proxyCpuS: number | undefined): RunRecord => ({
    step: 'bulk1',
    target: 'svcproxy',
    rep: 1,
    output,
    usage: { wallS: 1, generatorCpuS: 0, proxyCpuS, backendCpuS: 0 },
  });
  t.equal(cpu('bulk1_cpu_s_per_GiB')(run({ bytes: 2 * 1024 ** 3 }, 1)), 0.5);
  t.equal(cpu('bulk16_cpu_s_per_GiB')(run({ bytes: 1024 ** 3 }, 0.25)), 0.25);
  t.equal(cpu('rate_cpu_us_per_conn')(run({ connections: 1000 }, 0.05)), 50);
  t.equal(cpu('rtt_cpu_us_per_rt')(run({ count: 100 }, 0.001)), 10);
  t.equal(cpu('bulk1_cpu_s_per_GiB')(run({ bytes: 1024 ** 3 }, undefined)), undefined, 'direct: no proxy');
  t.equal(cpu('rate_cpu_us_per_conn')(run({}, 0.05)), undefined, 'no count: no figure');
  t.equal(formatValue(0.1234, 'CPU-s'), '0.123');
  t.equal(formatValue(12.34, 'CPU-µs'), '12.3');
});

t.test('ratio columns: the JS pump against the bare Node pipe proxy and HAProxy', async (t) => {
  t.same(ratioColumns(['direct', 'svcproxy', 'svcproxy-js', 'node-pipe', 'haproxy']), [
    ['svcproxy', 'direct'],
    ['svcproxy', 'svcproxy-js'],
    ['svcproxy', 'node-pipe'],
    ['svcproxy', 'haproxy'],
    ['svcproxy-js', 'node-pipe'],
    ['svcproxy-js', 'haproxy'],
    ['svcproxy-js', 'direct'],
    ['node-pipe', 'direct'],
    ['haproxy', 'direct'],
  ]);
});

t.test('figuresOf: medians of the runs, their spread, and memory in MiB/KiB', async (t) => {
  const mem = {
    held: 100,
    rssBeforeBytes: 10 * 2 ** 20,
    rssHeldBytes: 11 * 2 ** 20,
    perConnBytes: 2048,
    rssBeforeSpread: [10 * 2 ** 20, 10 * 2 ** 20] as const,
    rssHeldSpread: [11 * 2 ** 20, 11 * 2 ** 20] as const,
    gcForced: true,
    openSeconds: 0.1,
    fdLimit: 4096,
  };
  const { figures, spread } = figuresOf(runs('svcproxy', 1), mem);
  t.equal(figures.bulk1_MBps, 1002);
  t.same(spread.bulk1_MBps, [1001, 1003]);
  t.equal(figures.rate_per_s, 1e4);
  t.equal(figures.rtt_p999_us, 30);
  t.equal(figures.rss_idle_MiB, 10);
  t.equal(figures.rss_held_MiB, 11);
  t.equal(figures.rss_per_conn_KiB, 2);
  t.notOk('rss_held_MiB' in figuresOf(runs('direct', 1), undefined).figures, 'no proxy, no memory figure');
});

t.test('cpuOf: % of one core over the step, proxy undefined for direct', async (t) => {
  t.same(cpuOf(runs('svcproxy', 1), 'rate'), { wallS: 3, generatorPct: 50, proxyPct: 75, backendPct: 25 });
  const directRuns = runs('direct', 1).map((r) => ({ ...r, usage: { ...r.usage, proxyCpuS: undefined } }));
  t.equal(cpuOf(directRuns, 'rate')?.proxyPct, undefined);
  t.equal(cpuOf([], 'rate'), undefined);
});

t.test('ratiosOf: every target against every other, value / reference', async (t) => {
  const figures = { direct: figuresOf(runs('direct', 2), undefined).figures, svcproxy: figuresOf(runs('svcproxy', 1), undefined).figures };
  const r = ratiosOf(figures);
  t.equal(r.svcproxy?.direct?.bulk1_MBps, 0.5);
  t.equal(r.svcproxy?.direct?.rtt_p50_us, 2);
  t.equal(r.direct?.svcproxy?.bulk1_MBps, 2);
  t.equal(r.svcproxy?.haproxy, undefined);
});

t.test('formatting', async (t) => {
  t.equal(formatValue(1234.6, 'MB/s'), '1,235');
  t.equal(formatValue(12.345, 'µs'), '12.3');
  t.equal(formatValue(1234.5, 'µs'), '1,235');
  t.equal(formatValue(3.25, 'KiB'), '3.3');
  t.equal(formatValue(undefined, 'MiB'), '-');
  t.equal(formatRatio(0.956), '0.96x');
  t.equal(formatRatio(undefined), '-');
  t.same(ratioColumns(['direct', 'svcproxy', 'haproxy']), [
    ['svcproxy', 'direct'],
    ['svcproxy', 'haproxy'],
    ['haproxy', 'direct'],
  ]);
});

t.test('tables: a row per figure with values and ratios, text and Markdown', async (t) => {
  const figures = { direct: figuresOf(runs('direct', 2), undefined).figures, svcproxy: figuresOf(runs('svcproxy', 1), undefined).figures };
  const results = {
    sizes: SMOKE,
    figures,
    ratios: ratiosOf(figures),
    cpu: { svcproxy: { rate: cpuOf(runs('svcproxy', 1), 'rate') } },
  } as unknown as BenchResults;
  const rows = tableRows(results);
  t.same(rows[0], ['figure', 'unit', 'better', 'direct', 'svcproxy', 'svcproxy/direct']);
  t.same(rows[1], ['1. bulk, 1 conn', 'MB/s', 'higher', '2,004', '1,002', '0.50x']);
  t.equal(rows.length, FIGURES.length + 1);
  t.ok(
    rows.some((r) => r[0] === `5. RSS, ${SMOKE.holdConns} conns`),
    'the memory row names the connections held',
  );
  const text = textTable(rows);
  t.match(text, /^figure\s+unit\s+better\s+direct\s+svcproxy\s+svcproxy\/direct$/m);
  const md = markdownTable(rows);
  t.match(md, /^\| figure \| unit \| better \| direct \| svcproxy \| svcproxy\/direct \|$/m);
  t.match(md, /^\| --- \| ---: \|/m);
  t.equal(markdownTable([]), '');
  t.same(cpuRows(results)[3], ['rate', '50 / 75 / 25']);
  t.same(cpuRows(results)[1], ['bulk1', '-']);
});

t.test('reload figures: median and 90th percentile of the reloads, CPU per reload in ms; only where reloads ran', async (t) => {
  const reloads: RunRecord[] = [120, 100, 400, 110, 130, 105, 115, 125, 135, 140].map((latency, i) => ({
    step: 'reload',
    target: 'svcproxy',
    rep: i + 1,
    output: { latency_ms: latency, cpu_ms: 50 + i, children_cpu_ms: 40, probes: 10 },
    usage: { wallS: latency / 1000, generatorCpuS: 0, proxyCpuS: (50 + i) / 1000, backendCpuS: 0 },
  }));
  const { figures, spread } = figuresOf(reloads, undefined);
  t.equal(figures.reload_p50_ms, 120, 'the lower middle of ten');
  t.equal(figures.reload_p90_ms, 140, 'nearest rank: the 9th of ten');
  t.equal(figures.reload_cpu_ms, 54);
  t.same(spread.reload_p50_ms, [100, 400]);
  t.equal(figuresOf(runs('svcproxy', 1), undefined).figures.reload_p50_ms, undefined, 'no reloads, no figure');
  t.equal(formatValue(123.456, 'ms'), '123.5');
  t.equal(formatValue(12.34, 'CPU-ms'), '12.3');
  t.same(
    FIGURES.filter((f) => f.step === 'reload').map((f) => [f.label, f.unit, f.better]),
    [
      ['6. reload served p50', 'ms', 'lower'],
      ['6. reload served p90', 'ms', 'lower'],
      ['6. proxy CPU per reload', 'CPU-ms', 'lower'],
    ],
  );
});
