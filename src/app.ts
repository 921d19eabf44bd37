/**
 * The command line: options, --check, start-up errors and signals. The
 * running instance (reload loop, drain) is in svcproxy.ts.
 */
import cluster from 'node:cluster';
import { parseCommand, USAGE, type Options } from './cli/options.js';
import { formatIssue } from './config/types.js';
import { errorMessage } from './errors.js';
import { createLogger } from './log.js';
import { AdminServer } from './admin/server.js';
import { loadDesired, Svcproxy } from './svcproxy.js';
import { runPrimary, workerIndex, workerOptions } from './workers.js';
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
  const root = createLogger(options.logLevel);
  if (options.workers > 1 && cluster.isPrimary) {
    // The primary holds the shared listening sockets, which keep it alive: leave explicitly.
    process.exit(await runPrimary(options, root));
  }
  const log = index > 0 ? root.child({ worker: index }) : root;
  // The process is composed here: the instance gets its admin server from outside, so neither imports the other.
  const proxy = new Svcproxy(workerOptions(options, index), log, { admin: (instance) => new AdminServer(instance, log) });
  try {
    await proxy.start(loaded);
  } catch (err: unknown) {
    con.err(`svcproxy: ${index > 0 ? `worker ${index}: ` : ''}${errorMessage(err)}`);
    await proxy.stop();
    if (index > 0) process.exit(1); // a worker's IPC channel to the primary would keep it alive
    return 1;
  }
  if (index > 0) process.send?.({ type: 'started' });
  handleSignals(proxy);
  return 'serving';
}

/**
 * SIGTERM/SIGINT: drain, then exit 0. A second one: reset what is left and
 * exit 1 at once. SIGHUP: reload now (its default action would kill Node).
 */
function handleSignals(proxy: Svcproxy): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      proxy.log.warn({ signal, connections: proxy.registry.tracker.active }, 'second signal; exiting now');
      proxy.registry.tracker.resetAll();
      process.exit(1);
    }
    stopping = true;
    proxy.log.info({ signal }, 'shutting down');
    proxy.shutdown().then(
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
