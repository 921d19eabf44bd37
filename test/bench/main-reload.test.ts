/**
 * Step 6 end to end at smoke size: svcproxy reloads a watched EndpointSlice a
 * few times and the figures are there; a peer is skipped with a note; every
 * process started is gone. No timing is asserted.
 */
import t, { type Test } from 'tap';
import { alive, pidsStarted, readResults, startBench, tempDir } from './run-bench.js';

/** Each reload is one run of svcproxy's, with its probe count and the reaped children's part of its CPU. */
function checkRuns(t: Test, results: Awaited<ReturnType<typeof readResults>>): void {
  const reloads = results.runs.filter((r) => r.step === 'reload');
  t.equal(reloads.length, 3);
  for (const r of reloads) {
    t.equal(r.target, 'svcproxy');
    t.ok((r.output['probes'] ?? 0) >= 1 && (r.output['latency_ms'] ?? 0) > 0);
    t.ok(
      (r.output['children_cpu_ms'] ?? -1) >= 0 && (r.output['children_cpu_ms'] ?? 0) <= (r.output['cpu_ms'] ?? 0),
      'the reaped children are part of the CPU figure',
    );
  }
}

t.test('--steps reload measures svcproxy reloads and skips the peers', async (t) => {
  const out = await tempDir(t);
  const run = await startBench(t, ['--smoke', '--verbose', '--targets', 'svcproxy,node-pipe', '--steps', 'reload', '--out', out]).done;
  if (run.code !== 0) t.comment(run.stderr);
  t.equal(run.code, 0, 'exit 0');
  t.match(run.stderr, /\[bench\] step 6\/7: config reload, a watched EndpointSlice change: 3 reload\(s\) per svcproxy target/);
  t.notMatch(run.stderr, /\[bench\] step [1-5]\//, 'no other step ran');
  const results = await readResults(out);
  const f = results.figures.svcproxy;
  t.ok((f?.reload_p50_ms ?? 0) > 0, `p50 ${String(f?.reload_p50_ms)}`);
  t.ok((f?.reload_p90_ms ?? 0) >= (f?.reload_p50_ms ?? Infinity), 'p90 is not below p50');
  t.ok((f?.reload_cpu_ms ?? -1) >= 0, `CPU per reload ${String(f?.reload_cpu_ms)}`);
  for (const peer of ['direct', 'node-pipe'] as const) t.equal(results.figures[peer]?.reload_p50_ms, undefined, `${peer}: no reload figure`);
  t.ok(
    results.notes.some((n) => n.startsWith('reload step: direct, node-pipe skipped (no config reload')),
    'the skip is noted',
  );
  checkRuns(t, results);
  t.match(run.stdout, /^6\. reload served p50\s+ms\s+lower\s+-\s+\d/m);
  t.match(run.stdout, /^6\. proxy CPU per reload\s+CPU-ms/m);
  t.same(pidsStarted(run.stderr).filter(alive), [], 'every process the bench started has exited');
});
