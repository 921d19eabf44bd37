import t from 'tap';
import { reaches } from '../../src/faults/fault-plan.js';
import { DeclaredFaults } from '../../src/faults/schedule.js';
import { faultPlan, toxic } from '../helpers/faults.js';

t.test("a Fault's window: after, then for (0 = until removed)", async (t) => {
  const cases: ReadonlyArray<{ afterMs: number; forMs: number; at: number; active: boolean; ended: boolean }> = [
    { afterMs: 0, forMs: 0, at: 1000, active: true, ended: false },
    { afterMs: 0, forMs: 0, at: 1e12, active: true, ended: false },
    { afterMs: 100, forMs: 0, at: 1099, active: false, ended: false },
    { afterMs: 100, forMs: 0, at: 1100, active: true, ended: false },
    { afterMs: 100, forMs: 50, at: 1149, active: true, ended: false },
    { afterMs: 100, forMs: 50, at: 1150, active: false, ended: true },
    { afterMs: 0, forMs: 50, at: 999, active: false, ended: false },
  ];
  for (const c of cases) {
    const faults = new DeclaredFaults();
    faults.set([faultPlan([toxic('latency')], { afterMs: c.afterMs, forMs: c.forMs })], 1000);
    const f = faults.forPort('default/web')?.[0];
    if (f === undefined) throw new Error('expected the fault');
    const label = `after ${c.afterMs} for ${c.forMs} at ${c.at}`;
    t.equal(f.isActive(c.at), c.active, `${label}: active`);
    t.equal(f.hasEnded(c.at), c.ended, `${label}: ended`);
  }
});

t.test('the next change is the nearest start or end still ahead; an expired fault has none', async (t) => {
  const faults = new DeclaredFaults();
  faults.set([faultPlan([toxic('latency')], { afterMs: 100, forMs: 200 }), faultPlan([toxic('timeout')], { id: 'default/b', afterMs: 250 })], 0);
  t.same(
    [0, 100, 250, 300].map((now) => faults.nextChange(now)),
    [100, 250, 300, undefined],
  );
  t.equal(faults.expire(299), false);
  t.equal(faults.expire(300), true);
  t.equal(faults.expire(301), false, 'expired once');
  t.equal(faults.nextChange(0), 250, 'the expired fault has no more changes');
});

t.test('the target filter: endpoints and Pods, each optional, both must match', async (t) => {
  const a = { id: '10.0.0.1:80', pod: 'default/a' };
  const b = { id: '10.0.0.2:80', pod: 'default/b' };
  const cases: ReadonlyArray<{ endpoints?: string[]; pods?: string[]; want: [boolean, boolean] }> = [
    { want: [true, true] },
    { endpoints: [a.id], want: [true, false] },
    { pods: ['default/b'], want: [false, true] },
    { endpoints: [a.id], pods: ['default/b'], want: [false, false] },
  ];
  for (const c of cases) {
    const plan = { endpoints: c.endpoints === undefined ? undefined : new Set(c.endpoints), pods: c.pods === undefined ? undefined : new Set(c.pods) };
    t.same([reaches(plan, a), reaches(plan, b)], c.want, JSON.stringify(c));
  }
});

t.test('a reload keeps an unchanged fault (clock, count) and retires a changed or removed one', async (t) => {
  const faults = new DeclaredFaults();
  const plan = faultPlan([toxic('latency')], { afterMs: 100 });
  faults.set([plan], 0);
  const first = faults.forPort('default/web')?.[0];
  if (first === undefined) throw new Error('expected the fault');
  first.connections = 3;
  faults.set([{ ...plan, servicePorts: new Set(['default/web', 'default/api']) }], 5000);
  t.equal(faults.forPort('default/api')?.[0], first, 'the same fault, its targets re-resolved');
  t.same([first.connections, first.startsAt], [3, 100], 'its count and clock carry on');
  t.notOk(first.bindings[0]?.retired);
  faults.set([{ ...plan, revision: 'changed' }], 5000);
  t.ok(first.bindings[0]?.retired, 'a changed fault retires its toxics');
  t.equal(faults.forPort('default/web')?.[0]?.startsAt, 5100, 'and starts its clock again');
  faults.set([], 6000);
  t.equal(faults.forPort('default/web'), undefined);
});
