import t from 'tap';
import { FaultTable } from '../../src/faults/fault-table.js';
import type { Lease } from '../../src/proxy/lease.js';
import { startBlackhole } from '../helpers/blackhole.js';
import { dialTo, eventually, freePort, readAll, request, startNamedServer, startServer } from '../helpers/net.js';
import { captureLogger } from '../helpers/log.js';
import { endpoint, servicePortPlan, startServicePort } from '../helpers/proxy.js';

t.test('round robin: 3 endpoints, 30 connections, exactly 10 each, in turn', async (t) => {
  const ports = [await startNamedServer(t, 'a'), await startNamedServer(t, 'b'), await startNamedServer(t, 'c')];
  const { port, proxy } = await startServicePort(
    t,
    ports.map((p) => endpoint(p)),
  );
  const seen: string[] = [];
  for (let i = 0; i < 30; i++) seen.push((await request(port)).data.toString());
  t.same(seen.slice(0, 6), ['a', 'b', 'c', 'a', 'b', 'c']);
  const counts = Object.fromEntries(['a', 'b', 'c'].map((n) => [n, seen.filter((s) => s === n).length]));
  t.same(counts, { a: 10, b: 10, c: 10 });
  t.equal(proxy.stats.connections, 30);
  await eventually(() => proxy.stats.active === 0, 'connections to finish');
});

t.test('a port switched off (toxiproxy API) while a connection is dialled: both sides are reset, ended as drain', async (t) => {
  let accepted = 0;
  const backend = await startServer(t, () => accepted++);
  // The endpoint's name resolves only when the test says so: the port is switched off in between.
  let answer: (() => void) | undefined;
  const lookup = (_host: string, callback: (err: Error | null, addresses: readonly string[]) => void): void => {
    answer = () => callback(null, ['127.0.0.1']);
  };
  const faults = new FaultTable();
  const ended: Lease[] = [];
  const { port, proxy, tracker } = await startServicePort(t, [endpoint(backend, 'web.test')], {}, undefined, {
    lookup,
    faults,
    onLeaseEnd: (l) => ended.push(l),
  });
  const client = await dialTo(t, port);
  const outcome = readAll(client);
  await eventually(() => answer !== undefined, 'the dial to wait on the name');
  faults.setDown(proxy.key, true);
  answer?.();
  t.equal((await outcome).error, 'ECONNRESET', 'the client is reset');
  await eventually(() => tracker.active === 0, 'the lease to end');
  t.match(ended, [{ termination: 'drain', endpoint: { id: `web.test:${backend}` } }]);
  t.equal(proxy.stats.closed.drain, 1);
  await eventually(() => accepted === 1, 'the endpoint to have seen the dial');
});

t.test('a change of the endpoint set restarts the rotation; the same set keeps it', async (t) => {
  const a = await startNamedServer(t, 'a');
  const b = await startNamedServer(t, 'b');
  const c = await startNamedServer(t, 'c');
  const { port, proxy } = await startServicePort(t, [endpoint(a), endpoint(b), endpoint(c)]);
  t.equal((await request(port)).data.toString(), 'a');
  proxy.update(servicePortPlan([endpoint(c), endpoint(b), endpoint(a)]));
  t.equal((await request(port)).data.toString(), 'b', 'same set: the rotation continues');
  proxy.update(servicePortPlan([endpoint(a), endpoint(c)]));
  t.equal((await request(port)).data.toString(), 'a', 'new set: back to the head');
  t.equal((await request(port)).data.toString(), 'c');
});

t.test('a dead endpoint is skipped and the client never notices', async (t) => {
  const dead = await freePort();
  const live = await startNamedServer(t, 'live');
  const { port, proxy } = await startServicePort(t, [endpoint(dead), endpoint(live)]);
  for (let i = 0; i < 4; i++) {
    const outcome = await request(port);
    t.same({ data: outcome.data.toString(), error: outcome.error }, { data: 'live', error: '' });
  }
  // Each attempt advances the rotation (kube-proxy's rule), so with [dead, live]
  // each connection tries the dead endpoint first, until passive health skips
  // it after 3 consecutive failures: the 4th connection goes straight to live.
  t.equal(proxy.stats.connectFailures, 3);
  t.same(proxy.ejected(), [`127.0.0.1:${dead}`]);
  t.equal(proxy.stats.rejected.dial_failed, 0);
});

t.test('no endpoints: the client sees a reset and a warning is logged', async (t) => {
  const { log, records } = captureLogger('warn');
  const { port, proxy } = await startServicePort(t, [], {}, log);
  const outcome = await request(port, 'hello');
  t.equal(outcome.error, 'ECONNRESET');
  t.equal(outcome.data.length, 0);
  t.equal(proxy.stats.rejected.no_endpoints, 1);
  t.match(
    records.filter((r) => r.level === 'warn'),
    [{ msg: 'no ready endpoints; connection reset', servicePort: 'default/web' }],
  );
});

t.test('warnings about rejected connections are rate limited', async (t) => {
  const { log, records } = captureLogger('warn');
  const { port } = await startServicePort(t, [], {}, log);
  for (let i = 0; i < 5; i++) await request(port);
  t.equal(records.length, 1, 'one line for five rejected connections');
});

t.test('not-ready endpoints get no traffic; terminating ones only when none is ready', async (t) => {
  const ready = await startNamedServer(t, 'ready');
  const terminating = await startNamedServer(t, 'terminating');
  const { port, proxy } = await startServicePort(t, [endpoint(ready), endpoint(terminating, '127.0.0.1', { ready: false, terminating: true })]);
  t.same([(await request(port)).data.toString(), (await request(port)).data.toString()], ['ready', 'ready']);
  proxy.update(
    servicePortPlan([endpoint(ready, '127.0.0.1', { ready: false, serving: false }), endpoint(terminating, '127.0.0.1', { ready: false, terminating: true })]),
  );
  t.equal((await request(port)).data.toString(), 'terminating');
});

t.test('every attempt failing: four dials, then a reset', async (t) => {
  const { port, proxy } = await startServicePort(t, [endpoint(await freePort()), endpoint(await freePort())]);
  const outcome = await request(port);
  t.equal(outcome.error, 'ECONNRESET');
  t.equal(proxy.stats.connectFailures, 4, 'kube-proxy makes four attempts');
  t.equal(proxy.stats.rejected.dial_failed, 1);
  await eventually(() => proxy.stats.active === 0, 'the connection to be counted closed');
});

t.test('a dial that times out moves on to the next endpoint', async (t) => {
  const hole = await startBlackhole(t);
  const live = await startNamedServer(t, 'live');
  const { log, records } = captureLogger('debug');
  const { port, proxy } = await startServicePort(t, [endpoint(hole), endpoint(live)], { dialTimeoutsMs: [100, 100, 100, 100] }, log);
  t.equal((await request(port)).data.toString(), 'live');
  t.equal(proxy.stats.connectFailures, 1);
  t.match(
    records.filter((r) => r.msg === 'upstream dial failed'),
    [{ code: 'E_DIAL_TIMEOUT', attempt: 0 }],
  );
});

t.test('a slow endpoint never blocks accepting: a second connection is served while the first is still dialling', async (t) => {
  const hole = await startBlackhole(t);
  const live = await startNamedServer(t, 'live');
  const { port } = await startServicePort(t, [endpoint(hole), endpoint(live)], { dialTimeoutsMs: [3000, 3000, 3000, 3000] });
  let firstDone = false;
  const first = request(port).then((o) => {
    firstDone = true;
    return o;
  });
  const second = await request(port);
  t.equal(second.data.toString(), 'live');
  t.equal(firstDone, false, 'the first connection is still waiting on the slow endpoint');
  t.equal((await first).data.toString(), 'live', 'and then moves on');
});

t.test('a client that leaves while its upstream is being dialled: the upstream is dropped', async (t) => {
  const hole = await startBlackhole(t);
  const live = await startNamedServer(t, 'live');
  const { port, proxy } = await startServicePort(t, [endpoint(hole), endpoint(live)], { dialTimeoutsMs: [300, 300, 300, 300] });
  const client = await dialTo(t, port);
  client.destroy();
  await eventually(() => proxy.stats.active === 0, 'the abandoned connection to be dropped');
  t.equal(proxy.stats.connectFailures, 1, 'no further attempt after the client left');
});

t.test('isLocalAddress: loopback, wildcards and interface addresses are local; others are not', async (t) => {
  const { isLocalAddress } = await import('../../src/proxy/local-addresses.js');
  const { networkInterfaces } = await import('node:os');
  t.ok(isLocalAddress('127.0.0.42'));
  t.ok(isLocalAddress('::1'));
  t.ok(isLocalAddress('0.0.0.0'));
  t.notOk(isLocalAddress('192.0.2.1'), 'TEST-NET-1 is never configured here');
  const own = Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && !i.internal);
  if (own !== undefined) t.ok(isLocalAddress(own.address), `an interface address (${own.address})`);
});
