import t from 'tap';
import { restartDelayMs } from '../../src/cluster/primary.js';

t.test('a worker that keeps exiting soon after its start is restarted after a growing delay, at most 5 s', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 6, 7, 8].map(restartDelayMs), [0, 0, 250, 500, 1000, 2000, 4000, 5000, 5000]);
});
