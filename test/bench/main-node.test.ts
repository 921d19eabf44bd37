/**
 * The Node fallback (no C compiler, or --impl node) runs the same steps; and
 * --cpu-prof leaves a profile that profile-summary can read.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { expectedFigures, PROFILE_SUMMARY, readResults, smokeHolds, startBench, tempDir } from './run-bench.js';

t.test('--impl node: the Node load generator and backends produce every figure, and say so', async (t) => {
  const out = await tempDir(t);
  const run = await startBench(t, [
    '--smoke',
    '--impl',
    'node',
    '--targets',
    'svcproxy',
    '--steps',
    'bulk1,bulk16,rate,rtt,memory,reload',
    '--cpu-prof',
    '--out',
    out,
  ]).done;
  if (run.code !== 0) t.comment(run.stderr);
  t.equal(run.code, 0, 'exit 0');
  const results = await readResults(out);
  t.equal(results.generator.impl, 'node');
  t.ok(
    results.notes.some((n) => /^no C load generator: Node v\d+.* load generator \(--impl node\)/.test(n)),
    'the notes say the Node generator was used',
  );
  t.same(
    results.targets.map((r) => r.name),
    ['direct', 'svcproxy'],
  );
  for (const target of ['direct', 'svcproxy'] as const) {
    for (const key of expectedFigures(target)) {
      const value = results.figures[target]?.[key as keyof (typeof results.figures)['direct']];
      t.ok(smokeHolds(key, value), `${target} ${key} = ${String(value)}`);
    }
  }

  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (a loader thread may add its own).
  const profiles = (await readdir(join(out, 'profiles'))).filter((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  t.equal(profiles.length, 1, 'one main-thread profile of svcproxy over steps 1-4');
  const summary = spawn(process.execPath, [PROFILE_SUMMARY, join(out, 'profiles', profiles[0] ?? ''), '5'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  summary.stdout.on('data', (c: Buffer) => (text += c.toString()));
  const [code] = await once(summary, 'close');
  t.equal(code, 0);
  t.match(text, /by category \(% of all samples\):\n\s+\d+\.\d%/);
  t.match(text, /by function, self time/);
});
