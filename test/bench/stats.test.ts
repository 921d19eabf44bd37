import t from 'tap';
import { median, percentile, ratio } from '../../scripts/bench/stats.js';

t.test('percentile is nearest-rank over unsorted samples', async (t) => {
  const samples = Array.from({ length: 1000 }, (_, i) => 1000 - i); // 1000..1
  t.equal(percentile(samples, 0.5), 500);
  t.equal(percentile(samples, 0.99), 990);
  t.equal(percentile(samples, 0.999), 999);
  t.equal(percentile(samples, 1), 1000);
  t.equal(percentile(samples, 0), 1);
  t.equal(percentile([], 0.5), 0);
  t.equal(percentile([7], 0.99), 7);
});

t.test('median takes the lower middle and does not reorder its input', async (t) => {
  const runs = [3, 1, 2];
  t.equal(median(runs), 2);
  t.same(runs, [3, 1, 2]);
  t.equal(median([4, 1, 3, 2]), 2);
  t.ok(Number.isNaN(median([])));
});

t.test('ratio is value / reference, undefined when it would mean nothing', async (t) => {
  t.equal(ratio(3, 2), 1.5);
  t.equal(ratio(undefined, 2), undefined);
  t.equal(ratio(1, undefined), undefined);
  t.equal(ratio(1, 0), undefined);
  t.equal(ratio(Number.NaN, 1), undefined);
});
