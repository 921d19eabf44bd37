/** Step 7's pure parts: figures, ratios to kubectl and the targets from runs; when svcproxy counts as ready. */
import t from 'tap';
import { pfResults } from '../../scripts/bench/pf-report.js';
import type { PfRun } from '../../scripts/bench/pf-steps.js';
import { readyAddress } from '../../scripts/bench/pf-targets.js';

const GiB = 1024 ** 3;

function run(kind: PfRun['kind'], target: PfRun['target'], output: Record<string, number>, forwarderCpuS: number, byPod: Record<string, number>): PfRun {
  return {
    kind,
    target,
    rep: 1,
    output,
    usage: { wallS: 1, generatorCpuS: 0.1, forwarderCpuS, podsCpuS: 0.1, apiServerCpuS: 0.5 },
    forwardsByPod: byPod,
    upgrades: target === 'kubectl' ? {} : { 'spdy-websocket': 1 },
  };
}

t.test('ratios are svcproxy / kubectl; each target met or not; CPU per connection counts what the fake forwarded', async (t) => {
  const runs = [
    run('pf-bulk1', 'kubectl', { mbps: 200, bytes: GiB }, 2, { 'pf-1': 1 }),
    run('pf-bulk1', 'svcproxy', { mbps: 300, bytes: GiB }, 1, { 'pf-1': 1 }),
    run('pf-bulk16', 'kubectl', { mbps: 200, bytes: GiB }, 2, { 'pf-1': 16 }),
    run('pf-bulk16', 'svcproxy', { mbps: 100, bytes: GiB }, 1, { 'pf-1': 16 }),
    run('pf-bulk16', 'svcproxy-3pods', { mbps: 250, bytes: GiB }, 1, { 'pf-1': 6, 'pf-2': 5, 'pf-3': 5 }),
    run('pf-connect', 'kubectl', { p50_us: 1000, p99_us: 4000, per_s: 500, connections: 950 }, 1, { 'pf-1': 1000 }),
    run('pf-connect', 'svcproxy', { p50_us: 800, p99_us: 2000, per_s: 600, connections: 950 }, 0.5, { 'pf-1': 1000 }),
  ];
  const r = pfResults([], 3, runs, [], { kubectl: { 'spdy-websocket': 1 } });
  t.equal(r.ratios.svcproxy?.pf_bulk1_MBps, 1.5);
  t.equal(r.ratios.svcproxy?.pf_bulk16_MBps, 0.5);
  t.equal(r.ratios.svcproxy?.pf_connect_p99_us, 0.5);
  t.equal(r.ratios['svcproxy-3pods']?.pf_bulk16_MBps, 1.25);
  t.equal(r.figures.svcproxy?.pf_connect_cpu_us_per_conn, 500, '0.5 CPU-s over the 1,000 connections forwarded (warm-up included)');
  t.equal(r.figures.kubectl?.pf_bulk16_cpu_s_per_GiB, 2);
  t.same(
    r.goals.map((g) => [g.target, g.key, g.met]),
    [
      ['svcproxy', 'pf_bulk1_MBps', true],
      ['svcproxy', 'pf_bulk16_MBps', false],
      ['svcproxy', 'pf_connect_p99_us', true],
      ['svcproxy-3pods', 'pf_bulk16_MBps', true],
      ['svcproxy-3pods', 'pf_connect_p99_us', undefined],
    ],
  );
  t.same(r.bulk16ByPod['svcproxy-3pods'], { 'pf-1': 6, 'pf-2': 5, 'pf-3': 5 });
  t.same(r.upgrades.kubectl, { 'spdy-websocket': 1 }, "kubectl's upgrade at its start is counted");
});

t.test('without kubectl no target is called met or not', async (t) => {
  const r = pfResults([], 3, [run('pf-bulk1', 'svcproxy', { mbps: 300, bytes: GiB }, 1, { 'pf-1': 1 })], []);
  t.same(r.ratios, {});
  t.ok(r.goals.every((g) => g.met === undefined));
});

t.test('svcproxy is ready only with every endpoint ready and reached by port-forward', async (t) => {
  const port = (reachedBy: string | undefined, ready = true) => ({
    namespace: 'bench',
    service: 'pf-three',
    listeners: [{ state: 'listening' }],
    endpoints: [1, 2, 3].map(() => ({ ready, ...(reachedBy === undefined ? {} : { reachedBy }) })),
  });
  const services = [{ namespace: 'bench', name: 'pf-three', addresses: ['127.80.1.2'] }];
  t.same(readyAddress({ services, servicePorts: [port('portforward'), port('portforward')] }, 'pf-three', 3), { address: '127.80.1.2' });
  t.match(readyAddress({ services, servicePorts: [port('dial'), port('dial')] }, 'pf-three', 3), { waiting: /reached by dial, not port-forward/ });
  t.match(readyAddress({ services, servicePorts: [port(undefined), port(undefined)] }, 'pf-three', 3), { waiting: /not port-forward/ }, 'an older build');
  t.match(readyAddress({ services, servicePorts: [port('portforward', false), port('portforward')] }, 'pf-three', 3), { waiting: /not 3 ready/ });
  t.match(readyAddress({ services: [], servicePorts: [] }, 'pf-three', 3), { waiting: /not listed yet/ });
});
