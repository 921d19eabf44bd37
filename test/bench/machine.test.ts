import t from 'tap';
import { cpuBusyPct, describeMachine } from '../../scripts/bench/machine.js';

t.test('cpuBusyPct samples the whole machine over a short window, in %', async (t) => {
  const pct = await cpuBusyPct(50);
  t.ok(pct >= 0 && pct <= 100, `${pct}%`);
});

t.test('describeMachine names the CPU, cores, kernel, OS and Node, and keeps the load figures', async (t) => {
  const m = describeMachine([1.234, 0.5, 0.25], 12);
  t.ok(m.cpu.length > 0);
  t.ok(m.cores >= 1);
  t.ok(m.kernel.length > 0);
  t.ok(m.os.length > 0);
  t.equal(m.node, process.version);
  t.ok(m.memoryGiB > 0);
  t.same(m.loadAverageStart, [1.23, 0.5, 0.25]);
  t.equal(m.loadAverageEnd.length, 3);
  t.equal(m.busyBeforePct, 12);
});
