import t from 'tap';
import type { ClusterAccess, KubeObject, Reflector, ReflectorOptions, ReflectorState, WatchPhase } from '../../src/kube/types.js';
import { ClusterSource } from '../../src/sources/cluster-source.js';
import { captureLogger } from '../helpers/log.js';

/** A reflector the test drives by hand. */
class HandReflector implements Reflector {
  readonly store = new Map<string, KubeObject>();
  phase: WatchPhase = 'listing';
  synced = false;
  lastErrorAt = 0;
  lastContactAt = 0;
  lastError = '';
  started = 0;
  stopped = 0;

  constructor(readonly options: ReflectorOptions) {}
  start(): void {
    this.started++;
  }
  stop(): void {
    this.stopped++;
  }
  objects(): ReadonlyMap<string, KubeObject> {
    return this.store;
  }
  state(): ReflectorState {
    const { resource, namespace } = this.options;
    return {
      resource,
      namespace,
      phase: this.phase,
      synced: this.synced,
      resourceVersion: '1',
      relists: 0,
      watchRestarts: 0,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      lastContactAt: this.lastContactAt,
      since: 0,
    };
  }
  counters(): { requests: ReadonlyMap<string, number>; refusedObjects: number; refusedEvents: number } {
    return { requests: new Map([['list 200', 1]]), refusedObjects: 0, refusedEvents: 0 };
  }
  put(name: string, rv: string, extra: Record<string, unknown> = {}): void {
    this.store.set(`shop/${name}`, { metadata: { name, namespace: 'shop', resourceVersion: rv }, ...extra });
    this.options.onChange();
  }
}

const ACCESS: ClusterAccess = {
  contextName: 'dev',
  server: 'https://127.0.0.1:6443',
  user: 'me',
  namespace: 'shop',
  kubeconfigPaths: ['/k'],
  request: () => Promise.reject(new Error('not used')),
  upgrade: () => Promise.reject(new Error('not used')),
};

function source(namespaces: string[] = ['shop']): {
  cluster: ClusterSource;
  reflectors: HandReflector[];
  records: ReturnType<typeof captureLogger>['records'];
} {
  const reflectors: HandReflector[] = [];
  const { log, records } = captureLogger('debug');
  const cluster = new ClusterSource({
    access: ACCESS,
    namespaces,
    log,
    reflector: (options) => {
      const r = new HandReflector(options);
      reflectors.push(r);
      return r;
    },
  });
  return { cluster, reflectors, records };
}

const SERVICE = { spec: { ports: [{ port: 80 }] } };

t.test('one reflector per resource and namespace; the version follows the objects only', async (t) => {
  const { cluster, reflectors } = source(['shop', 'db']);
  t.same(
    reflectors.map((r) => `${r.options.resource} ${r.options.namespace}`),
    ['services shop', 'endpointslices shop', 'services db', 'endpointslices db'],
  );
  const first = await cluster.read();
  t.same((await cluster.read()).version, first.version, 'nothing changed: the same version');
  const [services] = reflectors;
  services?.put('web', '5', SERVICE);
  const second = await cluster.read();
  t.not(second.version, first.version);
  services?.put('web', '5', SERVICE);
  t.equal((await cluster.read()).version, second.version, 'the same resourceVersion again: the same version');
  const objects = await second.objects();
  t.same(
    objects.snapshot.services.map((s) => s.name),
    ['web'],
  );
  cluster.stop();
  t.ok(reflectors.every((r) => r.started === 1 && r.stopped === 1));
});

t.test('watch() reports every store change, and once at once', async (t) => {
  const { cluster, reflectors } = source();
  const triggers: string[] = [];
  cluster.watch((trigger) => triggers.push(trigger), { warn: () => undefined, debug: () => undefined });
  t.same(triggers, ['watch']);
  reflectors[0]?.put('web', '2', SERVICE);
  t.same(triggers, ['watch', 'watch']);
  cluster.stop();
  reflectors[0]?.put('web', '3', SERVICE);
  t.equal(triggers.length, 2, 'a stopped source reports nothing');
});

t.test('out of reach: every watch backing off with no contact since its error', async (t) => {
  const { cluster, reflectors } = source();
  t.teardown(() => cluster.stop());
  for (const r of reflectors) {
    r.phase = 'watching';
    r.synced = true;
    r.lastContactAt = 1000;
  }
  t.equal(cluster.status().reachable, true);
  const [a, b] = reflectors;
  if (a === undefined || b === undefined) return;
  a.phase = 'backoff';
  a.lastErrorAt = 2000;
  t.equal(cluster.status().reachable, true, 'one watch still watching');
  b.phase = 'backoff';
  b.lastErrorAt = 2500;
  const down = cluster.status();
  t.equal(down.reachable, false);
  t.equal(down.unreachableSince, new Date(2000).toISOString());
  b.lastContactAt = 3000;
  b.phase = 'watching';
  t.equal(cluster.status().reachable, true, 'back');
});

t.test('every watch refused with 401 at start: an error naming the context and server', async (t) => {
  const { cluster, reflectors } = source();
  t.teardown(() => cluster.stop());
  for (const r of reflectors) {
    r.phase = 'unauthorized';
    r.lastError = 'Unauthorized';
  }
  await t.rejects(cluster.synced(2000), /refused the credentials of context dev \(401 Unauthorized\)/);
});

t.test('a forbidden namespace is logged once, by name; the status lists it', async (t) => {
  const { cluster, reflectors, records } = source(['shop', 'secret']);
  t.teardown(() => cluster.stop());
  for (const r of reflectors) {
    r.synced = r.options.namespace === 'shop';
    r.phase = r.options.namespace === 'shop' ? 'watching' : 'forbidden';
  }
  await cluster.synced(2000);
  await cluster.synced(2000);
  const warnings = records.filter((r) => r.msg.includes('403 Forbidden'));
  t.equal(warnings.length, 1);
  t.match(warnings[0]?.msg, /namespace secret/);
  t.same(cluster.status().forbiddenNamespaces, ['secret']);
  t.equal(cluster.status().reachable, true);
  t.same(cluster.status().requests, { 'list 200': 4 });
});

t.test('a refused object is told once while it stays refused, again after a fix and a relapse', async (t) => {
  const { cluster, reflectors } = source();
  t.teardown(() => cluster.stop());
  const [services] = reflectors;
  const bad = { spec: { ports: [{ port: 99999 }] } };
  services?.put('bad', '1', bad);
  const notes = async (): Promise<number> => (await (await cluster.read()).objects()).notes.length;
  t.equal(await notes(), 1);
  services?.put('web', '2', SERVICE);
  t.equal(await notes(), 0, 'not again on the next change');
  services?.put('bad', '3', SERVICE);
  t.equal(await notes(), 0);
  services?.put('bad', '4', bad);
  t.equal(await notes(), 1, 'broken again: told again');
});
