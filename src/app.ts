/**
 * Wiring: options -> config -> desired state -> registry, plus the admin
 * server and signals. The only module that imports every layer.
 */
import { readFileSync } from 'node:fs';
import { AdminServer } from './admin/server.js';
import { parseCommand, USAGE, type Options } from './cli/options.js';
import { loadConfig } from './config/load.js';
import { formatIssue, type ConfigIssue, type ConfigNote } from './config/types.js';
import { errorMessage } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { isLocalAddress } from './proxy/local-addresses.js';
import { Registry } from './proxy/registry.js';
import { DIAL_TIMEOUTS_MS } from './proxy/service-port-proxy.js';
import { desiredState, type ListenEnvironment } from './state/desired.js';
import { describeChange, planChanges } from './state/plan.js';
import { EMPTY_STATE, type DesiredState } from './state/types.js';

/** Where the human-readable output of the CLI goes; tests pass their own. */
export interface Console {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const processConsole: Console = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** The version in package.json, found by walking up from this file (dist/, build/src/ or src/). */
export function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'));
      if (typeof pkg === 'object' && pkg !== null && 'name' in pkg && pkg.name === 'svcproxy' && 'version' in pkg) {
        return String(pkg.version);
      }
    } catch {
      // not at this level; try the next
    }
  }
  return 'unknown';
}

export function listenEnvironment(options: Options): ListenEnvironment {
  return {
    bindAddress: options.bindAddress,
    isLocalAddress,
    reserved: [{ address: options.admin.host, port: options.admin.port, what: 'admin server' }],
  };
}

export interface Loaded {
  readonly state: DesiredState;
  readonly issues: readonly ConfigIssue[];
  readonly notes: readonly ConfigNote[];
  readonly hash: string;
  readonly services: number;
}

/** Reads, validates and plans the whole config; any issue means the snapshot must not be applied. */
export async function loadDesired(options: Options): Promise<Loaded> {
  const loaded = await loadConfig(options.config);
  const desired = desiredState(loaded.snapshot, listenEnvironment(options));
  return {
    state: desired.state,
    issues: [...loaded.issues, ...desired.issues],
    notes: [...loaded.notes, ...desired.notes],
    hash: loaded.hash,
    services: loaded.snapshot.services.length,
  };
}

function logNotes(log: Logger, notes: readonly ConfigNote[]): void {
  for (const note of notes) log[note.level]({ where: note.where, object: note.object }, note.msg);
}

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

/** A running svcproxy: what main() starts and what tests drive in-process. */
export class Svcproxy {
  readonly registry: Registry;
  readonly admin = new AdminServer();
  private state: DesiredState = EMPTY_STATE;
  adminPort = 0;

  constructor(
    readonly options: Options,
    readonly log: Logger,
  ) {
    this.registry = new Registry({ halfCloseTimeoutMs: options.halfCloseTimeoutMs, dialTimeoutsMs: DIAL_TIMEOUTS_MS }, log);
  }

  /** Binds the admin server (fatal when it cannot) and applies the first snapshot. */
  async start(loaded: Loaded): Promise<void> {
    this.adminPort = await this.admin.listen(this.options.admin.host, this.options.admin.port);
    this.log.info({ address: `${this.options.admin.host}:${this.adminPort}` }, 'admin server listening');
    logNotes(this.log, loaded.notes);
    await this.apply(loaded.state);
    this.log.info({ config: this.options.config, services: loaded.services, listeners: this.registry.listeners.size }, 'started');
  }

  /** Plans and applies the change from the running state to `desired`. */
  async apply(desired: DesiredState): Promise<void> {
    const changes = planChanges(this.state, desired);
    for (const change of changes) this.log.info({ change: describeChange(change) }, 'applying change');
    const failures = await this.registry.apply(changes);
    for (const failure of failures) this.log.error({ code: failure.code }, failure.message);
    this.state = desired;
  }

  /** Stops accepting, resets what is left, closes the admin server. */
  async stop(): Promise<void> {
    this.registry.closeListeners();
    this.registry.resetConnections();
    await this.admin.close();
  }
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
  const log = createLogger(options.logLevel);
  const proxy = new Svcproxy(options, log);
  try {
    await proxy.start(loaded);
  } catch (err: unknown) {
    con.err(`svcproxy: ${errorMessage(err)}`);
    await proxy.stop();
    return 1;
  }
  handleSignals(proxy);
  return 'serving';
}

function handleSignals(proxy: Svcproxy): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(0); // a second signal: leave at once
    stopping = true;
    proxy.log.info({ signal }, 'shutting down');
    proxy.stop().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // SIGHUP's default action kills Node; a proxy must survive it.
  process.on('SIGHUP', () => proxy.log.warn('SIGHUP received; config reload is not supported in this version'));
}
