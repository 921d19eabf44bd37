import t from 'tap';
import { END, figuresMarkdown, replaceFigures, START } from '../../scripts/bench/readme.js';
import { SMOKE } from '../../scripts/bench/options.js';
import type { BenchResults } from '../../scripts/bench/report.js';

t.test('replaceFigures swaps only what is between the markers', async (t) => {
  const readme = `# Bench\n\nprose\n\n${START}\nold\n${END}\n\nmore prose\n`;
  t.equal(replaceFigures(readme, 'new'), `# Bench\n\nprose\n\n${START}\nnew\n${END}\n\nmore prose\n`);
});

t.test('replaceFigures appends a marked section when there is none', async (t) => {
  t.equal(replaceFigures('# Bench\n', 'new'), `# Bench\n\n${START}\nnew\n${END}\n`);
});

t.test('figuresMarkdown names the date, machine, generator, peers and files', async (t) => {
  const results = {
    date: '2026-11-24T21:00:00.000Z',
    smoke: false,
    durationS: 80.4,
    sizes: SMOKE,
    fdLimits: { hard: 20000, backends: 1124 },
    notes: ['the machine was shared'],
    machine: {
      cpu: 'AMD EPYC',
      cores: 2,
      memoryGiB: 23.5,
      os: 'Debian 12',
      kernel: '6.1',
      node: 'v20.20.2',
      loadAverageStart: [1, 2, 3],
      loadAverageEnd: [4, 5, 6],
      busyBeforePct: 37,
    },
    generator: { impl: 'c', description: 'C (cc 12, -O2)' },
    targets: [
      { name: 'direct', available: true, version: 'no proxy', setup: 'x' },
      { name: 'haproxy', available: true, version: '2.6', setup: 'mode tcp', fdLimit: 1352 },
      { name: 'nginx', available: false, version: '', setup: '', note: 'nginx not installed' },
    ],
    figures: { direct: { bulk1_MBps: 4000 } },
    ratios: {},
    cpu: {},
  } as unknown as BenchResults;
  const md = figuresMarkdown(results, { json: 'a.json', svg: 'a.svg' });
  t.match(md, 'Measured 2026-11-24 21:00 UTC, in 80 s.');
  t.match(md, '- Machine: AMD EPYC, 2 cores, 23.5 GiB, Debian 12, Linux 6.1, Node v20.20.2.');
  t.match(md, '- Other load: the CPUs were 37% busy in the second before the start; load average 1 2 3 at start, 4 5 6 at end.');
  t.match(md, '- nginx: skipped: nginx not installed');
  t.match(md, '- haproxy: 2.6 (mode tcp), open-file limit 1352');
  t.match(md, '- Open-file limits: hard 20000; backends and generator raised to 1124, each proxy as listed.');
  t.match(md, '- Note: the machine was shared');
  t.match(md, '| 1. bulk, 1 conn | MB/s | higher | 4,000 |');
  t.match(md, 'Files: `a.json`, `a.svg`.');
});
