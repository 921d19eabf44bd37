/**
 * The harness end to end, at smoke size (seconds): every figure is present and
 * positive for every target that ran, and every process it started is gone.
 * No timing is asserted: the figures depend on the machine and its load.
 */
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { END, START } from '../../scripts/bench/readme.js';
import { alive, expectedFigures, pidsStarted, readResults, smokeHolds, startBench, tempDir } from './run-bench.js';

/** Every target that ran has every figure, its CPU shares, and the limits it ran with. */
function checkFigures(t: Test, results: Awaited<ReturnType<typeof readResults>>): void {
  const ran = results.targets.filter((r) => r.available).map((r) => r.name);
  t.ok(ran.includes('direct') && ran.includes('svcproxy'), 'direct and svcproxy always run');
  for (const skipped of results.targets.filter((r) => !r.available)) t.match(skipped.note, /not installed|no stream module|native splice pump is not built/);
  for (const target of ran) {
    for (const key of expectedFigures(target)) {
      const value = results.figures[target]?.[key as keyof (typeof results.figures)['direct']];
      t.ok(smokeHolds(key, value), `${target} ${key} = ${String(value)}`);
    }
    t.ok((results.cpu[target]?.bulk1?.generatorPct ?? -1) >= 0, `${target}: generator CPU reported`);
  }
  t.ok((results.ratios.svcproxy?.direct?.bulk1_MBps ?? 0) > 0, 'ratios to direct');
  t.equal(results.memory.svcproxy?.held, 100);
  t.ok(results.fdLimits.hard > 0 && (results.fdLimits.backends ?? 0) >= 100, 'open-file limits checked and reported');
  t.ok((results.targets.find((r) => r.name === 'svcproxy')?.fdLimit ?? 0) >= 200);
  t.ok((results.memory.svcproxy?.fdLimit ?? 0) >= 2 * 100, 'the proxy ran with room for every held connection');
}

t.test('a smoke run measures every target found, writes JSON, SVG and the README section, and leaves nothing running', async (t) => {
  const cwd = await tempDir(t);
  await mkdir(join(cwd, 'bench'));
  await copyFile(new URL('../../../bench/README.md', import.meta.url), join(cwd, 'bench', 'README.md'));
  const out = join(cwd, 'bench', 'results');
  const run = await startBench(t, ['--smoke', '--verbose', '--update-readme', '--example', '--steps', 'bulk1,bulk16,rate,rtt,memory,reload', '--out', out], cwd)
    .done;
  if (run.code !== 0) t.comment(run.stderr);
  t.equal(run.code, 0, 'exit 0');

  const results = await readResults(out);
  t.equal(results.schema, 1);
  t.equal(results.smoke, true);
  t.ok(results.durationS > 0);
  checkFigures(t, results);

  const files = await readdir(out);
  t.ok(files.some((f) => /^smoke-.*\.json$/.test(f)));
  t.ok(files.some((f) => /^smoke-.*\.svg$/.test(f)));
  t.match(await readFile(join(out, 'latest.svg'), 'utf8'), /^<svg /);
  t.same(JSON.parse(await readFile(join(out, 'example.json'), 'utf8')), results, '--example keeps a copy');
  t.ok(files.includes('example.svg'));
  const readme = await readFile(join(cwd, 'bench', 'README.md'), 'utf8');
  t.match(readme, new RegExp(`${START}\\nMeasured .* \\(SMOKE run: tiny sizes, not figures\\)`));
  t.match(readme, END);
  t.match(readme, /Files: `.*example\.json`, `.*example\.svg`\./);

  t.match(run.stdout, /^figure\s+unit\s+better\s+direct\s+svcproxy/m);
  for (const n of [1, 2, 3, 4, 5, 6]) t.match(run.stderr, new RegExp(`\\[bench\\] step ${n}/7: `), `progress line for step ${n}`);
  const pids = pidsStarted(run.stderr);
  t.ok(pids.length >= 10, 'backends, proxies and one generator per run');
  t.same(pids.filter(alive), [], 'every process the bench started has exited');
});

t.test('a non-loopback address is refused before anything starts', async (t) => {
  const out = await tempDir(t);
  const run = await startBench(t, ['--smoke', '--host', '192.0.2.10', '--out', out]).done;
  t.equal(run.code, 2);
  t.match(run.stderr, 'bench: --host: refusing "192.0.2.10": the bench only runs on IPv4 loopback (127.0.0.0/8)');
  t.same(await readdir(out), []);
});
