/**
 * The read-only view the admin surface has of a running svcproxy, and the
 * plain-data snapshots built from it for /api/services, /metrics and the
 * stats tick. Everything here reads counters and plans at request (or tick)
 * time; nothing is hooked into the data path and nothing here can change
 * the proxy: the structural types below expose only what is read.
 */
import type { EventEmitter } from 'node:events';
import type { ConnectionTarget, ToxicCounterEntry, ToxicView } from '../faults/fault-table.js';
import type { ReloadStatus, SvcproxyEvents } from '../instance-types.js';
import type { ByteCounts, ForwardedEnd, RejectReason } from '../proxy/lease.js';
import type { ServicePortStats } from '../proxy/stats.js';
import type { PortForwardStats } from '../proxy/forwarded.js';
import type { ClusterStatusReader } from '../sources/cluster-status.js';
import { currentConditions } from '../state/endpoints.js';
import { serviceNames } from '../state/service-info.js';
import { hostPort, type EndpointSource, type ListenerPlan, type PodInfo, type ServiceInfo, type ServicePortPlan } from '../state/types.js';
import type { HistogramData } from './exposition.js';

/** What the admin reads of one Service port (a ServicePortProxy). */
interface ServicePortReadable {
  readonly current: ServicePortPlan;
  readonly stats: Readonly<ServicePortStats>;
  /** Bytes each way, open connections included (each connection's lease knows its port). */
  bytes(): ByteCounts;
  /** `host:port` of the endpoints passive health is skipping now. */
  ejected(): string[];
  /** Set with --pod-network portforward: the port's cluster Pods are reached through the API server. */
  readonly portForwarder?: unknown;
}

/** What the admin reads of one listener (a ServiceListener). */
interface ListenerReadable {
  readonly plan: ListenerPlan;
  readonly state: string;
  readonly lastError: string;
  /** The bound port (differs from plan.port only for port 0). */
  readonly port: number;
}

/** The registry as the admin sees it. */
export interface RegistryReadable {
  readonly servicePorts: ReadonlyMap<string, ServicePortReadable>;
  readonly listeners: ReadonlyMap<string, ListenerReadable>;
}

/** What the admin reads of the native splice pump (NativePump), when it runs. */
export interface NativePumpReadable {
  readonly counts: { readonly handedOff: number; readonly fallbacks: ReadonlyMap<string, number> };
  threadStats(): {
    readonly connections: number;
    readonly pipes: number;
    readonly sparePipes: number;
    readonly pipeFailures: number;
    readonly copiedChunks: number;
  };
}

/** Everything the admin surface reads of a running svcproxy; Svcproxy satisfies it as is. */
export interface AdminSource {
  readonly options: { readonly config: readonly string[]; readonly clusterDomain?: string };
  /** Every Service with its addresses (absent: none shown). */
  readonly services?: ReadonlyMap<string, ServiceInfo>;
  /** The native pump, undefined when the JS pump carries every connection (--pump js, or not built). */
  readonly nativePump: NativePumpReadable | undefined;
  readonly status: Readonly<ReloadStatus>;
  readonly ready: { readonly ready: boolean; readonly reason: string };
  readonly draining: boolean;
  readonly registry: RegistryReadable;
  readonly probes: { isReady(pod: string): boolean; reason?(pod: string): string };
  /** Every Pod of the applied config (absent: none shown). */
  readonly pods?: ReadonlyMap<string, PodInfo>;
  readonly events: EventEmitter<SvcproxyEvents>;
  /** The toxics in force (declared Faults and toxiproxy-API toxics); absent = none. */
  readonly faults?: FaultsReadable;
  /** With --cluster: the cluster source's state, read-only. */
  readonly cluster?: ClusterStatusReader | undefined;
  /** With --pod-network portforward: the port-forwarder's counters. */
  readonly portForwarder?: { stats(): PortForwardStats } | undefined;
}

/** What the admin reads of the FaultTable. */
interface FaultsReadable {
  views(key: string, endpoints: readonly ConnectionTarget[], now: number): { port: ToxicView[]; byEndpoint: Map<string, ToxicView[]> };
  counterEntries(): ToxicCounterEntry[];
}

export interface EndpointView {
  /** `host:port`, the key of per-endpoint counts (and of the stats tick's `upstreams`). */
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly source: EndpointSource;
  /** `namespace/name` of the Pod behind it, '' for hand-written endpoints. */
  readonly pod: string;
  /** Skipped by passive health after failed dials. */
  readonly ejected: boolean;
  /** How connections reach it: `dial` (TCP/UDP to its address) or `portforward` (a stream through the API server's pods/portforward). */
  readonly reachedBy?: 'dial' | 'portforward';
  readonly activeConnections: number;
  readonly connections: number;
  /** Toxics aimed at this endpoint (a Fault's pod, endpoint or podSelector target). */
  readonly toxics: readonly ToxicView[];
}

export interface ListenerView {
  /** `host:port` as bound (`[::1]:80` for IPv6). */
  readonly address: string;
  readonly protocol: string;
  readonly role: string;
  /** binding | listening | failed | closed */
  readonly state: string;
  /** The last bind error, '' when bound. */
  readonly error: string;
}

export interface ServicePortTotals {
  readonly connections: number;
  readonly activeConnections: number;
  /** Bytes received from clients, including those of open connections. */
  readonly bytesFromDownstream: number;
  /** Bytes received from endpoints, including those of open connections. */
  readonly bytesFromUpstream: number;
  /** Individual failed dial attempts. */
  readonly connectFailures: number;
  readonly rejected: Readonly<Record<RejectReason, number>>;
  /** Forwarded connections and flows that have ended, by how they ended. */
  readonly closed: Readonly<Record<ForwardedEnd, number>>;
  /** Connections closed by the idle timeout (= closed.idle_timeout; kept for existing readers). */
  readonly idleTimeouts: number;
}

export interface ServicePortView {
  /** `namespace/name` or `namespace/name:portName`. */
  readonly key: string;
  readonly namespace: string;
  readonly service: string;
  /** The Service port's name, '' when unnamed. */
  readonly portName: string;
  readonly port: number;
  readonly protocol: string;
  readonly targetPort: string;
  readonly listeners: readonly ListenerView[];
  readonly endpoints: readonly EndpointView[];
  readonly totals: ServicePortTotals;
  /** With --workers only: each worker's share of the totals, by worker slot. */
  readonly workers?: ReadonlyArray<{ readonly worker: number; readonly totals: ServicePortTotals }>;
  /** Toxics on every connection of the port (a Fault on the Service or port, toxiproxy-API toxics). */
  readonly toxics: readonly ToxicView[];
}

/** A view plus what only /metrics needs. */
export interface ServicePortSnapshot {
  readonly view: ServicePortView;
  readonly connectSeconds: HistogramData;
}

/** The `port` label and display name: the Service port's name, or its number when unnamed. */
export function portLabel(view: Pick<ServicePortView, 'portName' | 'port'>): string {
  return view.portName === '' ? String(view.port) : view.portName;
}

function endpointViews(proxy: ServicePortReadable, podReady: (pod: string) => boolean, toxics: ReadonlyMap<string, ToxicView[]>): EndpointView[] {
  const plan = proxy.current;
  const ejected = new Set(proxy.ejected());
  const forwarding = proxy.portForwarder !== undefined && plan.protocol === 'TCP';
  return plan.endpoints.map((e) => {
    const id = hostPort(e.host, e.port);
    const conditions = currentConditions(e, podReady, plan.publishNotReadyAddresses);
    return {
      id,
      address: e.host,
      port: e.port,
      ready: conditions.ready,
      serving: conditions.serving,
      terminating: conditions.terminating,
      source: e.source,
      pod: e.pod,
      ejected: ejected.has(id),
      reachedBy: forwarding && e.portForward === true ? 'portforward' : 'dial',
      activeConnections: proxy.stats.activeByUpstream.get(id) ?? 0,
      connections: proxy.stats.connectionsByUpstream.get(id) ?? 0,
      toxics: toxics.get(id) ?? [],
    };
  });
}

/** Every listener's view, grouped by the Service port it feeds. */
function listenerViews(source: AdminSource): Map<string, ListenerView[]> {
  const byServicePort = new Map<string, ListenerView[]>();
  for (const l of source.registry.listeners.values()) {
    const views = byServicePort.get(l.plan.servicePort) ?? [];
    views.push({ address: hostPort(l.plan.address, l.port), protocol: l.plan.protocol, role: l.plan.role, state: l.state, error: l.lastError });
    byServicePort.set(l.plan.servicePort, views);
  }
  for (const views of byServicePort.values()) views.sort((a, b) => a.address.localeCompare(b.address));
  return byServicePort;
}

/** Every current Service port, sorted by key. Removed ports (and their counters) are not included. */
export function servicePortSnapshots(source: AdminSource): ServicePortSnapshot[] {
  const podReady = (pod: string): boolean => source.probes.isReady(pod);
  const listeners = listenerViews(source);
  const snapshots: ServicePortSnapshot[] = [];
  for (const proxy of source.registry.servicePorts.values()) {
    const plan = proxy.current;
    const { stats } = proxy;
    const counted = proxy.bytes();
    const targets = plan.endpoints.map((e) => ({ id: hostPort(e.host, e.port), pod: e.pod }));
    const toxics = source.faults?.views(plan.key, targets, Date.now()) ?? { port: [], byEndpoint: new Map<string, ToxicView[]>() };
    const view: ServicePortView = {
      key: plan.key,
      namespace: plan.namespace,
      service: plan.service,
      portName: plan.portName,
      port: plan.port,
      protocol: plan.protocol,
      targetPort: plan.targetPort,
      listeners: listeners.get(plan.key) ?? [],
      endpoints: endpointViews(proxy, podReady, toxics.byEndpoint),
      totals: {
        connections: stats.connections,
        activeConnections: stats.active,
        bytesFromDownstream: counted.fromDownstream,
        bytesFromUpstream: counted.fromUpstream,
        connectFailures: stats.connectFailures,
        rejected: { ...stats.rejected },
        closed: { ...stats.closed },
        idleTimeouts: stats.closed.idle_timeout,
      },
      toxics: toxics.port,
    };
    snapshots.push({ view, connectSeconds: stats.connectSeconds });
  }
  return snapshots.sort((a, b) => a.view.key.localeCompare(b.view.key));
}

/** A Service as /api/services lists it: its addresses, names and where each port is served. */
export interface ServiceView {
  /** `namespace/name`. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly type: string;
  readonly headless: boolean;
  /** Where it came from: a file (`web.yaml[0]`) or a cluster (`cluster:<context>[0]`). */
  readonly source: string;
  /** Its own addresses, primary first ([] for headless and ExternalName). */
  readonly addresses: readonly string[];
  /** Manifest clusterIPs that are not addresses of this machine (mapped to `addresses`). */
  readonly mappedFrom: readonly string[];
  /** The DNS names it answers to (full name first), and the CNAME target of an ExternalName Service. */
  readonly names: readonly string[];
  readonly externalName: string;
  readonly ports: ReadonlyArray<{
    readonly name: string;
    readonly port: number;
    readonly protocol: string;
    /** `host:port` of every address the port is served on. */
    readonly servedOn: readonly string[];
    /** Why it is not on the bind address ('' when it is, or never asked). */
    readonly localhost: string;
    /** Why it is not served at all (a cluster UDP port under --pod-network portforward); absent when served. */
    readonly notServed?: string;
  }>;
}

/** Every Service, sorted by key. */
export function serviceViews(source: AdminSource): ServiceView[] {
  const domain = source.options.clusterDomain ?? 'cluster.local';
  return [...(source.services?.values() ?? [])]
    .sort((a, b) => a.key.localeCompare(b.key))
    .map((s) => ({
      key: s.key,
      namespace: s.namespace,
      name: s.name,
      type: s.type,
      headless: s.headless,
      source: s.source ?? '',
      addresses: s.addresses,
      mappedFrom: s.mappedFrom,
      names: serviceNames(s, domain),
      externalName: s.externalName,
      ports: s.ports.map((p) => ({
        name: p.name,
        port: p.port,
        protocol: p.protocol,
        servedOn: p.servedOn.map((a) => a.address),
        localhost: p.localhost,
        ...(p.notServed === undefined ? {} : { notServed: p.notServed }),
      })),
    }));
}

/** A Pod as /api/pods lists it: where its process is expected, and whether it is ready now. */
export interface PodView {
  /** `namespace/name`. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  /** The workload it is a replica of; null for a Pod written by hand. */
  readonly workload: { readonly kind: string; readonly name: string } | null;
  /** The WorkloadBinding that placed it, '' when none. */
  readonly binding: string;
  /** Where its process is expected. */
  readonly address: string;
  readonly ports: PodInfo['ports'];
  /** What decides readiness, in words. */
  readonly readinessProbe: string;
  /** Ready now: its probes' verdict (a Pod without a probe is ready). */
  readonly ready: boolean;
  /** Why (the probes' last results). */
  readonly reason: string;
  readonly terminating: boolean;
  /** When a terminating Pod is gone (ISO 8601), '' otherwise. */
  readonly removeAt: string;
  /** The Services whose selector picks it. */
  readonly services: readonly string[];
}

/** Readiness as /api/pods reports it: live for probed Pods. */
function liveReadiness(pod: PodInfo, probes: AdminSource['probes']): { ready: boolean; reason: string } {
  if (!pod.probed) return { ready: true, reason: pod.workloadKind === '' ? 'no readiness probe' : 'no TCP container port to probe' };
  const reason = probes.reason?.(pod.key) ?? '';
  if (reason === '') return { ready: false, reason: pod.services.length === 0 ? 'not probed: no Service selects it' : 'not probed yet' };
  return { ready: probes.isReady(pod.key), reason };
}

/** Every Pod, sorted by key. */
export function podViews(source: AdminSource): PodView[] {
  return [...(source.pods?.values() ?? [])]
    .sort((a, b) => a.key.localeCompare(b.key))
    .map((p) => ({
      key: p.key,
      namespace: p.namespace,
      name: p.name,
      workload: p.workloadKind === '' ? null : { kind: p.workloadKind, name: p.workloadName },
      binding: p.binding,
      address: p.address,
      ports: p.ports.map((port) => ({ ...port })),
      readinessProbe: p.readiness,
      ...liveReadiness(p, source.probes),
      terminating: p.terminating,
      removeAt: iso(p.removeAt),
      services: [...p.services],
    }));
}

export interface ConfigView {
  /** The config paths, comma-separated. */
  readonly config: string;
  /** sha256 of the snapshot being served; '' before the first one. */
  readonly hash: string;
  /** When it was applied (ISO 8601), '' before the first one. */
  readonly loadedAt: string;
  readonly ready: boolean;
  /** Why not ready ('ok' when ready). */
  readonly reason: string;
  readonly draining: boolean;
  readonly reloads: { readonly success: number; readonly failure: number };
  readonly lastReload: {
    /** none | success | failure */
    readonly result: string;
    /** ISO 8601, '' before the first attempt. */
    readonly at: string;
    /** One line per problem of the last failed reload; [] after a success. */
    readonly errors: readonly string[];
  };
}

function iso(ms: number): string {
  return ms === 0 ? '' : new Date(ms).toISOString();
}

export function configView(source: AdminSource): ConfigView {
  const { status } = source;
  const { ready, reason } = source.ready;
  return {
    config: source.options.config.join(', '),
    hash: status.appliedHash,
    loadedAt: iso(status.appliedAt),
    ready,
    reason,
    draining: source.draining,
    reloads: { success: status.successes, failure: status.failures },
    lastReload: { result: status.lastResult, at: iso(status.lastAttemptAt), errors: [...status.lastErrors] },
  };
}
