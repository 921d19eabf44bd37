/**
 * The command line contract: flags, their environment variables and
 * defaults (all in the table of flags.ts). Pure: argv and env in, options
 * (or a usage error) out. Flags win over environment variables, which win
 * over defaults.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { AccessLogFormat } from '../access-log/format.js';
import { ipFamily } from '../config/fields.js';
import { parseDuration } from '../duration.js';
import { isLoopbackHost } from '../loopback.js';
import { checkAddressRanges, PUMP_CHOICES, type HostPortAddress, type InstanceConfig, type PumpChoice } from '../instance/config.js';
import { isLogLevel, LOG_LEVELS, type LogLevel } from '../log.js';
import { parseClusterOptions } from './cluster-options.js';
import { envName, FLAGS, optionsHelp, parseArgsOptions, type Flag, type FlagName } from './flags.js';
import { parseHostPort } from './host-port.js';

/** The instance's config plus what only the CLI acts on. */
export interface Options extends InstanceConfig {
  readonly logLevel: LogLevel;
  readonly check: boolean;
  /** Processes serving the listeners (node:cluster); 1 = this process alone. */
  readonly workers: number;
  /** Where the access log goes: a file path, `-` for stdout, '' for none. */
  readonly accessLog: string;
  readonly accessLogFormat: AccessLogFormat;
}

export type Command =
  | { readonly kind: 'run'; readonly options: Options }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'usage-error'; readonly message: string };

/** Every access log format, checked against the type both ways (a format added there must be added here). */
const ACCESS_LOG_FORMATS = Object.keys({ json: true, text: true } satisfies Record<AccessLogFormat, true>) as AccessLogFormat[];

export const USAGE = `Usage: svcproxy [options]
       svcproxy env [--namespace NS] [--format shell|dotenv] [options]
       svcproxy healthcheck [--admin-address HOST:PORT] [--timeout DUR]

Serves Kubernetes Services from manifests or a live cluster (--cluster): a
listener on every Service port, each connection forwarded to an endpoint.

Options:
${optionsHelp()}

Commands:
  svcproxy env [--namespace NS] [--format shell|dotenv] [options]
                            print the Service environment variables a Pod in
                            NS (default "default") would get, as the kubelet
                            writes them, with the addresses svcproxy serves
                            (svcproxy env --help)
  svcproxy healthcheck [--admin-address HOST:PORT] [--timeout DUR]
                            exit 0 when the admin server at HOST:PORT answers
                            GET /healthz with 200, else 1: for container
                            health checks (svcproxy healthcheck --help)
`;

/** A bad flag value; thrown by the parsers below and turned into the 'usage-error' command. */
class UsageError extends Error {}

type Values = Readonly<Record<string, string | boolean | ReadonlyArray<string | boolean> | undefined>>;

/** A flag's value: the flag, else its environment variable, else its default (undefined when it has none). */
type Read = (name: FlagName) => string | undefined;

const FLAG_BY_NAME = new Map<string, Flag>((FLAGS as readonly Flag[]).map((f) => [f.name, f]));

function reader(values: Values, env: NodeJS.ProcessEnv): Read {
  return (name) => {
    const given = values[name];
    if (typeof given === 'string') return given;
    const flag = FLAG_BY_NAME.get(name);
    return (flag?.env === true ? env[envName(name)] : undefined) ?? flag?.default;
  };
}

export function parseCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  let values: Values;
  try {
    // -V is -v: both print the version (docs/operations.md says why); parseArgs takes one short name per flag.
    const args = argv.map((a) => (a === '-V' ? '-v' : a));
    ({ values } = parseArgs({ args, strict: true, allowPositionals: false, options: parseArgsOptions() }));
  } catch (err: unknown) {
    return { kind: 'usage-error', message: err instanceof Error ? err.message : String(err) };
  }
  if (values['help'] === true) return { kind: 'help' };
  if (values['version'] === true) return { kind: 'version' };
  try {
    return { kind: 'run', options: parseOptions(values, env) };
  } catch (err: unknown) {
    if (err instanceof UsageError) return { kind: 'usage-error', message: err.message };
    throw err;
  }
}

/** Reads and checks every option, in the order of the help text's first flags (the first problem is the one reported). */
function parseOptions(values: Values, env: NodeJS.ProcessEnv): Options {
  const read = reader(values, env);
  const cluster = parseClusterOptions(values, env);
  if (typeof cluster === 'string') throw new UsageError(cluster);
  const config = parseConfigPaths(values, env, cluster !== undefined);
  const bindAddress = ipAddress('bind-address', read('bind-address') ?? '');
  const nodeAddress = ipAddress('node-address', read('node-address') ?? bindAddress);
  const admin = hostPort('admin-address', read('admin-address') ?? '', '[::1]:9901 for IPv6');
  const logLevel = oneOf('log-level', read('log-level') ?? '', LOG_LEVELS, isLogLevel);
  const halfCloseTimeoutMs = duration('half-close-timeout', read);
  const tcpKeepAliveMs = duration('tcp-keepalive', read);
  const drainTimeoutMs = duration('drain-timeout', read);
  const configPollIntervalMs = duration('config-poll-interval', read);
  const workers = parseWorkers(read('workers') ?? '1', config);
  if (cluster !== undefined && workers > 1) throw new UsageError('--cluster needs --workers 1 (one process follows the cluster)');
  const accessLogFormat = oneOf('access-log-format', read('access-log-format') ?? '', ACCESS_LOG_FORMATS, isAccessLogFormat);
  const toxiproxy = parseToxiproxy(read, values['toxiproxy-allow-remote'] === true, workers);
  const ranges = checkAddressRanges(read('service-cidr') ?? '', read('pod-cidr') ?? '');
  if (typeof ranges === 'string') throw new UsageError(ranges);
  const names = parseNameOptions(read);
  const pump = oneOf('pump', read('pump') ?? '', PUMP_CHOICES, isPumpChoice);
  return {
    config,
    bindAddress,
    nodeAddress,
    admin,
    logLevel,
    check: values['check'] === true,
    halfCloseTimeoutMs,
    tcpKeepAliveMs,
    drainTimeoutMs,
    configPollIntervalMs,
    watch: values['no-watch'] !== true,
    workers,
    accessLog: read('access-log') ?? '',
    accessLogFormat,
    ...ranges,
    ...names,
    pump,
    ...toxiproxy,
    ...(cluster === undefined ? {} : { cluster }),
  };
}

/** The --config paths; with --cluster and no --config (flag or variable), none: the cluster is the only source. */
function parseConfigPaths(values: Values, env: NodeJS.ProcessEnv, cluster: boolean): string[] {
  const given = values['config'];
  if (cluster && !Array.isArray(given) && (env[envName('config')] ?? '') === '') return [];
  const config = Array.isArray(given) ? given.map(String) : [env[envName('config')] ?? FLAG_BY_NAME.get('config')?.default ?? ''];
  if (config.some((p) => p === '')) throw new UsageError('--config: an empty path');
  if (config.filter((p) => p === '-').length > 1) throw new UsageError('--config: standard input (-) may be given once');
  return config;
}

function ipAddress(flag: FlagName, text: string): string {
  if (ipFamily(text) === 0) throw new UsageError(`--${flag}: "${text}" is not an IP address`);
  return text;
}

function hostPort(flag: FlagName, text: string, example: string): HostPortAddress {
  const address = parseHostPort(text);
  if (address === undefined) throw new UsageError(`--${flag}: "${text}" is not HOST:PORT (an IP address and a port, ${example})`);
  return address;
}

function oneOf<T extends string>(flag: FlagName, text: string, choices: readonly T[], is: (text: string) => text is T): T {
  if (!is(text)) throw new UsageError(`--${flag}: "${text}" is not one of ${choices.join(', ')}`);
  return text;
}

function duration(flag: FlagName, read: Read): number {
  const text = read(flag) ?? '';
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`--${flag}: "${text}" is not a duration such as 500ms, 30s or 5m`);
  return ms;
}

function parseWorkers(text: string, config: readonly string[]): number {
  const workers = text === 'auto' ? availableParallelism() : /^\d{1,2}$/.test(text) ? Number(text) : 0;
  if (workers < 1 || workers > 64) throw new UsageError(`--workers: "${text}" is not a number from 1 to 64 or "auto"`);
  if (workers > 1 && config.includes('-')) throw new UsageError('--config -: standard input is read once, by one process; it cannot be used with --workers');
  return workers;
}

function parseToxiproxy(read: Read, allowRemote: boolean, workers: number): Pick<Options, 'toxiproxy' | 'toxiproxyAllowRemote'> {
  const text = read('toxiproxy-address') ?? '';
  if (text === '') return {};
  const toxiproxy = hostPort('toxiproxy-address', text, 'e.g. 127.0.0.1:8474');
  if (!isLoopbackHost(toxiproxy.host) && !allowRemote) {
    throw new UsageError(`--toxiproxy-address: ${text} is not a loopback address; the API changes traffic, so add --toxiproxy-allow-remote to mean it`);
  }
  // API toxics live in one process's memory: with workers, most connections would not see them.
  if (workers > 1) throw new UsageError('--toxiproxy-address needs --workers 1 (API toxics live in one process)');
  return { toxiproxy, toxiproxyAllowRemote: allowRemote };
}

/** The DNS and hosts-file flags. */
function parseNameOptions(read: Read): Pick<Options, 'dnsAddress' | 'clusterDomain' | 'hostsFile'> {
  const dnsText = read('dns-address') ?? '';
  const dnsAddress = dnsText === '' ? undefined : hostPort('dns-address', dnsText, '[::1]:5353 for IPv6');
  const domainText = read('cluster-domain') ?? '';
  const clusterDomain = domainText.toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(clusterDomain) || clusterDomain.length > 200) {
    throw new UsageError(`--cluster-domain: "${domainText}" is not a DNS domain such as cluster.local`);
  }
  return { dnsAddress, clusterDomain, hostsFile: read('hosts-file') ?? '' };
}

function isPumpChoice(value: string): value is PumpChoice {
  return (PUMP_CHOICES as readonly string[]).includes(value);
}

function isAccessLogFormat(value: string): value is AccessLogFormat {
  return (ACCESS_LOG_FORMATS as readonly string[]).includes(value);
}
