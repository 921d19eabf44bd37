import t, { type Test } from 'tap';
import type { RunnableProbe } from '../../src/health/probe.js';
import { ProbeManager, type ReadinessChange } from '../../src/health/probe-manager.js';
import type { PodProbePlan } from '../../src/state/types.js';
import { silentLog } from '../helpers/log.js';
import { eventually, freePort, startServer } from '../helpers/net.js';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';

// Fractional seconds keep these tests short; manifests only allow whole seconds.
function tcpProbe(port: number, extra: Partial<RunnableProbe> = {}): RunnableProbe {
  return {
    container: 'app',
    kind: 'tcpSocket',
    port: { port, name: '' },
    host: '',
    initialDelaySeconds: 0,
    periodSeconds: 0.05,
    timeoutSeconds: 0.5,
    successThreshold: 1,
    failureThreshold: 1,
    ...extra,
  } as RunnableProbe;
}

function plan(pod: string, probes: RunnableProbe[]): PodProbePlan {
  return { pod, address: '127.0.0.1', probes, services: ['default/web'] };
}

function manager(t: Test) {
  const changes: ReadinessChange[] = [];
  const successes: string[] = [];
  const m = new ProbeManager({ onChange: (c) => changes.push(c), onSuccess: (p) => successes.push(p) }, silentLog);
  t.teardown(() => m.stopAll());
  return { m, changes, successes };
}

async function listenOn(port: number): Promise<Server> {
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.end();
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

t.test('a Pod starts not ready and turns ready after its first success', async (t) => {
  const port = await startServer(t, (s) => s.end());
  const { m, changes } = manager(t);
  m.sync(new Map([['default/a', plan('default/a', [tcpProbe(port)])]]));
  t.notOk(m.isReady('default/a'));
  await eventually(() => m.isReady('default/a'), 'ready');
  t.match(changes, [{ pod: 'default/a', ready: true, reason: 'tcp connect ok' }]);
});

t.test('failureThreshold failures make it not ready; successThreshold successes make it ready again', async (t) => {
  const port = await freePort();
  let server = await listenOn(port);
  const { m, changes } = manager(t);
  m.sync(new Map([['default/a', plan('default/a', [tcpProbe(port, { failureThreshold: 3, successThreshold: 2 })])]]));
  await eventually(() => m.isReady('default/a'), 'ready (needs 2 successes)');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await eventually(() => !m.isReady('default/a'), 'not ready after 3 failures');
  server = await listenOn(port);
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await eventually(() => m.isReady('default/a'), 'ready again');
  t.same(
    changes.map((c) => c.ready),
    [true, false, true],
  );
  t.match(changes[1]?.reason, /ECONNREFUSED/);
});

t.test('a Pod is ready only when every probed container is', async (t) => {
  let rounds = 0;
  const up = await startServer(t, (s) => {
    rounds++;
    s.end();
  });
  const down = await freePort();
  const { m, successes } = manager(t);
  m.sync(new Map([['default/a', plan('default/a', [tcpProbe(up), tcpProbe(down)])]]));
  await eventually(() => rounds >= 4, 'several probe rounds');
  t.notOk(m.isReady('default/a'), 'one container failing keeps the Pod not ready');
  t.ok(successes.length >= 4, 'the passing container reports its successes');
});

t.test('removing a Pod stops its probes and leaves no timers', async (t) => {
  const port = await startServer(t, (s) => s.end());
  const { m } = manager(t);
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  m.sync(
    new Map([
      ['default/a', plan('default/a', [tcpProbe(port)])],
      ['default/b', plan('default/b', [tcpProbe(port)])],
    ]),
  );
  await eventually(() => m.isReady('default/a') && m.isReady('default/b'), 'both ready');
  m.sync(new Map([['default/b', plan('default/b', [tcpProbe(port)])]]));
  t.equal(m.loopCount, 1);
  t.notOk(m.isReady('default/a'), 'a removed Pod is not ready');
  m.sync(new Map());
  t.equal(m.loopCount, 0);
  await eventually(() => timers() <= before, 'no probe timer left');
});

t.test('an unchanged Pod keeps running and keeps its readiness across a sync; a changed probe restarts it', async (t) => {
  const port = await startServer(t, (s) => s.end());
  const { m, changes } = manager(t);
  const p = plan('default/a', [tcpProbe(port)]);
  m.sync(new Map([['default/a', p]]));
  await eventually(() => m.isReady('default/a'), 'ready');
  m.sync(new Map([['default/a', { ...p, services: ['default/web', 'default/other'] }]]));
  t.ok(m.isReady('default/a'), 'still ready');
  m.sync(new Map([['default/a', plan('default/a', [tcpProbe(port, { timeoutSeconds: 0.4 })])]]));
  t.notOk(m.isReady('default/a'), 'a changed probe starts over, not ready');
  await eventually(() => m.isReady('default/a'), 'ready again');
  t.equal(changes.filter((c) => c.ready).length, 2);
});

t.test('initialDelaySeconds delays the first probe', async (t) => {
  const port = await startServer(t, (s) => s.end());
  const { m } = manager(t);
  const started = Date.now();
  m.sync(new Map([['default/a', plan('default/a', [tcpProbe(port, { initialDelaySeconds: 0.3 })])]]));
  await eventually(() => m.isReady('default/a'), 'ready');
  t.ok(Date.now() - started >= 290, 'not before the initial delay');
});

t.test('grpc and exec probes run through the manager too (a gRPC health server; exec connects to its port)', async (t) => {
  const { Server, ServerCredentials } = await import('@grpc/grpc-js');
  const { HealthImplementation } = await import('grpc-health-check');
  const server = new Server();
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  health.addToServer(server);
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err === null ? resolve(bound) : reject(err))),
  );
  t.teardown(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  const timing = { initialDelaySeconds: 0, periodSeconds: 0.05, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 };
  const { m } = manager(t);
  m.sync(new Map([['default/g', plan('default/g', [{ container: 'app', kind: 'grpc', port: grpcPort, service: '', ...timing }])]]));
  await eventually(() => m.reason('default/g') === 'grpc NOT_SERVING', 'the probe ran and failed: NOT_SERVING');
  t.notOk(m.isReady('default/g'));
  health.setStatus('', 'SERVING');
  await eventually(() => m.isReady('default/g'), 'ready once the server says SERVING');
  t.equal(m.reason('default/g'), 'grpc SERVING');
  const port = await startServer(t, (s) => s.end());
  m.sync(new Map([['default/e', plan('default/e', [{ container: 'app', kind: 'exec', command: ['true'], fallbackPort: { port, name: '' }, ...timing }])]]));
  await eventually(() => m.isReady('default/e'), 'an exec probe is ready when its fallback port accepts');
  t.equal(m.reason('default/e'), 'tcp connect ok');
  t.equal(m.reason('default/nobody'), '', 'a Pod not probed has no reason');
});
