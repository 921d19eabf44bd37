/**
 * --pump: the choice is logged once, a missing addon falls back to the JS pump
 * with the reason, and the hand-off's release path for an old libuv (deferred
 * to setImmediate, outside the poll phase) lets go of both sockets.
 */
import { once } from 'node:events';
import t from 'tap';
import { loadSpliceAddon } from '../../src/native/splice-addon.js';
import type { CarrierResult } from '../../src/proxy/carrier.js';
import { NativePump } from '../../src/proxy/native-pump.js';
import { selectPump } from '../../src/proxy/pump-choice.js';
import { captureLogger } from '../helpers/log.js';
import { fakeAddon } from '../helpers/fake-addon.js';
import { dialTo, startEchoServer, startServer } from '../helpers/net.js';
import { connect, type Socket } from 'node:net';

t.test('--pump js: the JS pump, said in one line', async (t) => {
  const { log, records } = captureLogger('info');
  t.equal(selectPump('js', log), undefined);
  t.match(records, [{ msg: 'pump: JavaScript (--pump js)', pump: 'js' }]);
});

t.test('--pump native without the addon: the JS pump, with the reason, in one warning', async (t) => {
  const { log, records } = captureLogger('info');
  t.equal(
    selectPump('native', log, () => ({ addon: undefined, reason: 'not built here' })),
    undefined,
  );
  t.match(records, [{ level: 'warn', msg: 'native splice pump unavailable; using the JavaScript pump', pump: 'js', reason: 'not built here' }]);
});

// Not through helpers/native.ts: that starts the shared pump at import, and the test above needs none started yet.
const built = loadSpliceAddon().addon !== undefined || process.env['SVCPROXY_REQUIRE_NATIVE_PUMP'] === '1';

t.test('--pump native with the addon: the native pump, said once', { skip: built ? false : 'native pump not built' }, async (t) => {
  const { log, records } = captureLogger('info');
  const native = selectPump('native', log);
  t.ok(native instanceof NativePump);
  t.equal(selectPump('native', log), native, 'one per process');
  t.match(records[0], { msg: 'pump: native splice', pump: 'native' });
});

t.test('on a libuv before 1.49 the released sockets are destroyed outside the poll phase (setImmediate)', async (t) => {
  const fake = fakeAddon();
  const pump = new NativePump(fake.addon, { slots: 2, maxPipes: 4, maxSparePipes: 1 }, true);
  const upstreamPort = await startEchoServer(t);
  let accepted: Socket | undefined;
  const front = await startServer(t, (s) => (accepted = s));
  const client = await dialTo(t, front);
  const upstream = connect({ host: '127.0.0.1', port: upstreamPort, allowHalfOpen: true });
  t.teardown(() => {
    upstream.destroy();
  });
  await once(upstream, 'connect');
  const downstream = accepted as Socket;
  const results: CarrierResult[] = [];
  const carrier = pump.handOff(downstream, upstream, { halfCloseTimeoutMs: 0, idleTimeoutMs: 0 }, (r) => results.push(r));
  if (typeof carrier === 'string') throw new Error(`fell back: ${carrier}`);
  t.same(fake.adopted, [0]);
  t.equal(downstream.destroyed, false, 'not destroyed inside the callback that handed off');
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(downstream.destroyed && upstream.destroyed, 'both destroyed from setImmediate');
  t.equal(pump.active, 1);
  fake.end(carrier.slot, 5, 7);
  t.match(results, [{ end: 'endpoint_fin', bytesFromDownstream: 5, bytesFromUpstream: 7, errorCode: '' }]);
  t.equal(pump.active, 0);
  client.destroy();
});

t.test('a slot table that is full keeps the next connection in JS, counted as slots', async (t) => {
  const fake = fakeAddon();
  const pump = new NativePump(fake.addon, { slots: 1, maxPipes: 4, maxSparePipes: 1 });
  const upstreamPort = await startEchoServer(t);
  const accepted: Socket[] = [];
  const front = await startServer(t, (s) => accepted.push(s));
  const pairs: Array<[Socket, Socket]> = [];
  for (let i = 0; i < 2; i++) {
    await dialTo(t, front);
    const up = connect({ host: '127.0.0.1', port: upstreamPort, allowHalfOpen: true });
    t.teardown(() => {
      up.destroy();
    });
    await once(up, 'connect');
    pairs.push([accepted[i] as Socket, up]);
  }
  const [first, second] = pairs as [[Socket, Socket], [Socket, Socket]];
  t.not(typeof pump.handOff(first[0], first[1], { halfCloseTimeoutMs: 0, idleTimeoutMs: 0 }, () => undefined), 'string');
  t.equal(
    pump.handOff(second[0], second[1], { halfCloseTimeoutMs: 0, idleTimeoutMs: 0 }, () => undefined),
    'slots',
  );
  t.same(Object.fromEntries(pump.counts.fallbacks), { slots: 1 });
  t.equal(second[0].destroyed, false, 'the fallen-back pair is untouched');
});
