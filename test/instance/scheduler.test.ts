import t from 'tap';
import { MAX_TIMER_MS, Scheduler, type Clock } from '../../src/instance/scheduler.js';

/** A clock that moves only when the test says so; at most one timer is armed at a time. */
class FakeClock implements Clock {
  time = 1_000_000;
  armed: { fn: () => void; at: number; ms: number } | undefined;
  arms = 0;

  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.arms++;
    this.armed = { fn, at: this.time + ms, ms };
    return this.armed;
  }
  clearTimeout(handle: unknown): void {
    if (handle === this.armed) this.armed = undefined;
  }
  /** Moves to `time`, firing the armed timer (and any it arms) on the way. */
  advance(ms: number): void {
    const end = this.time + ms;
    while (this.armed !== undefined && this.armed.at <= end) {
      const { fn, at } = this.armed;
      this.armed = undefined;
      this.time = at;
      fn();
    }
    this.time = end;
  }
}

t.test('one timer for the earliest job, 1 ms after its deadline', async (t) => {
  const clock = new FakeClock();
  const s = new Scheduler<'a' | 'b'>(clock);
  const ran: string[] = [];
  s.set('a', clock.time + 500, () => ran.push('a'));
  s.set('b', clock.time + 100, () => ran.push('b'));
  t.equal(clock.armed?.ms, 101);
  clock.advance(100);
  t.same(ran, [], 'not at the deadline itself');
  clock.advance(1);
  t.same(ran, ['b']);
  t.equal(clock.armed?.at, clock.time - 101 + 501, 're-armed for the other job');
  clock.advance(400);
  t.same(ran, ['b', 'a']);
  t.equal(clock.armed, undefined, 'nothing left: no timer');
});

t.test('set replaces a job of the same name; undefined cancels it', async (t) => {
  const clock = new FakeClock();
  const s = new Scheduler<'pods'>(clock);
  const ran: number[] = [];
  s.set('pods', clock.time + 100, () => ran.push(1));
  s.set('pods', clock.time + 300, () => ran.push(2));
  t.equal(s.due('pods'), clock.time + 300);
  clock.advance(200);
  t.same(ran, []);
  s.set('pods', undefined, () => ran.push(3));
  t.equal(clock.armed, undefined);
  clock.advance(10_000);
  t.same(ran, []);
});

t.test('a deadline in the past runs on the next tick (delay 1 ms), not at once', async (t) => {
  const clock = new FakeClock();
  const s = new Scheduler<'x'>(clock);
  let ran = 0;
  s.set('x', clock.time - 5000, () => ran++);
  t.equal(ran, 0);
  t.equal(clock.armed?.ms, 1);
  clock.advance(1);
  t.equal(ran, 1);
});

t.test('a job may set itself again from its run (a Fault window that ends after it starts)', async (t) => {
  const clock = new FakeClock();
  const s = new Scheduler<'faults'>(clock);
  const seen: number[] = [];
  const windows = [clock.time + 100, clock.time + 300];
  const arm = (): void =>
    s.set('faults', windows.shift(), (now) => {
      seen.push(now);
      arm();
    });
  arm();
  clock.advance(1000);
  t.same(seen, [1_000_101, 1_000_301]);
  t.equal(clock.armed, undefined);
});

t.test('a deadline beyond what setTimeout holds wakes early, finds nothing due and re-arms', async (t) => {
  const clock = new FakeClock();
  const s = new Scheduler<'far'>(clock);
  let ran = 0;
  const at = clock.time + MAX_TIMER_MS + 10_000;
  s.set('far', at, () => ran++);
  t.equal(clock.armed?.ms, MAX_TIMER_MS, 'clamped');
  clock.advance(MAX_TIMER_MS);
  t.equal(ran, 0, 'woke early: not run');
  t.equal(clock.armed?.at, at + 1, 're-armed for the rest');
  clock.advance(10_001);
  t.equal(ran, 1);
});

t.test('stop cancels everything and nothing can be set after it', async (t) => {
  const clock = new FakeClock();
  const s = new Scheduler<'a'>(clock);
  let ran = 0;
  s.set('a', clock.time + 10, () => ran++);
  s.stop();
  t.equal(clock.armed, undefined);
  s.set('a', clock.time + 10, () => ran++);
  t.equal(clock.armed, undefined);
  clock.advance(100);
  t.equal(ran, 0);
});
