/** An interrupted bench stops every process it started, by process group, and exits 130. */
import { availableParallelism } from 'node:os';
import t from 'tap';
import { which } from '../../scripts/bench/targets.js';
import { alive, pidsStarted, startBench, tempDir } from './run-bench.js';

t.test('SIGINT in the middle of a step: everything started is stopped, exit 130', async (t) => {
  const out = await tempDir(t);
  const bench = startBench(t, ['--smoke', '--verbose', '--pin', '--out', out]);
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (/step 1\/\d/.test(bench.stderr())) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
    void bench.done.then(() => {
      clearInterval(timer);
      reject(new Error(`the bench ended before step 1:\n${bench.stderr()}`));
    });
  });
  bench.child.kill('SIGINT');
  const run = await bench.done;
  if (run.code !== 130) t.comment(run.stderr);
  t.equal(run.code, 130, 'exit 130');
  t.match(run.stderr, /interrupted \(SIGINT\): stopping \d+ process\(es\)/);
  if (which('taskset') !== undefined && availableParallelism() > 1) {
    t.match(run.stderr, /pinned: proxies on CPU \d+, generator and backends on CPU /, '--pin places the processes');
  }
  const pids = pidsStarted(run.stderr);
  t.ok(pids.length >= 3, 'backends and proxies had started');
  t.same(pids.filter(alive), [], 'none of them is left');
});
