/**
 * Step 7 end to end at smoke size: svcproxy --cluster and kubectl port-forward (skipped with a note where kubectl is
 * missing) through the fake API server; every connection reached the fake's port-forward, the 3-Pod Service spread
 * its connections, the targets are reported; every process started is gone. No timing is asserted.
 */
import { spawnSync } from 'node:child_process';
import t, { type Test } from 'tap';
import { alive, pidsStarted, readResults, startBench, tempDir } from './run-bench.js';

const hasKubectl = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8', timeout: 10_000 }).status === 0;

type Pf = NonNullable<Awaited<ReturnType<typeof readResults>>['portforward']>;

/** kubectl measured on its one Pod, with every target met or not; or, where it is missing, skipped with a note. */
function checkKubectlSide(t: Test, pf: Pf, stdout: string): void {
  if (hasKubectl) {
    t.ok((pf.figures.kubectl?.pf_bulk16_MBps ?? 0) > 0 && (pf.figures.kubectl?.pf_connect_p99_us ?? 0) > 0, 'kubectl measured');
    t.same(pf.bulk16ByPod.kubectl, { 'pf-1': 16 }, 'kubectl reaches its one Pod');
    t.ok((pf.ratios.svcproxy?.pf_bulk1_MBps ?? 0) > 0, 'ratios to kubectl');
    t.ok(
      pf.goals.every((g) => typeof g.met === 'boolean'),
      'every target met or not',
    );
    t.match(stdout, /throughput, 1 connection: svcproxy >= kubectl: .* = \d+\.\d\dx: (MET|NOT MET)/);
  } else {
    t.comment('kubectl is not installed here: its side is skipped (the test checks the note)');
    t.match(
      pf.forwarders.find((f) => f.name === 'kubectl'),
      { available: false, note: /kubectl not installed/ },
    );
  }
}

t.test('--steps portforward: svcproxy --cluster beside kubectl port-forward, through the fake API server', async (t) => {
  const out = await tempDir(t);
  const run = await startBench(t, ['--smoke', '--verbose', '--steps', 'portforward', '--out', out]).done;
  if (run.code !== 0) t.comment(run.stderr);
  t.equal(run.code, 0, 'exit 0');
  t.match(run.stderr, /\[bench\] step 7\/7: port-forward: /);
  t.notMatch(run.stderr, /\[bench\] step [1-6]\//, 'no other step ran');
  const pf = (await readResults(out)).portforward;
  if (pf === undefined) throw new Error('no portforward section in the results');
  for (const key of ['pf_bulk1_MBps', 'pf_bulk16_MBps', 'pf_connect_p50_us', 'pf_connect_p99_us'] as const)
    t.ok((pf.figures.svcproxy?.[key] ?? 0) > 0, `svcproxy ${key} = ${String(pf.figures.svcproxy?.[key])}`);
  t.ok((pf.figures['svcproxy-3pods']?.pf_bulk16_MBps ?? 0) > 0, 'the 3-Pod series ran');
  t.ok((pf.figures.svcproxy?.pf_connect_cpu_us_per_conn ?? -1) >= 0, 'CPU per connection reported');
  t.same(pf.bulk16ByPod.svcproxy, { 'pf-1': 16 }, 'Service pf-one: its one Pod got the 16 connections');
  const spread = pf.bulk16ByPod['svcproxy-3pods'] ?? {};
  t.equal(
    Object.values(spread).reduce((a, b) => a + b, 0),
    16,
  );
  t.ok(Object.keys(spread).length >= 2, `Service pf-three: the connections went to more than one Pod (${JSON.stringify(spread)})`);
  t.ok(Object.values(pf.upgrades.svcproxy ?? {}).reduce((a, b) => a + b, 0) >= 1, 'svcproxy upgraded a connection on the fake');
  t.equal(pf.goals.length, 5, 'every target is reported');
  checkKubectlSide(t, pf, run.stdout);
  t.same(pidsStarted(run.stderr).filter(alive), [], 'every process the bench started has exited');
});

t.test('--kubectl PATH that does not exist: the kubectl side is skipped with a note, svcproxy is still measured', async (t) => {
  const out = await tempDir(t);
  const run = await startBench(t, ['--smoke', '--steps', 'portforward', '--kubectl', '/nonexistent/kubectl', '--reps', '1', '--out', out]).done;
  if (run.code !== 0) t.comment(run.stderr);
  t.equal(run.code, 0, 'exit 0');
  const pf = (await readResults(out)).portforward;
  t.match(
    pf?.forwarders.find((f) => f.name === 'kubectl'),
    { available: false, note: /^\/nonexistent\/kubectl not found \(kubectl not installed\)/ },
  );
  t.equal(pf?.figures.kubectl, undefined);
  t.ok((pf?.figures.svcproxy?.pf_bulk16_MBps ?? 0) > 0);
  t.ok(
    pf?.goals.every((g) => g.met === undefined),
    'no target is called met or not without kubectl',
  );
  t.match(run.stdout, /: not measured \(no kubectl figure\)/);
});
