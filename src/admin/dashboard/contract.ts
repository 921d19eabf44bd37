/**
 * What the dashboard page reads: the snapshot it is served with, the JSON of
 * /api/services, /api/config, /api/pods and /api/cluster, and the feed's messages. Only
 * the fields the page uses, as plain types with no imports, so the browser
 * script (client/, compiled with the DOM library and no Node types) can be
 * typed against them. The server side is checked against the same types:
 * page.ts takes a DashboardData built from the admin views (view.ts, model.ts)
 * and what events.ts broadcasts `satisfies` FeedEvent here, so the two cannot drift.
 */

export interface ToxicInfo {
  readonly name: string;
  readonly type: string;
  readonly stream: string;
  readonly toxicity: number;
  readonly attributes: Readonly<Record<string, number>>;
  /** 'api' for toxiproxy-API toxics, else a declared Fault. */
  readonly source: string;
  readonly owner: string;
  readonly active: boolean;
}

export interface EndpointInfo {
  readonly id: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly ejected: boolean;
  readonly source: string;
  readonly pod: string;
  /** `portforward` when connections reach it through the API server's pods/portforward. */
  readonly reachedBy?: string;
  readonly activeConnections: number;
  readonly connections: number;
  readonly toxics: readonly ToxicInfo[];
}

export interface PortTotals {
  readonly activeConnections: number;
  readonly connections: number;
  readonly connectFailures: number;
  readonly rejected: Readonly<Record<string, number>>;
}

export interface PortInfo {
  readonly key: string;
  readonly namespace: string;
  readonly service: string;
  readonly portName: string;
  readonly port: number;
  readonly protocol: string;
  readonly targetPort: string;
  readonly listeners: ReadonlyArray<{ readonly address: string; readonly state: string; readonly error: string }>;
  readonly endpoints: readonly EndpointInfo[];
  readonly totals: PortTotals;
  readonly workers?: ReadonlyArray<{ readonly worker: number; readonly totals: { readonly connections: number } }>;
  readonly toxics: readonly ToxicInfo[];
}

export interface ServiceInfo {
  readonly key: string;
  readonly headless: boolean;
  readonly addresses: readonly string[];
  readonly mappedFrom: readonly string[];
  readonly names: readonly string[];
  readonly externalName: string;
  /** Where the Service comes from when it is not the config files (`cluster:<context>`); absent for files. */
  readonly source?: string;
}

export interface WorkerInfo {
  readonly worker: number;
  readonly pid: number;
  readonly state: string;
  readonly ready: boolean;
  readonly reason: string;
  readonly restarts: number;
  readonly residentBytes: number;
  readonly stale: boolean;
}

/** GET /api/services. */
export interface ServicesPayload {
  readonly servicePorts: readonly PortInfo[];
  readonly services: readonly ServiceInfo[];
  readonly workers?: readonly WorkerInfo[];
}

/** GET /api/config. */
export interface ConfigInfo {
  readonly config: string;
  readonly hash: string;
  readonly loadedAt: string;
  readonly ready: boolean;
  readonly reason: string;
  readonly reloads: { readonly success: number; readonly failure: number };
  readonly lastReload: { readonly result: string; readonly at: string; readonly errors: readonly string[] };
}

/** One entry of GET /api/pods. */
export interface PodInfo {
  readonly key: string;
  readonly workload: { readonly kind: string; readonly name: string } | null;
  readonly binding: string;
  readonly address: string;
  readonly ports: ReadonlyArray<{ readonly name: string; readonly port: number; readonly protocol: string; readonly servedAt: string }>;
  readonly readinessProbe: string;
  readonly ready: boolean;
  readonly reason: string;
  readonly terminating: boolean;
  readonly services: readonly string[];
}

/** GET /api/cluster (with --cluster): what the page says of the cluster followed. */
export interface ClusterInfo {
  readonly context: string;
  readonly server: string;
  /** ['*'] with --all-namespaces. */
  readonly namespaces: readonly string[];
  readonly reachable: boolean;
  /** ISO 8601, '' while reachable. */
  readonly unreachableSince: string;
}

/** What the page is served with, for its first paint (the same data as the API answers; `cluster` with --cluster only). */
export interface DashboardData {
  readonly services: ServicesPayload;
  readonly config: ConfigInfo;
  readonly pods: readonly PodInfo[];
  readonly cluster?: ClusterInfo;
}

/** One Service port's figures in a stats tick. */
export interface PortTick {
  readonly key: string;
  readonly activeConnections: number;
  readonly connections: number;
  readonly connectionsPerSecond: number;
  readonly rejectedConnections: number;
  readonly connectFailures: number;
  readonly downstreamRxBytesPerSecond: number;
  readonly upstreamRxBytesPerSecond: number;
  readonly upstreams: Readonly<Record<string, number>>;
  readonly upstreamConnections: Readonly<Record<string, number>>;
}

type Stamped = { readonly time: number; readonly worker?: number };

/** A message of the /api/events feed. */
export type FeedEvent =
  | { readonly type: 'hello'; readonly time: number; readonly version: string }
  | { readonly type: 'stats'; readonly time: number; readonly servicePorts: readonly PortTick[] }
  | ({ readonly type: 'reload'; readonly trigger: string; readonly result: string; readonly changes: number; readonly errors: readonly string[] } & Stamped)
  | ({ readonly type: 'listener'; readonly listener: string; readonly servicePort: string; readonly state: string; readonly error: string } & Stamped)
  | ({ readonly type: 'readiness'; readonly pod: string; readonly ready: boolean; readonly reason: string } & Stamped)
  | ({ readonly type: 'toxics' } & Stamped)
  | ({ readonly type: 'pods' } & Stamped);
