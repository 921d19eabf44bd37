import t from 'tap';
import { aggregate, Retired, type WorkerInput } from '../../src/admin/aggregate.js';
import type { AdminSnapshot } from '../../src/admin/model.js';
import type { ProcessSample } from '../../src/admin/process-metrics.js';
import type { EndpointView, ServicePortSnapshot, ServicePortTotals } from '../../src/admin/view.js';
import { newStats } from '../../src/proxy/stats.js';

const BOUNDS = [0.001, 0.01];

function proc(over: Partial<ProcessSample> = {}): ProcessSample {
  return {
    cpuUserSeconds: 1,
    cpuSystemSeconds: 0.5,
    startTimeSeconds: 100,
    residentBytes: 1000,
    heapTotalBytes: 100,
    heapUsedBytes: 50,
    externalBytes: 10,
    openFds: 20,
    maxFds: 1024,
    loopP99Seconds: 0.001,
    loopMaxSeconds: 0.002,
    ...over,
  };
}

function totals(over: Partial<ServicePortTotals> = {}): ServicePortTotals {
  return {
    connections: 0,
    activeConnections: 0,
    bytesFromDownstream: 0,
    bytesFromUpstream: 0,
    connectFailures: 0,
    rejected: { no_endpoints: 0, dial_failed: 0, source_range: 0, max_connections: 0 },
    closed: { ...newStats().closed },
    idleTimeouts: 0,
    ...over,
  };
}

function endpoint(id: string, over: Partial<EndpointView> = {}): EndpointView {
  const [address = '', port = '0'] = id.split(':');
  return {
    id,
    address,
    port: Number(port),
    ready: true,
    serving: true,
    terminating: false,
    source: 'EndpointSlice',
    pod: '',
    ejected: false,
    activeConnections: 0,
    connections: 0,
    toxics: [],
    ...over,
  };
}

function port(key: string, t: ServicePortTotals, endpoints: EndpointView[], listenerState = 'listening', counts = [0, 0, 0]): ServicePortSnapshot {
  return {
    view: {
      key,
      namespace: 'default',
      service: key.split('/')[1] ?? key,
      portName: '',
      port: 80,
      protocol: 'TCP',
      targetPort: '8080',
      listeners: [
        { address: '127.0.0.1:80', protocol: 'TCP', role: 'service', state: listenerState, error: listenerState === 'failed' ? 'EADDRINUSE: taken' : '' },
      ],
      endpoints,
      totals: t,
      toxics: [],
    },
    connectSeconds: { bounds: BOUNDS, counts, sum: counts.reduce((a, b) => a + b, 0) * 0.001, count: counts.reduce((a, b) => a + b, 0) },
  };
}

function snapshot(ports: ServicePortSnapshot[], over: Partial<AdminSnapshot> = {}): AdminSnapshot {
  return {
    servicePorts: ports,
    services: [],
    pods: [],
    toxicCounters: [],
    config: {
      config: '/cfg',
      hash: 'h1',
      loadedAt: '2026-01-01T00:00:00.000Z',
      ready: true,
      reason: 'ok',
      draining: false,
      reloads: { success: 1, failure: 0 },
      lastReload: { result: 'success', at: '2026-01-01T00:00:00.000Z', errors: [] },
    },
    reloads: { successes: 1, failures: 0, lastSuccessAt: 1000, lastResult: 'success' },
    process: proc(),
    ...over,
  };
}

function worker(n: number, snap: AdminSnapshot | undefined, over: Partial<WorkerInput> = {}): WorkerInput {
  return { worker: n, pid: 1000 + n, state: 'running', startedAt: 0, restarts: 0, snapshot: snap, stale: false, ...over };
}

const base = {
  expected: 2,
  primary: proc({ cpuUserSeconds: 0.1, cpuSystemSeconds: 0.1, residentBytes: 500, startTimeSeconds: 90, maxFds: 4096 }),
  draining: false,
  configPath: '/cfg',
};

t.test('counters and load are summed; config-derived state is reported once', async (t) => {
  const w1 = snapshot([
    port(
      'default/web',
      totals({
        connections: 3,
        activeConnections: 1,
        bytesFromDownstream: 10,
        bytesFromUpstream: 20,
        rejected: { no_endpoints: 1, dial_failed: 0, source_range: 0, max_connections: 0 },
        closed: { ...newStats().closed, client_fin: 2 },
      }),
      [endpoint('10.0.0.1:8080', { activeConnections: 1, connections: 3 }), endpoint('10.0.0.2:8080')],
      'listening',
      [1, 2, 0],
    ),
  ]);
  const w2 = snapshot([
    port(
      'default/web',
      totals({
        connections: 5,
        activeConnections: 2,
        bytesFromDownstream: 1,
        bytesFromUpstream: 2,
        rejected: { no_endpoints: 0, dial_failed: 2, source_range: 0, max_connections: 0 },
      }),
      [endpoint('10.0.0.1:8080', { activeConnections: 2, connections: 4 }), endpoint('10.0.0.2:8080', { ejected: true, connections: 1 })],
      'failed',
      [0, 4, 1],
    ),
  ]);
  const out = aggregate({ ...base, workers: [worker(1, w1), worker(2, w2)], retired: new Retired() });
  const [web] = out.servicePorts;
  if (web === undefined) throw new Error('no port');
  t.match(web.view.totals, {
    connections: 8,
    activeConnections: 3,
    bytesFromDownstream: 11,
    bytesFromUpstream: 22,
    rejected: { no_endpoints: 1, dial_failed: 2 },
    closed: { client_fin: 2, drain: 0 },
  });
  t.same(web.connectSeconds, { bounds: BOUNDS, counts: [1, 6, 1], sum: 0.008, count: 8 }, 'histograms merged bucket by bucket');
  t.same(
    web.view.endpoints.map((e) => [e.id, e.activeConnections, e.connections, e.ejected]),
    [
      ['10.0.0.1:8080', 3, 7, false],
      ['10.0.0.2:8080', 0, 1, true],
    ],
    'one row per endpoint; ejected when any worker skips it',
  );
  t.match(web.view.listeners, [{ address: '127.0.0.1:80', state: 'failed', error: 'EADDRINUSE: taken' }], 'a listener shows its worst state');
  t.same(
    web.view.workers?.map((w) => [w.worker, w.totals.connections]),
    [
      [1, 3],
      [2, 5],
    ],
  );
  t.match(out.process, { cpuUserSeconds: 2.1, residentBytes: 2500, openFds: 60, startTimeSeconds: 90, maxFds: 4096, loopP99Seconds: 0.001 });
  t.match(out.config, { ready: true, reason: 'ok', hash: 'h1', reloads: { success: 1, failure: 0 } });
  t.same(out.reloads, { successes: 1, failures: 0, lastSuccessAt: 1000, lastResult: 'success' }, 'reloads: the largest, not the sum');
  t.match(out.workers, [
    { worker: 1, pid: 1001, state: 'running', ready: true, residentBytes: 1000, cpuSeconds: 1.5 },
    { worker: 2, pid: 1002, state: 'running', ready: true },
  ]);
});

t.test("a retired worker's counters stay in the sums; gauges do not; a port no worker serves is forgotten", async (t) => {
  const retired = new Retired();
  retired.add(
    snapshot([
      port(
        'default/web',
        totals({ connections: 7, activeConnections: 4, connectFailures: 2, closed: { ...newStats().closed, endpoint_reset: 3 } }),
        [endpoint('10.0.0.1:8080', { connections: 7, activeConnections: 4 })],
        'listening',
        [7, 0, 0],
      ),
    ]),
  );
  const live = snapshot([
    port(
      'default/web',
      totals({ connections: 1, activeConnections: 1 }),
      [endpoint('10.0.0.1:8080', { connections: 1, activeConnections: 1 })],
      'listening',
      [1, 0, 0],
    ),
  ]);
  const out = aggregate({ ...base, workers: [worker(1, live), worker(2, undefined, { state: 'starting', restarts: 1 })], retired });
  const [web] = out.servicePorts;
  t.match(web?.view.totals, { connections: 8, activeConnections: 1, connectFailures: 2, closed: { endpoint_reset: 3 } });
  t.match(web?.view.endpoints, [{ connections: 8, activeConnections: 1 }]);
  t.same(web?.connectSeconds.counts, [8, 0, 0]);
  t.match(out.process, { cpuUserSeconds: 2.1 }, 'the CPU time of the exited worker is kept too');
  t.match(out.config, { ready: false, reason: 'worker 2: starting' });
  t.match(out.workers, [{ worker: 1 }, { worker: 2, state: 'starting', ready: false, reason: 'starting', restarts: 1 }]);

  retired.retain(new Set(['default/other']));
  t.equal(retired.ports.size, 0);
});

t.test('readiness: every worker running and ready, all started, not draining', async (t) => {
  const ready = snapshot([]);
  const notReady = snapshot([], { config: { ...ready.config, ready: false, reason: 'not bound: x' } });
  const cases: Array<[string, WorkerInput[], boolean, string]> = [
    ['all ready', [worker(1, ready), worker(2, ready)], false, 'ok'],
    ['one not ready', [worker(1, ready), worker(2, notReady)], false, 'worker 2: not bound: x'],
    ['one has not answered yet', [worker(1, ready), worker(2, undefined)], false, 'worker 2: no answer yet'],
    ['one being replaced', [worker(1, ready), worker(2, ready, { state: 'restarting' })], false, 'worker 2: restarting'],
    ['one missing', [worker(1, ready)], false, '1 of 2 workers not started'],
    ['draining', [worker(1, ready), worker(2, ready)], true, 'draining'],
  ];
  for (const [name, workers, draining, reason] of cases) {
    const out = aggregate({ ...base, workers, draining, retired: new Retired() });
    t.equal(out.config.reason, reason, name);
    t.equal(out.config.ready, reason === 'ok', name);
  }
});

t.test('before any worker answers: an empty, not-ready snapshot naming the config', async (t) => {
  const out = aggregate({ ...base, workers: [worker(1, undefined, { state: 'starting' })], retired: new Retired() });
  t.same(out.servicePorts, []);
  t.match(out.config, { config: '/cfg', hash: '', ready: false, lastReload: { result: 'none' } });
  t.same(out.reloads, { successes: 0, failures: 0, lastSuccessAt: 0, lastResult: 'none' });
});

t.test('reloads: the latest applied snapshot and the latest attempt; a failure anywhere is a failure', async (t) => {
  const applied = snapshot([], { reloads: { successes: 3, failures: 1, lastSuccessAt: 2000, lastResult: 'failure' } });
  const older = snapshot([], {
    config: {
      ...applied.config,
      hash: 'old',
      loadedAt: '2025-01-01T00:00:00.000Z',
      lastReload: { result: 'failure', at: '2027-01-01T00:00:00.000Z', errors: ['bad'] },
    },
    reloads: { successes: 2, failures: 0, lastSuccessAt: 1000, lastResult: 'success' },
  });
  const out = aggregate({ ...base, workers: [worker(1, older), worker(2, applied)], retired: new Retired() });
  t.same(out.reloads, { successes: 3, failures: 1, lastSuccessAt: 2000, lastResult: 'failure' });
  t.match(out.config, { hash: 'h1', lastReload: { result: 'failure', errors: ['bad'] } });
});

t.test("Pods: the lowest worker's list; ready only when every worker finds the Pod ready", async (t) => {
  const pod = (key: string, ready: boolean, reason: string) => ({
    key,
    namespace: 'default',
    name: key.split('/')[1] ?? key,
    workload: { kind: 'Deployment', name: 'web' },
    binding: '',
    address: '127.64.0.9',
    ports: [],
    readinessProbe: 'tcpSocket :8080',
    ready,
    reason,
    terminating: false,
    removeAt: '',
    services: ['default/web'],
  });
  const w1 = snapshot([], { pods: [pod('default/a', true, 'tcp connect ok'), pod('default/b', true, 'tcp connect ok')] });
  const w2 = snapshot([], { pods: [pod('default/a', false, 'ECONNREFUSED'), pod('default/b', true, 'tcp connect ok')] });
  const out = aggregate({ ...base, workers: [worker(1, w1), worker(2, w2)], retired: new Retired() });
  t.same(
    out.pods.map((p) => [p.key, p.ready, p.reason]),
    [
      ['default/a', false, 'ECONNREFUSED'],
      ['default/b', true, 'tcp connect ok'],
    ],
  );
  t.same(aggregate({ ...base, workers: [worker(1, undefined, { state: 'starting' })], retired: new Retired() }).pods, [], 'no answer yet: no Pods');
});
