/** Peers are optional: one that is installed but does not start is skipped with a note, and the run goes on. */
import { chmod, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import t from 'tap';
import { readResults, startBench, tempDir } from './run-bench.js';

t.test('a peer that fails to start is skipped with a note; direct and svcproxy still run', async (t) => {
  const bin = await tempDir(t);
  const fake = join(bin, 'haproxy'); // found first on PATH: prints a version, then fails to start
  await writeFile(fake, '#!/bin/sh\necho "HAProxy version 9.9.9-fake"\necho "[ALERT] fake haproxy cannot start" >&2\nexit 1\n');
  await chmod(fake, 0o755);
  const out = await tempDir(t);
  const env = { ...process.env, PATH: `${bin}${delimiter}${process.env['PATH'] ?? ''}` };
  const run = await startBench(t, ['--smoke', '--targets', 'svcproxy,haproxy', '--steps', 'rtt', '--out', out], undefined, env).done;
  if (run.code !== 0) t.comment(run.stderr);
  t.equal(run.code, 0, 'exit 0');
  t.match(run.stderr, /\[bench\] haproxy: skipped: installed but did not start: haproxy exited before listening: \[ALERT\] fake haproxy cannot start/);
  const results = await readResults(out);
  t.match(
    results.targets.find((r) => r.name === 'haproxy'),
    { available: false, version: '9.9.9-fake', note: /^installed but did not start/ },
  );
  t.equal(results.figures.haproxy, undefined);
  t.ok((results.figures.svcproxy?.rtt_p50_us ?? 0) > 0);
  t.ok((results.figures.direct?.rtt_p50_us ?? 0) > 0);
  t.match(run.stdout, /^ {2}haproxy: skipped: installed but did not start/m);
});
