import t from 'tap';
import { ClientIpAffinity } from '../../src/balancer/affinity.js';
import { Picker } from '../../src/balancer/picker.js';
import { noShuffle } from '../../src/balancer/round-robin.js';

const ids = (...names: string[]) => names.map((id) => ({ id }));

t.test('a hit within the timeout refreshes the record and does not advance the rotation', async (t) => {
  const p = new Picker<{ id: string }>(noShuffle, undefined);
  p.update(ids('a', 'b', 'c'), 10);
  t.equal(p.pick('10.0.0.1', false, 0)?.id, 'a');
  t.equal(p.pick('10.0.0.1', false, 5000)?.id, 'a');
  t.equal(p.pick('10.0.0.2', false, 5000)?.id, 'b', 'the rotation moved only once');
  t.equal(p.pick('10.0.0.1', false, 14_000)?.id, 'a', 'refreshed at 5 s, so still pinned at 14 s');
});

t.test('age is compared in whole seconds, as kube-proxy does', async (t) => {
  const a = new ClientIpAffinity(1);
  a.pin('ip', 'x', 0);
  t.equal(a.lookup('ip', 999), 'x', '0.999 s truncates to 0');
  t.equal(a.lookup('ip', 999 + 1000), undefined, 'a full second after the refresh: expired');
});

t.test('a failed dial re-pins the client to the next endpoint', async (t) => {
  const p = new Picker<{ id: string }>(noShuffle, undefined);
  p.update(ids('a', 'b', 'c'), 100);
  t.equal(p.pick('ip', false, 0)?.id, 'a');
  t.equal(p.pick('ip', true, 1)?.id, 'b', 'repin bypasses the record');
  t.equal(p.pick('ip', false, 2)?.id, 'b', 'and the new pin sticks');
});

t.test('records pointing at a removed endpoint are dropped', async (t) => {
  const p = new Picker<{ id: string }>(noShuffle, undefined);
  p.update(ids('a', 'b'), 100);
  t.equal(p.pick('ip', false, 0)?.id, 'a');
  p.update(ids('b', 'c'), 100);
  t.equal(p.affinityRecords, 0);
  t.equal(p.pick('ip', false, 1)?.id, 'b');
});

t.test('an unchanged endpoint set keeps records and the rotation', async (t) => {
  const p = new Picker<{ id: string }>(noShuffle, undefined);
  p.update(ids('a', 'b'), 100);
  p.pick('ip', false, 0);
  p.update(ids('b', 'a'), 100);
  t.equal(p.pick('ip', false, 1)?.id, 'a');
  t.equal(p.pick('other', false, 1)?.id, 'b');
});

t.test('turning affinity off drops every record', async (t) => {
  const p = new Picker<{ id: string }>(noShuffle, undefined);
  p.update(ids('a', 'b'), 100);
  p.pick('ip', false, 0);
  p.update(ids('a', 'b'), 0);
  t.equal(p.affinityRecords, 0);
  t.equal(p.pick('ip', false, 1)?.id, 'b', 'plain rotation');
});

t.test('memory stays bounded: expired records are purged as clients arrive, and a cap evicts the oldest', async (t) => {
  const a = new ClientIpAffinity(10, 1000);
  for (let i = 0; i < 5000; i++) a.pin(`ip${i}`, 'x', i * 10); // a new client every 10 ms
  t.ok(a.size <= 1001, `at most the clients of the last 10 s (${a.size})`);
  const capped = new ClientIpAffinity(86400, 100);
  for (let i = 0; i < 1000; i++) capped.pin(`ip${i}`, 'x', 0);
  t.equal(capped.size, 100);
  t.equal(capped.lookup('ip999', 0), 'x', 'the newest are kept');
  t.equal(capped.lookup('ip0', 0), undefined);
});

t.test('a pinned endpoint that passive health skips is treated as a miss', async (t) => {
  const p = new Picker<{ id: string }>(noShuffle, { threshold: 1, initialBackoffMs: 1000, maxBackoffMs: 1000 });
  p.update(ids('a', 'b'), 100);
  t.equal(p.pick('ip', false, 0)?.id, 'a');
  p.health.recordFailure('a', 0);
  t.equal(p.pick('ip', false, 10)?.id, 'b');
});
