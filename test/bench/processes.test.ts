import t from 'tap';
import { fdSoftLimit, groupCpuWithReapedS, groupUsage, Processes } from '../../scripts/bench/processes.js';
import { alive } from './run-bench.js';
import { eventually } from '../helpers/net.js';

t.test('a spawned program gets its own process group and the fd limit asked for', async (t) => {
  const processes = new Processes();
  t.teardown(() => processes.killAllSync());
  const events: string[] = [];
  processes.onEvent = (line) => events.push(line);
  const p = processes.spawn('sleeper', 'sh', ['-c', 'echo ready; exec sleep 30'], { fdLimit: 1500 });
  t.equal(await p.waitForLine((l) => l === 'ready', 5000), 'ready');
  t.equal(fdSoftLimit(p.pid), 1500);
  const usage = groupUsage(p.pid);
  t.same(usage.pids, [p.pid]);
  t.ok(usage.rssBytes > 0);
  t.same(processes.pids, [p.pid]);
  await processes.stop(p);
  t.same(await p.exited, { code: null, signal: 'SIGTERM' });
  t.same(processes.pids, []);
  t.match(events, [/^sleeper: started pid \d+ \(process group \d+\)$/, /^sleeper: pid \d+ exited \(SIGTERM\)$/]);
});

t.test('stop ends the whole group: a child that outlives its parent goes too', async (t) => {
  const processes = new Processes();
  t.teardown(() => processes.killAllSync());
  // The leader ignores SIGTERM, so stop() must fall back to SIGKILL for the group.
  const p = processes.spawn('parent', 'sh', ['-c', 'trap "" TERM; sleep 30 & echo $!; wait'], { fdLimit: 1024 });
  const child = Number(await p.waitForLine((l) => /^\d+$/.test(l), 5000));
  t.ok(alive(child));
  await processes.stop(p, 200);
  // Killed, then reaped by init: a poll with a deadline, not a sleep a busy machine can outlast.
  await eventually(() => !alive(child), 'the background child to be gone', 10_000).catch(() => undefined);
  t.notOk(alive(child), 'the background child was killed with its group');
});

t.test('waitForLine rejects when the process exits first, or after its timeout', async (t) => {
  const processes = new Processes();
  t.teardown(() => processes.killAllSync());
  const quick = processes.spawn('quick', 'sh', ['-c', 'echo oops >&2; exit 3'], { fdLimit: 1024 });
  await t.rejects(
    quick.waitForLine(() => false, 5000),
    { message: 'quick exited before it was ready: oops' },
  );
  t.same(await quick.exited, { code: 3, signal: null });
  const slow = processes.spawn('slow', 'sleep', ['30'], { fdLimit: 1024 });
  await t.rejects(
    slow.waitForLine(() => true, 50),
    { message: 'slow: no answer within 50 ms' },
  );
  await processes.stopAll();
  t.same(processes.pids, []);
  await processes.stop(slow); // stopping twice is harmless
});

t.test('groupUsage of a group that does not exist is empty', async (t) => {
  t.same(groupUsage(2 ** 22 + 1), { pids: [], cpuS: 0, rssBytes: 0 });
  t.equal(fdSoftLimit(2 ** 22 + 1), undefined);
});

t.test("groupCpuWithReapedS counts a child that has exited and been reaped (its time is in the parent's cutime/cstime)", async (t) => {
  const processes = new Processes();
  t.teardown(() => processes.killAllSync());
  // The child burns 200 ms of CPU and exits; the parent has reaped it (spawnSync) before it says "done".
  const burn = 'const s = process.cpuUsage(); for (;;) { const u = process.cpuUsage(s); if (u.user + u.system >= 200_000) break; }';
  const parent = `require('node:child_process').spawnSync(process.execPath, ['-e', ${JSON.stringify(burn)}]); console.log('done'); setInterval(() => undefined, 1000);`;
  const p = processes.spawn('parent', process.execPath, ['-e', parent], { fdLimit: 1024 });
  await p.waitForLine((l) => l === 'done', 30_000);
  const usage = groupCpuWithReapedS(p.pid);
  t.same(usage.pids, [p.pid], 'the child is gone');
  t.ok(usage.reapedS >= 0.15, `reaped children's CPU ${usage.reapedS} s`);
  t.ok(usage.cpuS >= usage.reapedS + groupUsage(p.pid).cpuS - 0.05, 'the total includes the live process and the reaped child');
  await processes.stop(p);
  t.same(groupCpuWithReapedS(2 ** 22 + 1), { pids: [], cpuS: 0, reapedS: 0 });
});
