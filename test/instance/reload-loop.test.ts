import t from 'tap';
import type { ReloadTrigger } from '../../src/instance-types.js';
import { ReloadLoop, type ReloadOutcome } from '../../src/instance/reload-loop.js';

/** A step whose every call waits until the test settles it: the loop's transitions are seen one at a time, with no timer. */
class Steps {
  readonly calls: string[] = [];
  private readonly waiting: Array<(outcome: ReloadOutcome) => void> = [];

  reload = (trigger: ReloadTrigger): Promise<ReloadOutcome> => this.call(`reload:${trigger}`);
  replan = (): Promise<ReloadOutcome> => this.call('replan');

  private call(name: string): Promise<ReloadOutcome> {
    this.calls.push(name);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Ends the oldest running step with `outcome`, then lets the loop take its next transition. */
  async settle(outcome: ReloadOutcome = 'applied'): Promise<void> {
    const resolve = this.waiting.shift();
    if (resolve === undefined) throw new Error('no step is running');
    resolve(outcome);
    for (let i = 0; i < 5; i++) await Promise.resolve(); // the loop's .then chains
  }

  get running(): number {
    return this.waiting.length;
  }
}

function setup(open = true): { loop: ReloadLoop; steps: Steps } {
  const steps = new Steps();
  const loop = new ReloadLoop(steps);
  if (open) loop.open();
  return { loop, steps };
}

t.test('idle -> reloading -> idle: a reload runs and its caller hears the outcome', async (t) => {
  const { loop, steps } = setup();
  t.equal(loop.state, 'idle');
  const outcome = loop.reload('watch');
  t.equal(loop.state, 'reloading');
  t.same(steps.calls, ['reload:watch']);
  await steps.settle('invalid');
  t.equal(await outcome, 'invalid');
  t.equal(loop.state, 'idle');
});

t.test('reloading + reloads: they coalesce into one pending reload; their callers hear the running one', async (t) => {
  const { loop, steps } = setup();
  const first = loop.reload('watch');
  const second = loop.reload('poll');
  const third = loop.reload('watch');
  t.equal(loop.pendingTrigger, 'watch');
  t.equal(steps.running, 1, 'never two at once');
  await steps.settle('applied');
  t.same(await Promise.all([first, second, third]), ['applied', 'applied', 'applied']);
  t.equal(loop.state, 'reloading', 'the pending one starts at once');
  t.same(steps.calls, ['reload:watch', 'reload:watch']);
  t.equal(loop.pendingTrigger, undefined);
  await steps.settle('unchanged');
  t.equal(loop.state, 'idle');
  t.same(steps.calls, ['reload:watch', 'reload:watch'], 'three triggers, two reloads');
});

t.test('a forced trigger is never downgraded by a later one', async (t) => {
  const { loop, steps } = setup();
  void loop.reload('watch');
  void loop.reload('signal');
  void loop.reload('watch');
  t.equal(loop.pendingTrigger, 'signal');
  await steps.settle();
  t.same(steps.calls, ['reload:watch', 'reload:signal']);
  await steps.settle();
});

t.test("an 'unsettled' reload leaves a 'watch' reload pending, so the change is read again", async (t) => {
  const { loop, steps } = setup();
  const outcome = loop.reload('watch');
  await steps.settle('unsettled');
  t.equal(await outcome, 'unsettled');
  t.equal(loop.state, 'reloading');
  t.same(steps.calls, ['reload:watch', 'reload:watch']);
  await steps.settle('applied');
  t.equal(loop.state, 'idle');
});

t.test("'unsettled' does not replace a trigger that came meanwhile", async (t) => {
  const { loop, steps } = setup();
  void loop.reload('watch');
  void loop.reload('signal');
  await steps.settle('unsettled');
  t.same(steps.calls, ['reload:watch', 'reload:signal']);
  await steps.settle();
  t.equal(loop.state, 'idle', 'one more reload, not two');
});

t.test('idle -> replanning -> idle', async (t) => {
  const { loop, steps } = setup();
  loop.replan();
  t.equal(loop.state, 'replanning');
  t.same(steps.calls, ['replan']);
  await steps.settle();
  t.equal(loop.state, 'idle');
});

t.test('replanning + reload: the reload waits for the re-plan, then its caller hears its own outcome', async (t) => {
  const { loop, steps } = setup();
  loop.replan();
  const outcome = loop.reload('api');
  t.same(steps.calls, ['replan'], 'not started beside the re-plan');
  await steps.settle('applied');
  t.equal(loop.state, 'reloading');
  t.same(steps.calls, ['replan', 'reload:api']);
  await steps.settle('invalid');
  t.equal(await outcome, 'invalid');
});

t.test('reloading + re-plans: one re-plan runs after the reload', async (t) => {
  const { loop, steps } = setup();
  void loop.reload('watch');
  loop.replan();
  loop.replan();
  t.equal(loop.replanPending, true);
  await steps.settle();
  t.equal(loop.state, 'replanning');
  await steps.settle();
  t.same(steps.calls, ['reload:watch', 'replan']);
  t.equal(loop.state, 'idle');
});

t.test('a pending reload runs before a wanted re-plan', async (t) => {
  const { loop, steps } = setup();
  void loop.reload('watch');
  loop.replan();
  void loop.reload('poll');
  await steps.settle();
  t.same(steps.calls, ['reload:watch', 'reload:poll']);
  await steps.settle();
  t.same(steps.calls, ['reload:watch', 'reload:poll', 'replan']);
  await steps.settle();
  t.equal(loop.state, 'idle');
});

t.test('replanning + re-plan: one more after it', async (t) => {
  const { loop, steps } = setup();
  loop.replan();
  loop.replan();
  await steps.settle();
  t.same(steps.calls, ['replan', 'replan']);
  await steps.settle();
  t.equal(loop.state, 'idle');
});

t.test('before open(), a re-plan waits; open() runs it', async (t) => {
  const { loop, steps } = setup(false);
  loop.replan();
  t.equal(loop.state, 'idle');
  t.same(steps.calls, []);
  loop.open();
  t.same(steps.calls, ['replan']);
  await steps.settle();
});

t.test('before open(), a re-plan wanted during a reload still waits for open()', async (t) => {
  const { loop, steps } = setup(false);
  void loop.reload('start');
  loop.replan();
  await steps.settle();
  t.equal(loop.state, 'idle');
  t.same(steps.calls, ['reload:start']);
  loop.open();
  t.same(steps.calls, ['reload:start', 'replan']);
  await steps.settle();
});

t.test('after close(), nothing pending starts and re-plans are refused', async (t) => {
  const { loop, steps } = setup();
  void loop.reload('watch');
  void loop.reload('poll');
  loop.replan();
  loop.close();
  await steps.settle('unsettled');
  t.equal(loop.state, 'idle');
  t.same(steps.calls, ['reload:watch']);
  loop.replan();
  t.same(steps.calls, ['reload:watch']);
});

t.test('a step that throws: its caller hears the error and the loop goes on', async (t) => {
  const steps = {
    calls: 0,
    reload: async (): Promise<ReloadOutcome> => (++steps.calls === 1 ? Promise.reject(new Error('boom')) : 'applied'),
    replan: async (): Promise<ReloadOutcome> => 'applied',
  };
  const loop = new ReloadLoop(steps);
  loop.open();
  await t.rejects(loop.reload('watch'), { message: 'boom' });
  t.equal(loop.state, 'idle');
  t.equal(await loop.reload('watch'), 'applied');
});
