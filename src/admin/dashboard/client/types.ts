/**
 * The browser script's types. The files of client/ are one classic script
 * (page.ts inlines them, in order, into the page), so what one declares at
 * the top level the others see, and tsc checks them together the same way.
 */

type DashboardData = import('../contract.js').DashboardData;
type ServicesPayload = import('../contract.js').ServicesPayload;
type PortInfo = import('../contract.js').PortInfo;
type EndpointInfo = import('../contract.js').EndpointInfo;
type ServiceInfo = import('../contract.js').ServiceInfo;
type ToxicInfo = import('../contract.js').ToxicInfo;
type WorkerInfo = import('../contract.js').WorkerInfo;
type ConfigInfo = import('../contract.js').ConfigInfo;
type PodInfo = import('../contract.js').PodInfo;
type ClusterInfo = import('../contract.js').ClusterInfo;
type FeedEvent = import('../contract.js').FeedEvent;

/** A Service port's live figures: a stats tick's, or its totals at first paint (rates not measured yet: null). */
interface PortNumbers {
  readonly activeConnections: number;
  readonly connections: number;
  readonly connectionsPerSecond: number | null;
  readonly rejectedConnections: number;
  readonly connectFailures: number;
  readonly downstreamRxBytesPerSecond: number | null;
  readonly upstreamRxBytesPerSecond: number | null;
  readonly upstreams: Readonly<Record<string, number>> | null;
  readonly upstreamConnections: Readonly<Record<string, number>> | null;
}

/** The nodes of one painted Service port that ticks update in place. */
interface LivePort {
  readonly head: HTMLElement;
  readonly svg: SVGSVGElement;
  readonly peak: HTMLElement;
  readonly endpoints: Record<string, { readonly active: HTMLElement; readonly total: HTMLElement }>;
  byWorker: HTMLElement | null;
}

/** One sparkline point: bytes per second from clients (rx) and from endpoints (tx). */
interface RatePoint {
  readonly rx: number;
  readonly tx: number;
}

/** A pill's text and colour class. */
interface Condition {
  readonly text: string;
  readonly cls: 'ok' | 'warn' | 'bad';
}

/** Everything the page keeps between messages. */
interface PageState {
  pods: readonly PodInfo[];
  services: readonly PortInfo[];
  serviceInfo: Record<string, ServiceInfo>;
  config: ConfigInfo | null;
  /** With --cluster only (known from the snapshot: a cluster is followed from start to stop or not at all). */
  cluster: ClusterInfo | null;
  workers: readonly WorkerInfo[] | null;
  /** Up to HISTORY rate points per Service port, kept across re-renders. */
  readonly history: Record<string, RatePoint[]>;
  live: Record<string, LivePort>;
  retryMs: number;
  refreshTimer: number;
  /** Folds the user opened or closed, by Service port key (and 'pods'). */
  readonly open: Record<string, boolean>;
}
