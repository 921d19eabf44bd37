/**
 * `--workers N`: N processes (node:cluster) serving the same listeners. The
 * primary validates the config once, forks the workers and forwards signals;
 * it holds the listening sockets but accepts nothing: with SCHED_NONE each
 * worker accepts on the shared socket itself and the kernel spreads the
 * connections, so the primary is off the data path (cluster's default
 * round-robin would pass every connection through it). Each worker is a
 * whole svcproxy: its own reload loop, probes and counters, and its own
 * admin server on the admin port + its index - 1. UDP listeners are bound by
 * worker 1 only, so a UDP flow's datagrams all reach one process.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Options } from './cli/options.js';
import type { Logger } from './log.js';

const WORKER_INDEX_ENV = 'SVCPROXY_WORKER_INDEX';

/** 1..N in a worker, 0 in a process that is not part of a cluster (or is the primary). */
export function workerIndex(): number {
  if (!cluster.isWorker) return 0;
  const n = Number(process.env[WORKER_INDEX_ENV]);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** The options one worker runs with: its own admin port. */
export function workerOptions(options: Options, index: number): Options {
  if (index <= 1 || options.admin.port === 0) return options;
  return { ...options, admin: { ...options.admin, port: options.admin.port + index - 1 } };
}

/** The admin sockets of every worker, which no Service may take. */
export function adminAddresses(options: Options): Array<{ address: string; port: number; what: string }> {
  const count = options.workers > 1 && options.admin.port !== 0 ? options.workers : 1;
  return Array.from({ length: count }, (_, i) => ({
    address: options.admin.host,
    port: options.admin.port + i,
    what: count > 1 ? `admin server of worker ${i + 1}` : 'admin server',
  }));
}

/**
 * Forks the workers and supervises them until a signal stops them. Resolves
 * with the exit code once every worker is gone.
 */
export function runPrimary(options: Options, log: Logger): Promise<number> {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  return new Promise((resolve) => {
    const started = new Set<number>();
    let stopping = false;
    let failed = false;
    let stopSignal: NodeJS.Signals | undefined;
    const fork = (index: number): Worker => {
      const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
      worker.on('message', (msg: unknown) => {
        if (typeof msg === 'object' && msg !== null && 'type' in msg && msg.type === 'started') started.add(index);
      });
      worker.on('exit', (code, signal) => {
        if (stopping) {
          // A worker still starting when the signal came has no handler yet and dies of it: that is a stop too.
          if (code !== 0 && !(code === null && signal === stopSignal)) failed = true;
          return;
        }
        if (!started.has(index)) {
          // A worker that dies before it has started (a port it cannot share, the admin port taken) would die again.
          log.error({ worker: index, code, signal }, 'worker failed to start; stopping');
          failed = true;
          stop('SIGTERM');
          return;
        }
        log.error({ worker: index, code, signal }, 'worker exited; starting a new one');
        started.delete(index);
        fork(index);
      });
      return worker;
    };
    const stop = (signal: NodeJS.Signals): void => {
      stopping = true;
      stopSignal ??= signal;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
    };
    cluster.on('exit', () => {
      if (stopping && Object.keys(cluster.workers ?? {}).length === 0) resolve(failed ? 1 : 0);
    });
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      // The first signal drains every worker; a second one reaches them too and makes them exit at once.
      process.on(signal, () => {
        log.info({ signal, workers: options.workers }, stopping ? 'second signal; workers exit now' : 'shutting down workers');
        stop(signal);
      });
    }
    process.on('SIGHUP', () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
    });
    for (let i = 1; i <= options.workers; i++) fork(i);
    log.info({ workers: options.workers }, "started workers");
  });
}
