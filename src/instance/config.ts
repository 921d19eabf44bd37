/**
 * What a running instance is told: addresses, ranges, timeouts and the
 * choices the core makes. The CLI (src/cli/) maps its Options into this; the
 * core never sees the CLI's own flags (--check, --workers, the access log,
 * the log level) nor imports anything from src/cli/.
 */
import type { PumpChoice } from '../proxy/pump-choice.js';
import { parseLoopbackRange } from '../state/address-allocator.js';

export { PUMP_CHOICES, type PumpChoice } from '../proxy/pump-choice.js';
/** The toxiproxy API's own loopback test (what it binds without --toxiproxy-allow-remote). */
export { DEFAULT_SERVICE_CIDR } from '../state/service-addresses.js';
export { DEFAULT_POD_CIDR } from '../state/workload-pods.js';

/** An IP address and a port (`--admin-address`, `--dns-address`, `--toxiproxy-address`). */
export interface HostPortAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * How cluster Pods are reached: `portforward` (the default) carries each connection in a
 * port-forward stream through the API server (src/portforward/); `direct` dials podIP:targetPort.
 */
export const POD_NETWORKS = ['portforward', 'direct'] as const;
export type PodNetwork = (typeof POD_NETWORKS)[number];

/** `--cluster` and the flags that choose what it follows (docs/cluster.md). */
export interface ClusterConfig {
  /** `--kubeconfig`; '' = $KUBECONFIG, else ~/.kube/config. */
  readonly kubeconfig: string;
  /** `--context`; '' = the kubeconfig's current-context. */
  readonly context: string;
  /** `--namespace` (repeatable); [] = the context's namespace. Ignored with allNamespaces. */
  readonly namespaces: readonly string[];
  readonly allNamespaces: boolean;
  readonly podNetwork: PodNetwork;
}

export interface InstanceConfig {
  /** The config paths as given (files, directories, `-`; [] with --cluster alone): shown by the admin API; the FileSource reads them. */
  readonly config: readonly string[];
  readonly bindAddress: string;
  /** Where nodePorts listen; defaults to the bind address. */
  readonly nodeAddress: string;
  /** The admin server's address; also reserved so that no Service takes it. */
  readonly admin: HostPortAddress;
  readonly halfCloseTimeoutMs: number;
  /** TCP keepalive idle time on both sockets of every connection, ms; 0 = off. */
  readonly tcpKeepAliveMs: number;
  /** How long a graceful stop lets connections finish, ms. */
  readonly drainTimeoutMs: number;
  /** How often the file source re-reads the config besides watching it, ms; 0 = never. */
  readonly configPollIntervalMs: number;
  /** Watch the config files for changes (false: reload only on SIGHUP, the API and the poll). */
  readonly watch: boolean;
  /** The toxiproxy-compatible API's address; absent = no API. */
  readonly toxiproxy?: HostPortAddress;
  /** The toxiproxy API (and its forwards) may use non-loopback addresses. */
  readonly toxiproxyAllowRemote?: boolean;
  /** Loopback CIDR Services get their own address from (normalised, e.g. `127.96.0.0/16`). */
  readonly serviceCidr: string;
  /** Loopback CIDR the Pods of workloads get their addresses from (normalised, e.g. `127.64.0.0/16`). */
  readonly podCidr: string;
  /** The DNS server's UDP+TCP address; undefined = no DNS server. */
  readonly dnsAddress: HostPortAddress | undefined;
  /** The cluster domain DNS answers for, without a trailing dot. */
  readonly clusterDomain: string;
  /** A hosts-format file to keep a block of Service names in; '' = none. */
  readonly hostsFile: string;
  /** Who moves TCP bytes: the native splice pump where it is built (falling back to JS), or always the JS pump. */
  readonly pump: PumpChoice;
  /** A live cluster to follow besides (or instead of) the config; absent = none. */
  readonly cluster?: ClusterConfig;
}

/**
 * Checks the Service and Pod ranges: each a loopback CIDR, the two apart.
 * Returns them normalised, or the problem as a usage message naming the flag.
 */
export function checkAddressRanges(serviceCidr: string, podCidr: string): { serviceCidr: string; podCidr: string } | string {
  const range = parseLoopbackRange(serviceCidr);
  if (typeof range === 'string') return `--service-cidr: ${range}`;
  const podRange = parseLoopbackRange(podCidr);
  if (typeof podRange === 'string') return `--pod-cidr: ${podRange}`;
  if (podRange.base < range.base + range.size && range.base < podRange.base + podRange.size) {
    return `--pod-cidr: ${podRange.cidr} overlaps --service-cidr ${range.cidr}; Pods and Services need addresses apart`;
  }
  return { serviceCidr: range.cidr, podCidr: podRange.cidr };
}
