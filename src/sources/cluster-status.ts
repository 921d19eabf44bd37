/**
 * What the admin surface may read of a cluster source: plain data, through
 * a function the composer hands the instance. A leaf module (types only), so
 * the admin server never imports the source, nor the source the admin.
 */

/** One list+watch (a resource in a namespace, '' = all namespaces). */
export interface ClusterWatchStatus {
  readonly resource: string;
  readonly namespace: string;
  /** listing | watching | backoff | forbidden | unauthorized | stopped */
  readonly phase: string;
  /** A list has succeeded at least once. */
  readonly synced: boolean;
  readonly resourceVersion: string;
  readonly relists: number;
  readonly watchRestarts: number;
  readonly objects: number;
  readonly lastError: string;
  /** ISO 8601, '' = never. */
  readonly lastErrorAt: string;
  /** ISO 8601 of the last answer or watch line from the API server, '' = never. */
  readonly lastContactAt: string;
  /** ISO 8601: when the current phase began. */
  readonly since: string;
}

export interface ClusterStatus {
  readonly context: string;
  readonly server: string;
  readonly user: string;
  /** The namespaces followed; ['*'] with --all-namespaces. */
  readonly namespaces: readonly string[];
  /** False while no watch can reach the API server; the last state seen is still served. */
  readonly reachable: boolean;
  /** ISO 8601: since when the API server is out of reach ('' while reachable). */
  readonly unreachableSince: string;
  /** Namespaces the credentials may not list (403): not served, the rest is. */
  readonly forbiddenNamespaces: readonly string[];
  /** The credentials were refused (401) by at least one watch. */
  readonly unauthorized: boolean;
  readonly watches: readonly ClusterWatchStatus[];
  /** API requests by `verb code` (`list 200`, `watch 410`, `watch ECONNREFUSED`). */
  readonly requests: Readonly<Record<string, number>>;
  readonly relists: number;
  readonly watchRestarts: number;
  /** Objects and watch events the reflectors refused (malformed), and objects the conversion refused (invalid). */
  readonly refusedObjects: number;
  readonly refusedEvents: number;
}

/** How the instance (and through it the admin surface) reads a cluster source's state. */
export type ClusterStatusReader = () => ClusterStatus;
