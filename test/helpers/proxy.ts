import type { Test } from 'tap';
import { noShuffle } from '../../src/balancer/round-robin.js';
import type { FaultTable } from '../../src/faults/fault-table.js';
import type { Logger } from '../../src/log.js';
import type { LeaseObserver } from '../../src/proxy/port-ledger.js';
import { ConnectionTracker } from '../../src/proxy/connection-tracker.js';
import type { Lease } from '../../src/proxy/lease.js';
import { ServiceListener } from '../../src/proxy/listener.js';
import { ServicePortProxy, type ServicePortOptions } from '../../src/proxy/service-port-proxy.js';
import { Resolver, type LookupFn } from '../../src/proxy/resolver.js';
import { DEFAULT_POLICY, listenerKey, servicePortKey, type EndpointPlan, type ServicePortPlan, type ServicePortPolicy } from '../../src/state/types.js';
import { silentLog } from './log.js';

export function endpoint(port: number, host = '127.0.0.1', extra: Partial<EndpointPlan> = {}): EndpointPlan {
  return { host, port, ready: true, serving: true, terminating: false, source: 'EndpointSlice', pod: '', hostname: '', probed: false, ...extra };
}

export function servicePortPlan(endpoints: EndpointPlan[], name = 'web', policy: Partial<ServicePortPolicy> = {}): ServicePortPlan {
  return {
    key: servicePortKey('default', name, ''),
    namespace: 'default',
    service: name,
    portName: '',
    port: 80,
    protocol: 'TCP',
    targetPort: '80',
    endpoints,
    publishNotReadyAddresses: false,
    nodePort: 0,
    policy: { ...DEFAULT_POLICY, ...policy },
  };
}

const FAST_OPTIONS: ServicePortOptions = { halfCloseTimeoutMs: 60_000, dialTimeoutsMs: [250, 500, 1000, 2000], keepAliveMs: 60_000, shuffle: noShuffle };

/** A ServicePortProxy behind a real listener on 127.0.0.1:<ephemeral>. */
export async function startServicePort(
  t: Test,
  endpoints: EndpointPlan[],
  options: Partial<ServicePortOptions> = {},
  log: Logger = silentLog,
  extra: {
    podReady?: (pod: string) => boolean;
    policy?: Partial<ServicePortPolicy>;
    lookup?: LookupFn;
    faults?: FaultTable;
    onLeaseEnd?: LeaseObserver;
    name?: string;
    onListenerState?: (listener: ServiceListener) => void;
  } = {},
): Promise<{ port: number; proxy: ServicePortProxy; tracker: ConnectionTracker; listener: ServiceListener }> {
  const tracker = new ConnectionTracker();
  const context = {
    tracker,
    podReady: extra.podReady ?? (() => false),
    resolver: new Resolver(extra.lookup),
    ...(extra.faults === undefined ? {} : { faults: extra.faults }),
    ...(extra.onLeaseEnd === undefined ? {} : { onLeaseEnd: extra.onLeaseEnd }),
  };
  const proxy = new ServicePortProxy(servicePortPlan(endpoints, extra.name ?? 'web', extra.policy), { ...FAST_OPTIONS, ...options }, context, log);
  const plan = {
    key: listenerKey('TCP', '127.0.0.1', 0),
    servicePort: proxy.key,
    protocol: 'TCP' as const,
    address: '127.0.0.1',
    port: 0,
    role: 'bindAddress' as const,
  };
  const listener = new ServiceListener(plan, proxy, log, extra.onListenerState);
  await listener.start();
  t.teardown(async () => {
    listener.close();
    await failOnLeak(
      t,
      () => [...tracker.leases].flatMap((lease) => leakedLease(lease) ?? []),
      () => tracker.resetAll(),
    );
  });
  return { port: listener.port, proxy, tracker, listener };
}

/** How long teardown waits for the proxy to see connections the test closed (their clients were destroyed just before). */
const LEAK_GRACE_MS = 5000; // generous: the check must hold on a loaded machine too

/**
 * A connection the test has finished with but whose endpoint has not: the
 * client's side is gone and its FIN was passed on, so the proxy rightly waits
 * for the endpoint's own (up to --half-close-timeout). The endpoint is a
 * fixture the test opened before the proxy, so its teardown runs after this
 * one and ends the wait; it is not a leak. Only a JS carrier shows its sockets.
 */
function waitingOnEndpoint(lease: Lease): boolean {
  const { downstream, upstream } = lease;
  if (downstream === undefined || upstream === undefined) return false;
  return (downstream.destroyed || downstream.readableEnded) && upstream.writableEnded && !upstream.destroyed;
}

/** An open lease the test should have closed, described; undefined when it is only waiting on its endpoint. */
function leakedLease(lease: Lease): string | undefined {
  if (waitingOnEndpoint(lease)) return undefined;
  const client = lease.clientAddress === '' ? 'a client' : `client ${lease.clientAddress}:${lease.clientPort}`;
  const state = lease.endpoint === undefined ? 'dialling' : `carried to ${lease.endpoint.id}`;
  return `${lease.servicePort} ${client}, ${state}`;
}

/**
 * The teardown half of the leak check (connect-node's useNodeServer does the
 * same): once the test and the fixtures it opened after the proxy are gone
 * (teardowns run last-registered first, so its clients were destroyed just
 * before), the proxy must let go of every connection within LEAK_GRACE_MS.
 * One still open fails the test, naming it; then `reset` clears what is
 * left, so the rest of the teardown (the endpoints) runs and the process
 * can exit.
 */
export async function failOnLeak(t: Test, open: () => string[], reset: () => void): Promise<void> {
  const deadline = Date.now() + LEAK_GRACE_MS;
  while (open().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  const left = open();
  reset();
  if (left.length === 0) return;
  // threw() rather than a thrown error: a rejected teardown would skip the teardowns registered before this one.
  t.threw(new Error(`${left.length} connection(s) still open at teardown: ${left.join('; ')}`));
}
