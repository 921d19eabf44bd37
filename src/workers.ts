/**
 * `--workers N`: N processes (node:cluster) serving the same Services. The
 * primary (cluster/primary.ts) validates the config once, serves the admin
 * address for the whole set, forks the workers, restarts one that exits and
 * forwards signals. Each worker is a whole svcproxy without an admin server
 * of its own: its own reload loop, probes and counters, and its own listening
 * sockets, bound with SO_REUSEPORT so that the kernel spreads new connections
 * over the workers' accept queues (measured against node:cluster's sharing
 * in bench/README.md). UDP listeners are bound by worker 1 only, so a UDP
 * flow's datagrams all reach one process.
 */
import cluster from 'node:cluster';
import type { HostPortAddress } from './instance/config.js';

export const WORKER_INDEX_ENV = 'SVCPROXY_WORKER_INDEX';

/** 1..N in a worker, 0 in a process that is not part of a cluster (or is the primary). */
export function workerIndex(): number {
  if (!cluster.isWorker) return 0;
  const n = Number(process.env[WORKER_INDEX_ENV]);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** The admin socket (the primary's with --workers), which no Service may take. */
export function adminAddresses(options: { readonly admin: HostPortAddress }): Array<{ address: string; port: number; what: string }> {
  return [{ address: options.admin.host, port: options.admin.port, what: 'admin server' }];
}
