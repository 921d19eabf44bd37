import t from 'tap';
import { isLoopback } from '../src/loopback.js';

t.test('isLoopback: 127.0.0.0/8, ::1 and IPv4-mapped 127.x only', async (t) => {
  const cases: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.1', false],
    ['192.168.1.127', false],
    ['::FFFF:127.0.0.9', true],
    ['::ffff:10.0.0.1', false],
    ['127.1', false], // not dotted-quad: refused rather than guessed
    ['localhost', false], // a host name, not an address
    ['', false],
  ];
  for (const [host, want] of cases) t.equal(isLoopback(host), want, host);
});
