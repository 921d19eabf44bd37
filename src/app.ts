/**
 * The command line: options, --check, start-up errors and signals. It maps
 * its Options into an InstanceConfig and a FileSource and composes the
 * running instance (src/instance/) with its admin server and access log.
 */
import cluster from 'node:cluster';
import { closeSync } from 'node:fs';
import { AccessLog, openAccessLog, type AccessLogTarget } from './access-log/access-log.js';
import { LocalModel } from './admin/local-model.js';
import { AdminServer } from './admin/server.js';
import { ENV_USAGE, parseEnvCommand } from './cli/env-command.js';
import { pino } from 'pino';
import { clusterSource, configSource, instanceConfig } from './cli/instance-config.js';
import { parseCommand, USAGE, type Command, type Options } from './cli/options.js';
import { runPrimary } from './cluster/primary.js';
import { WorkerAgent } from './cluster/worker-agent.js';
import { formatIssue, type ConfigIssue } from './config/types.js';
import { errorMessage } from './errors.js';
import { Svcproxy } from './instance/instance.js';
import { loadDesired, type Loaded } from './instance/plan.js';
import { createLogger, exitAfterLogFlush, type Logger } from './log.js';
import { podTableLines } from './report/pods-table.js';
import { describeServicePort } from './report/service-port-line.js';
import type { PortForwarder } from './proxy/forwarded.js';
import type { ClusterSource } from './sources/cluster-source.js';
import type { Source } from './sources/source.js';
import { formatEnvVars, namespaceEnvVars } from './state/service-env.js';
import { version } from './version.js';
import { workerIndex } from './workers.js';

/** Where the human-readable output of the CLI goes, and standard input for `--config -`; tests pass their own. */
export interface Console {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly in?: NodeJS.ReadableStream;
}

const processConsole: Console = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** How long the first read waits for every cluster watch to list once; then what is there is served and the rest follows. */
const CLUSTER_SYNC_TIMEOUT_MS = 10_000;

interface LoadedSources {
  /** The config files first (they win on the same object), then the cluster. */
  readonly sources: readonly Source[];
  readonly cluster: ClusterSource | undefined;
  readonly loaded: Loaded;
}

/**
 * The sources and their first load (`--config -` reads standard input here,
 * once; a cluster is listed once). A kubeconfig that cannot be used or
 * credentials the API server refuses (401) are a start-up error: its text.
 */
async function load(options: Options, con: Console, log: Logger): Promise<LoadedSources | string> {
  const sources: Source[] = [];
  if (options.config.length > 0) sources.push(await configSource(options, con.in ?? process.stdin));
  let cluster: ClusterSource | undefined;
  if (options.cluster !== undefined) {
    try {
      cluster = await clusterSource(options.cluster, log);
      sources.push(cluster);
      await cluster.synced(CLUSTER_SYNC_TIMEOUT_MS);
      const status = cluster.status();
      log.info(
        { context: status.context, server: status.server, namespaces: status.namespaces, synced: status.watches.every((w) => w.synced) },
        `following ${cluster.description}, namespaces ${status.namespaces.join(', ')}`,
      );
    } catch (err: unknown) {
      cluster?.stop();
      return errorMessage(err);
    }
  }
  return { sources, cluster, loaded: await loadDesired(instanceConfig(options), sources) };
}

/** What the sources are called in --check: the config paths, the cluster's context and server. */
function describeSources(sources: readonly Source[]): string {
  return sources.map((s) => s.description).join(' + ') || 'no source';
}

/** The log of --check and `svcproxy env`: warnings and errors only, on stderr (stdout is their answer). */
function quietLogger(): Logger {
  return pino({ level: 'warn', base: null }, pino.destination({ fd: 2, sync: true }));
}

/** "2 ConfigMap (v1), 1 Kustomization (kustomize.config.k8s.io/v1beta1)": what was accepted without being read. */
function ignoredSummary(ignored: Readonly<Record<string, number>>): string {
  return Object.entries(ignored)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => {
      const space = key.indexOf(' ');
      return `${n} ${key.slice(space + 1)} (${key.slice(0, space)})`;
    })
    .join(', ');
}

/**
 * A service or pod range too small for the config is a usage error (exit 2)
 * at start-up: the fix is an option, not a manifest. On a reload it is an
 * ordinary rejected config.
 */
function rangeError(issues: readonly ConfigIssue[], con: Console): boolean {
  const issue = issues.find((i) => i.where === '--service-cidr' || i.where === '--pod-cidr');
  if (issue === undefined) return false;
  con.err(`svcproxy: ${issue.where}: ${issue.message}`);
  con.err('Try svcproxy --help.');
  return true;
}

/**
 * `--check`: every problem on stderr, a one-line verdict, then every Service
 * port with the addresses it would be served on; exit 0 when valid, 1 when not.
 */
async function check(options: Options, con: Console): Promise<number> {
  const read = await load(options, con, quietLogger());
  if (typeof read === 'string') {
    con.err(`svcproxy: ${read}`);
    return 1;
  }
  read.cluster?.stop();
  const { loaded } = read;
  if (rangeError(loaded.issues, con)) return 2;
  const paths = describeSources(read.sources);
  for (const note of loaded.notes) {
    if (note.level === 'warn') con.err(`warning: ${[note.where, note.object].filter((s) => s !== '').join(' ')}: ${note.msg}`);
  }
  for (const issue of loaded.issues) con.err(formatIssue(issue));
  if (loaded.issues.length > 0) {
    con.err(`${paths}: invalid: ${loaded.issues.length} problem${loaded.issues.length === 1 ? '' : 's'}`);
    return 1;
  }
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  const ignored = ignoredSummary(loaded.ignored);
  const workloads = loaded.snapshot.workloads.length;
  con.out(
    `${paths}: valid: ${count(loaded.services, 'Service')}, ${count(loaded.state.servicePorts.size, 'proxied port')}, ${count(loaded.state.listeners.size, 'listener')}` +
      (loaded.state.pods.size === 0 && workloads === 0 ? '' : `, ${count(loaded.state.pods.size, 'Pod')}`) +
      (workloads === 0 ? '' : ` (${loaded.state.ownedPods.size} from ${count(workloads, 'workload')})`) +
      (ignored === '' ? '' : `; not read by svcproxy: ${ignored}`),
  );
  printServices(loaded, con);
  printPods(loaded, con);
  return 0;
}

/** The Pods table: where to start each Pod's process; and the workloads whose Pods come from a DNS name when running. */
function printPods(loaded: Loaded, con: Console): void {
  const lines = podTableLines(loaded.state.pods.values());
  if (lines.length > 0) {
    con.out('Pods (start each process at its address and ports; one bound to 0.0.0.0:PORT serves that port of every Pod):');
    for (const line of lines) con.out(`  ${line}`);
  }
  for (const b of loaded.snapshot.bindings) {
    if (b.dnsName === '') continue;
    const name = b.dnsPort === 0 ? b.dnsName : `${b.dnsName}:${b.dnsPort}`;
    con.out(
      `note: WorkloadBinding ${b.namespace}/${b.name}: ${b.workload.kind} ${b.namespace}/${b.workload.name} has one Pod per address ${name} resolves to, when svcproxy runs`,
    );
  }
}

/** Every Service port with its addresses, and each manifest clusterIP that was mapped. */
function printServices(loaded: Loaded, con: Console): void {
  const services = [...loaded.state.services.values()].sort((a, b) => a.key.localeCompare(b.key));
  for (const service of services) {
    for (const ip of service.mappedFrom)
      con.out(`note: Service ${service.key}: clusterIP ${ip} is not an address of this machine; served on ${service.addresses[0] ?? 'nothing'} instead`);
    for (const port of service.ports) con.out(`  ${describeServicePort(service, port)}`);
  }
}

/** `svcproxy env`: the Service environment variables, or the config's problems (exit 1). */
async function printEnv(argv: readonly string[], env: NodeJS.ProcessEnv, con: Console): Promise<number> {
  const command = parseEnvCommand(argv, env);
  if (command.kind === 'help') {
    con.out(ENV_USAGE);
    return 0;
  }
  if (command.kind === 'usage-error') {
    con.err(`svcproxy env: ${command.message}`);
    con.err('Try svcproxy env --help.');
    return 2;
  }
  const read = await load(command.options, con, quietLogger());
  if (typeof read === 'string') {
    con.err(`svcproxy env: ${read}`);
    return 1;
  }
  read.cluster?.stop();
  const { loaded } = read;
  if (rangeError(loaded.issues, con)) return 2;
  if (loaded.issues.length > 0) {
    for (const issue of loaded.issues) con.err(formatIssue(issue));
    return 1;
  }
  const text = formatEnvVars(namespaceEnvVars(loaded.state.services.values(), command.namespace), command.format);
  if (text !== '') con.out(text.replace(/\n$/, ''));
  return 0;
}

/** What a command other than `run` prints, and its exit code. */
function answer(command: Exclude<Command, { kind: 'run' }>, con: Console): number {
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
  }
}

/** The CLI: returns the exit code, or never returns while serving (signals end it). */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, con: Console = processConsole): Promise<number | 'serving'> {
  if (argv[0] === 'env') return printEnv(argv.slice(1), env, con);
  const command = parseCommand(argv, env);
  if (command.kind !== 'run') return answer(command, con);
  const { options } = command;
  if (options.check) return check(options, con);
  return serve(options, con);
}

/** A start-up failure of a --workers worker ends its process (its IPC channel to the primary would keep it alive). */
function fail(index: number, con: Console, message: string): number {
  con.err(`svcproxy: ${message}`);
  if (index > 0) process.exit(1);
  return 1;
}

/** Loads the config, then serves it: as the --workers primary, or as one instance (alone, or a worker). */
async function serve(options: Options, con: Console): Promise<number | 'serving'> {
  const root = createLogger(options.logLevel);
  const read = await load(options, con, root);
  if (typeof read === 'string') return fail(workerIndex(), con, read);
  const { loaded } = read;
  const stopCluster = (code: number): number => {
    read.cluster?.stop();
    return code;
  };
  if (rangeError(loaded.issues, con)) return stopCluster(2);
  if (loaded.issues.length > 0) {
    for (const issue of loaded.issues) con.err(formatIssue(issue));
    return stopCluster(1);
  }
  const index = workerIndex();
  // An access log that cannot be opened is an error at start (the primary checks it for its workers too).
  let target: AccessLogTarget | undefined;
  try {
    target = options.accessLog === '' ? undefined : openAccessLog(options.accessLog);
  } catch (err: unknown) {
    return stopCluster(fail(index, con, errorMessage(err)));
  }
  if (options.workers > 1 && cluster.isPrimary) {
    if (target?.owned === true) closeSync(target.fd); // each worker opens its own
    // The primary's admin server and its workers keep it alive: leave explicitly.
    process.exit(await runPrimary(options, root));
  }
  const log = index > 0 ? root.child({ worker: index }) : root;
  const accessLog =
    target === undefined
      ? undefined
      : new AccessLog(target, { format: options.accessLogFormat, base: { pid: process.pid, ...(index > 0 ? { worker: index } : {}) } }, log);
  return startInstance({ options, sources: read.sources, cluster: read.cluster, loaded, log, index, accessLog, con });
}

/**
 * `--pod-network portforward` (the default with --cluster): the carrier of
 * connections to the cluster's Pods, through the same API server and
 * credentials as the cluster source; loaded only then.
 */
async function clusterPortForwarder(options: Options, cluster: ClusterSource | undefined, log: Logger): Promise<PortForwarder | undefined> {
  if (cluster === undefined || options.cluster?.podNetwork !== 'portforward') return undefined;
  const { createPortForwarder } = await import('./portforward/port-forwarder.js');
  return createPortForwarder({ access: cluster.access, log: log.child({ component: 'portforward' }) });
}

interface InstanceStart {
  readonly options: Options;
  readonly sources: readonly Source[];
  readonly cluster: ClusterSource | undefined;
  readonly loaded: Loaded;
  readonly log: Logger;
  /** The --workers worker's index, 0 when alone. */
  readonly index: number;
  readonly accessLog: AccessLog | undefined;
  readonly con: Console;
}

/**
 * The process is composed here: the instance gets its admin server from
 * outside, so neither imports the other. A --workers worker has none: its
 * admin model goes to the primary, which serves the admin address for the set.
 */
async function startInstance({ options, sources, cluster, loaded, log, index, accessLog, con }: InstanceStart): Promise<number | 'serving'> {
  const extras = accessLog === undefined ? {} : { accessLog };
  const portForwarder = await clusterPortForwarder(options, cluster, log);
  const proxy = new Svcproxy(instanceConfig(options), log, {
    sources,
    ...(cluster === undefined ? {} : { cluster: () => cluster.status() }),
    ...(portForwarder === undefined ? {} : { portForwarder }),
    ...(index > 0 ? {} : { admin: (instance: Svcproxy) => new AdminServer(new LocalModel(instance, extras), log) }),
    ...(accessLog === undefined ? {} : { onLeaseEnd: accessLog.record, readClientAddresses: true }),
  });
  const agent = index > 0 ? new WorkerAgent(new LocalModel(proxy, extras), log) : undefined;
  try {
    await proxy.start(loaded);
  } catch (err: unknown) {
    await proxy.stop();
    return fail(index, con, `${index > 0 ? `worker ${index}: ` : ''}${errorMessage(err)}`);
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
      exitAfterLogFlush(proxy.log, 1, 200);
      return;
    }
    stopping = true;
    proxy.log.info({ signal }, 'shutting down');
    // The access log gets the drain's last lines (for at most 2 s) before the exit.
    const done = async (): Promise<void> => {
      await proxy.shutdown();
      await accessLog?.close();
    };
    done().then(
      () => exitAfterLogFlush(proxy.log, 0),
      (err: unknown) => {
        proxy.log.error({ err: errorMessage(err) }, 'error during shutdown');
        exitAfterLogFlush(proxy.log, 1);
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
