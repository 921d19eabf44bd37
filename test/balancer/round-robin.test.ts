import t from 'tap';
import { noShuffle, randomShuffle, RoundRobin } from '../../src/balancer/round-robin.js';

const ids = (...names: string[]) => names.map((id) => ({ id }));

function take(rr: RoundRobin<{ id: string }>, n: number): string[] {
  return Array.from({ length: n }, () => rr.next()?.id ?? '-');
}

t.test('hands out endpoints in turn', async (t) => {
  const rr = new RoundRobin<{ id: string }>(noShuffle);
  rr.update(ids('a', 'b', 'c'));
  t.same(take(rr, 7), ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
});

t.test('no endpoints: nothing to pick', async (t) => {
  const rr = new RoundRobin<{ id: string }>(noShuffle);
  t.equal(rr.next(), undefined);
  rr.update(ids('a'));
  rr.update([]);
  t.equal(rr.next(), undefined);
});

t.test('the same set in another order keeps the rotation', async (t) => {
  const rr = new RoundRobin<{ id: string }>(noShuffle);
  rr.update(ids('a', 'b', 'c'));
  take(rr, 1);
  t.equal(rr.update(ids('c', 'a', 'b')), false);
  t.same(take(rr, 3), ['b', 'c', 'a']);
});

t.test('a changed set restarts the rotation at the head of the new list', async (t) => {
  const rr = new RoundRobin<{ id: string }>(noShuffle);
  rr.update(ids('a', 'b', 'c'));
  take(rr, 2);
  t.equal(rr.update(ids('a', 'b', 'd')), true);
  t.same(take(rr, 4), ['a', 'b', 'd', 'a']);
});

t.test('a changed set is shuffled by the given shuffle', async (t) => {
  const rr = new RoundRobin<{ id: string }>(<T>(list: T[]) => list.reverse());
  rr.update(ids('a', 'b', 'c'));
  t.same(take(rr, 3), ['c', 'b', 'a']);
});

t.test('randomShuffle keeps every member', async (t) => {
  const list = Array.from({ length: 50 }, (_, i) => i);
  t.same(
    [...randomShuffle([...list])].sort((a, b) => a - b),
    list,
  );
});

t.test('skip passes over rejected endpoints and keeps rotating', async (t) => {
  const rr = new RoundRobin<{ id: string }>(noShuffle);
  rr.update(ids('a', 'b', 'c'));
  const skipB = (x: { id: string }) => x.id === 'b';
  t.same(
    Array.from({ length: 4 }, () => rr.next(skipB)?.id),
    ['a', 'c', 'a', 'c'],
  );
});

t.test('when skip rejects every endpoint, the rotation goes on anyway (panic mode)', async (t) => {
  const rr = new RoundRobin<{ id: string }>(noShuffle);
  rr.update(ids('a', 'b', 'c'));
  const all = () => true;
  t.same(
    Array.from({ length: 4 }, () => rr.next(all)?.id),
    ['a', 'b', 'c', 'a'],
  );
});
