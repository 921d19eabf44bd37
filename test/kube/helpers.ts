/** A reflector against the fake API server, with short timings, and ways to wait on it. */
import type { Test } from 'tap';
import { loadClusterAccess } from '../../src/kube/kubeconfig.js';
import { createReflector } from '../../src/kube/reflector.js';
import type { ClusterAccess, Reflector, ReflectorOptions, ReflectorTuning } from '../../src/kube/types.js';
import type { FakeApiServer, RequestRecord } from '../helpers/fake-apiserver/server.js';
import { until } from '../helpers/fake-apiserver/wait.js';
import { silentLog } from '../helpers/log.js';

export { until };

export const FAST: ReflectorTuning = { backoffInitialMs: 20, backoffMaxMs: 200, forbiddenRetryMs: 100, requestTimeoutMs: 1000 };

export interface Followed {
  readonly reflector: Reflector;
  readonly access: ClusterAccess;
  /** How many times onChange fired. */
  changes(): number;
  names(): string[];
}

export interface FollowOptions extends Partial<Omit<ReflectorOptions, 'access' | 'onChange'>> {
  readonly access?: ClusterAccess;
  readonly onChange?: (reflector: Reflector) => void;
}

/** Starts a reflector on `resource` (default services in shop), stopped at teardown. */
export async function follow(t: Test, server: FakeApiServer | undefined, options: FollowOptions = {}): Promise<Followed> {
  if (options.access === undefined && server === undefined) throw new Error('follow: a server or an access');
  const access = options.access ?? loadClusterAccess({ kubeconfig: await (server as FakeApiServer).kubeconfig(t), env: {} });
  let changes = 0;
  const { onChange, ...rest } = options;
  let self: Reflector | undefined;
  const reflector = createReflector({
    resource: 'services',
    namespace: 'shop',
    log: silentLog,
    tuning: FAST,
    ...rest,
    access,
    onChange: () => {
      changes++;
      if (self !== undefined) onChange?.(self);
    },
  });
  self = reflector;
  t.teardown(() => reflector.stop());
  reflector.start();
  return { reflector, access, changes: () => changes, names: () => [...reflector.objects().keys()].sort() };
}

/** Waits until the reflector holds exactly `keys` (sorted `ns/name`). */
export function converged(f: Followed, keys: readonly string[], what = `the store to be ${keys.join(', ')}`): Promise<void> {
  const want = [...keys].sort().join(',');
  return until(() => f.names().join(',') === want, `${what} (have ${f.names().join(', ')})`);
}

export function lists(server: FakeApiServer, path: string): RequestRecord[] {
  return server.requests.filter((r) => r.path === path && r.query.get('watch') !== 'true');
}

export function watches(server: FakeApiServer, path: string): RequestRecord[] {
  return server.requests.filter((r) => r.path === path && r.query.get('watch') === 'true');
}

export function addServices(server: FakeApiServer, namespace: string, ...names: string[]): void {
  for (const name of names) server.cluster.addService({ namespace, name, selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] });
}
