import t from 'tap';
import { PassiveHealth } from '../../src/balancer/passive-health.js';

t.test('an endpoint is skipped after 3 consecutive failures, for 1 s, doubling to 30 s', async (t) => {
  const h = new PassiveHealth();
  t.ok(h.empty);
  t.equal(h.recordFailure('a', 0), 0);
  t.equal(h.recordFailure('a', 0), 0);
  t.notOk(h.isEjected('a', 0));
  t.equal(h.recordFailure('a', 0), 1000, 'the third failure ejects for 1 s');
  t.ok(h.isEjected('a', 999));
  t.notOk(h.isEjected('a', 1000), 'tried again when the backoff ends');
  const backoffs = [];
  for (let i = 0; i < 7; i++) backoffs.push(h.recordFailure('a', 1000));
  t.same(backoffs, [2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  t.same(h.ejected(1000), ['a']);
});

t.test('a success clears the record and the backoff', async (t) => {
  const h = new PassiveHealth();
  for (let i = 0; i < 4; i++) h.recordFailure('a', 0);
  t.ok(h.recordSuccess('a'));
  t.notOk(h.recordSuccess('a'), 'nothing left to clear');
  t.ok(h.empty);
  h.recordFailure('a', 0);
  h.recordFailure('a', 0);
  t.equal(h.recordFailure('a', 0), 1000, 'back to the initial backoff');
});

t.test('a success between failures resets the count', async (t) => {
  const h = new PassiveHealth();
  h.recordFailure('a', 0);
  h.recordFailure('a', 0);
  h.recordSuccess('a');
  t.equal(h.recordFailure('a', 0), 0);
});

t.test('retain forgets endpoints that are gone', async (t) => {
  const h = new PassiveHealth({ threshold: 1, initialBackoffMs: 10, maxBackoffMs: 100 });
  h.recordFailure('a', 0);
  h.recordFailure('b', 0);
  h.retain(new Set(['b']));
  t.same(h.ejected(0), ['b']);
});
