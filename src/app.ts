/**
 * The command line: options, --check, start-up errors and signals. The
 * running instance (reload loop, drain) is in svcproxy.ts.
 */
import cluster from 'node:cluster';
import { closeSync } from 'node:fs';
import { AccessLog, openAccessLog, type AccessLogTarget } from './access-log/access-log.js';
import { parseCommand, USAGE, type Options } from './cli/options.js';
import { formatIssue } from './config/types.js';
import { errorMessage } from './errors.js';
import { createLogger } from './log.js';
import { LocalModel } from './admin/local-model.js';
import { AdminServer } from './admin/server.js';
import { loadDesired, Svcproxy } from './svcproxy.js';
import { runPrimary } from './cluster/primary.js';
import { WorkerAgent } from './cluster/worker-agent.js';
import { workerIndex } from './workers.js';
import { version } from './version.js';


/** Where the human-readable output of the CLI goes; tests pass their own. */
export interface Console {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const processConsole: Console = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** `--check`: every problem on stderr, a one-line verdict; exit 0 when valid, 1 when not. */
async function check(options: Options, con: Console): Promise<number> {
  const loaded = await loadDesired(options);
  for (const note of loaded.notes) {
    if (note.level === 'warn') con.err(`warning: ${note.where} ${note.object}: ${note.msg}`);
  }
  for (const issue of loaded.issues) con.err(formatIssue(issue));
  if (loaded.issues.length > 0) {
    con.err(`${options.config}: invalid: ${loaded.issues.length} problem${loaded.issues.length === 1 ? '' : 's'}`);
    return 1;
  }
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  con.out(
    `${options.config}: valid: ${count(loaded.services, 'Service')}, ${count(loaded.state.servicePorts.size, 'proxied port')}, ${count(loaded.state.listeners.size, 'listener')}`,
  );
  return 0;
}

/** The CLI: returns the exit code, or never returns while serving (signals end it). */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, con: Console = processConsole): Promise<number | 'serving'> {
  const command = parseCommand(argv, env);
  switch (command.kind) {
    case 'help':
      con.out(USAGE);
      return 0;
    case 'version':
      con.out(version());
      return 0;
    case 'usage-error':
      con.err(`svcproxy: ${command.message}`);
      con.err('Try svcproxy --help.');
      return 2;
    case 'run':
      break;
  }
  const { options } = command;
  if (options.check) return check(options, con);
  const loaded = await loadDesired(options);
  if (loaded.issues.length > 0) {
    for (const issue of loaded.issues) con.err(formatIssue(issue));
    return 1;
  }
  const index = workerIndex();
  // An access log that cannot be opened is an error at start (the primary checks it for its workers too).
  let target: AccessLogTarget | undefined;
  try {
    target = options.accessLog === '' ? undefined : openAccessLog(options.accessLog);
  } catch (err: unknown) {
    con.err(`svcproxy: ${errorMessage(err)}`);
    if (index > 0) process.exit(1);
    return 1;
  }
  const root = createLogger(options.logLevel);
  if (options.workers > 1 && cluster.isPrimary) {
    if (target?.owned === true) closeSync(target.fd); // each worker opens its own
    // The primary's admin server and its workers keep it alive: leave explicitly.
    process.exit(await runPrimary(options, root));
  }
  const log = index > 0 ? root.child({ worker: index }) : root;
  const accessLog =
    target === undefined ? undefined : new AccessLog(target, { format: options.accessLogFormat, base: { pid: process.pid, ...(index > 0 ? { worker: index } : {}) } }, log);
  const extras = accessLog === undefined ? {} : { accessLog };
  // The process is composed here: the instance gets its admin server from outside, so neither imports the other.
  // A --workers worker has none: its admin model goes to the primary, which serves the admin address for the set.
  const proxy = new Svcproxy(options, log, {
    ...(index > 0 ? {} : { admin: (instance: Svcproxy) => new AdminServer(new LocalModel(instance, extras), log) }),
    ...(accessLog === undefined ? {} : { onLeaseEnd: accessLog.record, readClientAddresses: true }),
  });
  const agent = index > 0 ? new WorkerAgent(new LocalModel(proxy, extras), log) : undefined;
  try {
    await proxy.start(loaded);
  } catch (err: unknown) {
    con.err(`svcproxy: ${index > 0 ? `worker ${index}: ` : ''}${errorMessage(err)}`);
    await proxy.stop();
    if (index > 0) process.exit(1); // a worker's IPC channel to the primary would keep it alive
    return 1;
  }
  agent?.started();
  handleSignals(proxy, accessLog);
  return 'serving';
}

/**
 * SIGTERM/SIGINT: drain, then exit 0. A second one: reset what is left and
 * exit 1 at once. SIGHUP: reload now (its default action would kill Node).
 */
function handleSignals(proxy: Svcproxy, accessLog: AccessLog | undefined): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      proxy.log.warn({ signal, connections: proxy.registry.tracker.active }, 'second signal; exiting now');
      proxy.registry.tracker.resetAll();
      process.exit(1);
    }
    stopping = true;
    proxy.log.info({ signal }, 'shutting down');
    // The access log gets the drain's last lines (for at most 2 s) before the exit.
    const done = async (): Promise<void> => {
      await proxy.shutdown();
      await accessLog?.close();
    };
    done().then(
      () => process.exit(0),
      (err: unknown) => {
        proxy.log.error({ err: errorMessage(err) }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {
    proxy.log.info('SIGHUP: reloading the config');
    void proxy.reload('signal');
  });
}
