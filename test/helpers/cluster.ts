/**
 * svcproxy --cluster in a test: an in-process instance whose sources are a
 * ClusterSource over the fake API server (test/helpers/fake-apiserver/), and
 * a FileSource where local objects override; servers on the fake's Pod IPs.
 * Shared by the cluster end-to-end, churn and dashboard tests.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { Test } from 'tap';
import { LocalModel } from '../../src/admin/local-model.js';
import { AdminServer } from '../../src/admin/server.js';
import { Svcproxy } from '../../src/instance/instance.js';
import type { PodNetwork } from '../../src/instance/config.js';
import { loadDesired } from '../../src/instance/plan.js';
import { loadClusterAccess } from '../../src/kube/kubeconfig.js';
import { createReflector } from '../../src/kube/reflector.js';
import { createPortForwarder, type PortForwardTuning } from '../../src/portforward/port-forwarder.js';
import type { PortForwarder } from '../../src/proxy/forwarded.js';
import { ClusterSource } from '../../src/sources/cluster-source.js';
import { FileSource } from '../../src/sources/file-source.js';
import type { Source } from '../../src/sources/source.js';
import { getJson } from './admin.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { testConfig } from './instance.js';
import { silentLog } from './log.js';
import { isolatedNetwork } from './service-network.js';

/** Generous but finite: a loaded 2-core CI machine. */
export const WAIT_MS = 20_000;
/** Where the Pods' servers listen, on each Pod's own IP. */
export const POD_PORT = 18080;
/** Short retries, so that an outage or a drop converges within a test's time. */
const TUNING = { backoffInitialMs: 50, backoffMaxMs: 300, requestTimeoutMs: 3000 };

export interface ServicesAnswer {
  servicePorts: Array<{ key: string; endpoints: Array<{ address: string; ready: boolean }> }>;
  services: Array<{ key: string; source: string; addresses: string[]; names: string[] }>;
}

/** GET /api/services. */
export async function services(admin: number): Promise<ServicesAnswer> {
  return getJson<ServicesAnswer>(admin, '/api/services');
}

/** A server on a Pod's IP that answers every connection with that IP and closes; closed at teardown (or by `close`). */
export async function podServer(t: Test, ip: string): Promise<{ close: () => Promise<void> }> {
  return podHandler(t, ip, (s) => s.end(ip), { allowHalfOpen: false });
}

/** A server on a Pod's IP, port POD_PORT, running `handle` per connection; closed at teardown (or by `close`). */
export async function podHandler(
  t: Test,
  ip: string,
  handle: (s: Socket) => void,
  options: { readonly allowHalfOpen: boolean } = { allowHalfOpen: true },
): Promise<{ close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: options.allowHalfOpen }, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    handle(s);
  });
  server.listen(POD_PORT, ip);
  await once(server, 'listening');
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.teardown(close);
  return { close };
}

export interface StartedCluster {
  readonly proxy: Svcproxy<AdminServer>;
  readonly admin: number;
  readonly cluster: ClusterSource;
  /** With podNetwork 'portforward': the instance's port-forwarder. */
  readonly portForwarder: PortForwarder | undefined;
}

/** svcproxy in this process following the fake (and `files`, which win); stopped at teardown. */
export async function startClusterInstance(
  t: Test,
  server: FakeApiServer,
  options: {
    namespaces?: string[];
    files?: string;
    kubeconfig?: string;
    dns?: boolean;
    /** How Pods are reached: 'direct' (the default here: the Pods' servers listen on their IPs) or 'portforward' (svcproxy's own default). */
    podNetwork?: PodNetwork;
    portForwardTuning?: Partial<PortForwardTuning>;
  } = {},
): Promise<StartedCluster> {
  const podNetwork = options.podNetwork ?? 'direct';
  const kubeconfig = options.kubeconfig ?? (await server.kubeconfig(t, { namespace: 'shop' }));
  const access = loadClusterAccess({ kubeconfig });
  const cluster = new ClusterSource({ access, namespaces: options.namespaces ?? ['shop'], reflector: createReflector, log: silentLog, tuning: TUNING });
  const sources: Source[] = [];
  if (options.files !== undefined) sources.push(new FileSource({ paths: [options.files], watch: true, pollIntervalMs: 0 }));
  sources.push(cluster);
  // Other suites run beside this one: a corner of 127/8 of its own (the bind address too: the localhost rule).
  const net = isolatedNetwork();
  const config = testConfig(options.files === undefined ? [] : [options.files], {
    serviceCidr: net.serviceCidr,
    podCidr: net.podCidr,
    bindAddress: net.bindAddress,
    nodeAddress: net.bindAddress,
    cluster: { kubeconfig, context: '', namespaces: options.namespaces ?? ['shop'], allNamespaces: false, podNetwork },
    ...(options.dns === true ? { dnsAddress: { host: '127.0.0.1', port: 0 } } : {}),
  });
  t.teardown(() => cluster.stop());
  await cluster.synced(WAIT_MS);
  const loaded = await loadDesired(config, sources);
  t.same(loaded.issues, [], 'the first snapshot is valid');
  const portForwarder =
    podNetwork === 'portforward'
      ? createPortForwarder({ access, log: silentLog, ...(options.portForwardTuning === undefined ? {} : { tuning: options.portForwardTuning }) })
      : undefined;
  const proxy = new Svcproxy<AdminServer>(config, silentLog, {
    sources,
    admin: (instance) => new AdminServer(new LocalModel(instance), silentLog),
    cluster: () => cluster.status(),
    ...(portForwarder === undefined ? {} : { portForwarder }),
  });
  t.teardown(() => proxy.stop());
  await proxy.start(loaded);
  return { proxy, admin: proxy.adminPort, cluster, portForwarder };
}
