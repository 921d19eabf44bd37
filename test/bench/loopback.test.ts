import t from 'tap';
import { assertLoopback, isLoopbackV4, NotLoopbackError } from '../../scripts/bench/loopback.js';

const cases: ReadonlyArray<[string, boolean]> = [
  ['127.0.0.1', true],
  ['127.255.255.254', true],
  ['127.1', false], // not dotted-quad: refused rather than guessed
  ['128.0.0.1', false],
  ['10.0.0.1', false],
  ['0.0.0.0', false],
  ['::1', false],
  ['localhost', false],
  ['', false],
];
for (const [host, want] of cases) {
  t.test(`${JSON.stringify(host)} is ${want ? '' : 'not '}IPv4 loopback`, async (t) => {
    t.equal(isLoopbackV4(host), want);
  });
}

t.test('assertLoopback returns the address or throws a NotLoopbackError naming what was refused', async (t) => {
  t.equal(assertLoopback('127.0.0.3', 'x'), '127.0.0.3');
  t.throws(() => assertLoopback('192.168.1.1', 'backend'), {
    name: 'NotLoopbackError',
    message: 'backend: refusing "192.168.1.1": the bench only runs on IPv4 loopback (127.0.0.0/8)',
  });
  t.throws(() => assertLoopback('8.8.8.8', 'x'), NotLoopbackError);
});
