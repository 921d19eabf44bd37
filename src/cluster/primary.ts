/**
 * The --workers primary: it serves the admin address for the whole set
 * (health, readiness, /metrics, /api/*, the feed and the dashboard, from
 * every worker's snapshot: cluster-model.ts), forks the workers, restarts
 * one that exits on its own, and forwards signals. It accepts no proxied
 * connection: each worker binds its own listening sockets with SO_REUSEPORT
 * (listener.ts) and the kernel spreads new connections over them.
 */
import cluster, { type Worker } from 'node:cluster';
import { AdminServer } from '../admin/server.js';
import { errorMessage } from '../errors.js';
import type { HostPortAddress } from '../instance/config.js';
import type { Logger } from '../log.js';
import { WORKER_INDEX_ENV } from '../workers.js';
import { ClusterModel } from './cluster-model.js';
import { isWorkerMessage } from './messages.js';

/** What the primary needs of the command line (the CLI's Options has it). */
interface PrimaryOptions {
  readonly workers: number;
  readonly config: readonly string[];
  readonly admin: HostPortAddress;
}

/** A worker that exits within this long of its start is restarted after a growing delay (a crash loop must not spin). */
const QUICK_EXIT_MS = 10_000;

/** Delay before restarting a worker that keeps exiting soon after it started: 0 the first time, then 250 ms doubling to 5 s. */
export function restartDelayMs(quickExits: number): number {
  return quickExits <= 1 ? 0 : Math.min(5000, 250 * 2 ** (quickExits - 2));
}

/**
 * Binds the admin server (exit 1 when it cannot), forks the workers and
 * supervises them until a signal stops them. Resolves with the exit code
 * once every worker is gone.
 */
export async function runPrimary(options: PrimaryOptions, log: Logger): Promise<number> {
  const model = new ClusterModel({ expected: options.workers, configPath: options.config.join(', ') });
  const admin = new AdminServer(model, log);
  try {
    const port = await admin.listen(options.admin.host, options.admin.port);
    log.info({ address: `${options.admin.host}:${port}`, workers: options.workers }, 'admin server listening for every worker');
  } catch (err: unknown) {
    process.stderr.write(`svcproxy: ${errorMessage(err)}\n`);
    model.close();
    return 1;
  }
  const code = await supervise(options, log, model);
  await admin.close();
  model.close();
  return code;
}

function supervise(options: PrimaryOptions, log: Logger, model: ClusterModel): Promise<number> {
  return new Promise((resolve) => {
    const started = new Set<number>();
    const quickExits = new Map<number, number>();
    let stopping = false;
    let failed = false;
    let stopSignal: NodeJS.Signals | undefined;
    const fork = (index: number): Worker => {
      const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
      const forkedAt = Date.now();
      model.attach(index, worker);
      worker.on('message', (msg: unknown) => {
        if (isWorkerMessage(msg) && msg.type === 'svcproxy:started') started.add(index);
      });
      worker.on('exit', (code, signal) => {
        if (stopping) {
          model.exited(index, false);
          // A worker still starting when the signal came has no handler yet and dies of it: that is a stop too.
          if (code !== 0 && !(code === null && signal === stopSignal)) failed = true;
          return;
        }
        if (!started.has(index)) {
          // A worker that dies before it has started (a port it cannot bind, a bad environment) would die again.
          model.exited(index, false);
          log.error({ worker: index, code, signal }, 'worker failed to start; stopping');
          failed = true;
          stop('SIGTERM');
          return;
        }
        model.exited(index, true);
        started.delete(index);
        const quick = Date.now() - forkedAt < QUICK_EXIT_MS ? (quickExits.get(index) ?? 0) + 1 : 0;
        quickExits.set(index, quick);
        const delayMs = restartDelayMs(quick);
        log.error({ worker: index, code, signal, restartInMs: delayMs }, 'worker exited; starting a new one');
        setTimeout(() => {
          if (!stopping) fork(index);
        }, delayMs);
      });
      return worker;
    };
    const stop = (signal: NodeJS.Signals): void => {
      stopping = true;
      model.draining = true;
      stopSignal ??= signal;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
      if (Object.keys(cluster.workers ?? {}).length === 0) resolve(failed ? 1 : 0);
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
    log.info({ workers: options.workers }, 'started workers');
  });
}
