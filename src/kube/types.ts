/**
 * The Kubernetes API client room: what a kubeconfig context gives (ClusterAccess) and
 * what a list+watch of one resource keeps (Reflector). Only types here; the cluster
 * Source builds on them.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';

export interface KubeObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly deletionTimestamp?: string;
}

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: KubeObjectMeta;
  readonly [field: string]: unknown;
}

export type KubeResource = 'services' | 'endpointslices' | 'pods';

export interface KubeRequestOptions {
  readonly signal: AbortSignal;
  /** Aborts the request when no response headers arrived within this many ms. */
  readonly timeoutMs?: number;
}

export interface KubeUpgradeOptions {
  readonly method: 'GET' | 'POST';
  /** The protocol's headers (`Upgrade`, `X-Stream-Protocol-Version`, a WebSocket handshake's); `Connection: Upgrade` is added. */
  readonly headers: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  /** The whole upgrade (connect, TLS, the answer's headers) must be done within this long, ms. */
  readonly timeoutMs: number;
}

/**
 * A 101 Switching Protocols: the raw socket (a net.Socket or a TLS socket, typed as the Duplex it is
 * used as: sockets belong to the socket rooms), what came after the answer's headers, and those headers.
 */
export interface KubeUpgrade {
  readonly socket: Duplex;
  readonly head: Buffer;
  readonly headers: IncomingHttpHeaders;
}

/** From loadClusterAccess(): a kubeconfig context, ready to talk to its API server. */
export interface ClusterAccess {
  readonly contextName: string;
  readonly server: string;
  readonly user: string;
  /** The context's namespace, else 'default'. */
  readonly namespace: string;
  readonly kubeconfigPaths: readonly string[];
  /** A GET of `path` (with its query) on the API server, with the context's auth; resolves on the response headers. */
  request(path: string, options: KubeRequestOptions): Promise<IncomingMessage>;
  /**
   * An HTTP upgrade of `path` on the API server with the context's auth: resolves on 101 with the
   * socket; rejects on any other answer with an UpgradeRefused (status, the body's message, truncated),
   * a timeout (code ETIMEDOUT) or a network error.
   */
  upgrade(path: string, options: KubeUpgradeOptions): Promise<KubeUpgrade>;
}

export type WatchPhase = 'listing' | 'watching' | 'backoff' | 'forbidden' | 'unauthorized' | 'stopped';

export interface ReflectorState {
  readonly resource: KubeResource;
  /** '' = all namespaces. */
  readonly namespace: string;
  readonly phase: WatchPhase;
  /** A list has succeeded at least once (objects() reflects the server as of some RV). */
  readonly synced: boolean;
  readonly resourceVersion: string;
  readonly relists: number;
  readonly watchRestarts: number;
  readonly lastError: string;
  /** Epoch ms; 0 = never. */
  readonly lastErrorAt: number;
  /** Epoch ms of the last response or watch line from the server; 0 = never. */
  readonly lastContactAt: number;
  /** Epoch ms the current phase began. */
  readonly since: number;
}

export interface ReflectorCounters {
  /** Keyed `${verb} ${code}`: verb is 'list' or 'watch', code an HTTP status or an error code (ECONNREFUSED, timeout...). */
  readonly requests: ReadonlyMap<string, number>;
  readonly refusedObjects: number;
  readonly refusedEvents: number;
}

export interface Reflector {
  start(): void;
  stop(): void;
  /** Keyed `ns/name` ('' namespace for cluster-scoped objects: `/name`). */
  objects(): ReadonlyMap<string, KubeObject>;
  state(): ReflectorState;
  counters(): ReflectorCounters;
}

/** The clock and timer a reflector uses; tests pass a fake one (same shape as the instance Scheduler's Clock). */
export interface KubeClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ReflectorOptions {
  readonly access: ClusterAccess;
  readonly resource: KubeResource;
  /** '' = all namespaces. */
  readonly namespace: string;
  readonly labelSelector?: string;
  /** Called after the store changed (once per event, once per relist). */
  readonly onChange: () => void;
  readonly log: Logger;
  readonly clock?: KubeClock;
  /** In [0, 1); for backoff and watch-timeout jitter. */
  readonly random?: () => number;
  /** Timings and limits; the defaults suit a real cluster, tests shorten them. */
  readonly tuning?: ReflectorTuning;
}

export interface ReflectorTuning {
  /** Backoff after an error: full jitter, from this ceiling (default 250 ms) doubling to maxMs (default 30 s). */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** Between retries while forbidden (403), ms (default 60 s). */
  readonly forbiddenRetryMs?: number;
  /** The watch's timeoutSeconds before jitter (default 300; each watch asks 80-120 % of it). */
  readonly watchTimeoutSeconds?: number;
  /** A watch silent for its timeout plus this long is aborted and resumed, ms (default 30 s). */
  readonly silenceMarginMs?: number;
  /** A list, or a watch's response headers, must arrive within this long, ms (default 60 s). */
  readonly requestTimeoutMs?: number;
  /** A longer watch line aborts the watch (default 8 MiB). */
  readonly maxLineBytes?: number;
  /** A larger list answer fails the list (default 512 MiB). */
  readonly maxListBytes?: number;
}
