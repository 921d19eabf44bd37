/**
 * The command line contract: flags, their environment variables and
 * defaults. Pure: argv and env in, options (or a usage error) out. Flags win
 * over environment variables, which win over defaults.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { ACCESS_LOG_FORMATS, type AccessLogFormat } from '../access-log/format.js';
import { ipFamily } from '../config/fields.js';
import { parseDuration } from '../duration.js';
import { isLogLevel, LOG_LEVELS, type LogLevel } from '../log.js';
import { parseLoopbackRange } from '../state/address-allocator.js';
import { DEFAULT_SERVICE_CIDR } from '../state/service-addresses.js';
import { DEFAULT_POD_CIDR } from '../state/workload-pods.js';
import { PUMP_CHOICES, type PumpChoice } from '../proxy/pump-choice.js';
import { DEFAULT_ADMIN_ADDRESS, parseHostPort, type HostPortAddress } from './host-port.js';

export interface Options {
  /** Files, directories (read recursively) and `-` (standard input), in the order given. */
  readonly config: readonly string[];
  readonly bindAddress: string;
  /** Where nodePorts listen; defaults to the bind address. */
  readonly nodeAddress: string;
  readonly admin: HostPortAddress;
  readonly logLevel: LogLevel;
  readonly check: boolean;
  readonly halfCloseTimeoutMs: number;
  /** TCP keepalive idle time on both sockets of every connection, ms; 0 = off. */
  readonly tcpKeepAliveMs: number;
  readonly drainTimeoutMs: number;
  readonly configPollIntervalMs: number;
  /** Watch the config for changes (false: reload only on SIGHUP and the poll). */
  readonly watch: boolean;
  /** Processes serving the listeners (node:cluster); 1 = this process alone. */
  readonly workers: number;
  /** Where the access log goes: a file path, `-` for stdout, '' for none. */
  readonly accessLog: string;
  readonly accessLogFormat: AccessLogFormat;
  /** The toxiproxy-compatible API's address (`--toxiproxy-address`); absent = no API. */
  readonly toxiproxy?: HostPortAddress;
  /** `--toxiproxy-allow-remote`: the API (and its forwards) may use non-loopback addresses. */
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
}

export type Command =
  | { readonly kind: 'run'; readonly options: Options }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'usage-error'; readonly message: string };

const DEFAULTS = {
  config: 'config/',
  bindAddress: '127.0.0.1',
  admin: DEFAULT_ADMIN_ADDRESS,
  logLevel: 'info',
  halfCloseTimeout: '60s',
  tcpKeepAlive: '60s',
  drainTimeout: '30s',
  configPollInterval: '5s',
  serviceCidr: DEFAULT_SERVICE_CIDR,
  podCidr: DEFAULT_POD_CIDR,
  clusterDomain: 'cluster.local',
} as const;

export const USAGE = `Usage: svcproxy [options]

Serves Kubernetes Services from manifests: a listener on every Service port,
each connection forwarded to an endpoint's targetPort.

Options:
  --config PATH             manifest file, directory tree of *.yaml|*.yml|*.json,
                            or - for standard input; may be repeated
                            (env SVCPROXY_CONFIG, default ${DEFAULTS.config})
  --bind-address ADDR       where Services without a local clusterIP listen
                            (env SVCPROXY_BIND_ADDRESS, default ${DEFAULTS.bindAddress})
  --node-address ADDR       where NodePort and LoadBalancer nodePorts listen
                            (env SVCPROXY_NODE_ADDRESS, default: the bind address)
  --admin-address HOST:PORT admin HTTP server (env SVCPROXY_ADMIN_ADDRESS,
                            default ${DEFAULTS.admin})
  --log-level LEVEL         ${LOG_LEVELS.join('|')} (env SVCPROXY_LOG_LEVEL,
                            default ${DEFAULTS.logLevel})
  --half-close-timeout DUR  close a half-closed connection idle this long;
                            0 = never (env SVCPROXY_HALF_CLOSE_TIMEOUT,
                            default ${DEFAULTS.halfCloseTimeout})
  --tcp-keepalive DUR       TCP keepalive idle time on both sockets of every
                            connection (then a probe a second, 10 tries);
                            0 = off (env SVCPROXY_TCP_KEEPALIVE,
                            default ${DEFAULTS.tcpKeepAlive})
  --drain-timeout DUR       on SIGTERM/SIGINT, let connections finish this long,
                            then reset them; 0 = reset at once
                            (env SVCPROXY_DRAIN_TIMEOUT, default ${DEFAULTS.drainTimeout})
  --config-poll-interval DUR  re-read the config this often besides watching
                            it; 0 = never (default ${DEFAULTS.configPollInterval})
  --no-watch                do not watch the config; reload on SIGHUP (and
                            the poll, if any) only
  --service-cidr CIDR       loopback range each Service gets its own address
                            from (env SVCPROXY_SERVICE_CIDR, default
                            ${DEFAULTS.serviceCidr})
  --pod-cidr CIDR           loopback range the Pods of Deployments, StatefulSets,
                            ReplicaSets and DaemonSets get their addresses from
                            (env SVCPROXY_POD_CIDR, default ${DEFAULTS.podCidr})
  --dns-address HOST:PORT   answer DNS (UDP and TCP) for Service names
                            (env SVCPROXY_DNS_ADDRESS, default: off)
  --cluster-domain DOMAIN   the domain of those names (env
                            SVCPROXY_CLUSTER_DOMAIN, default ${DEFAULTS.clusterDomain})
  --hosts-file PATH         keep a block of Service names in this hosts file
                            (env SVCPROXY_HOSTS_FILE, default: none)
  --workers N               serve from N processes sharing the listeners;
                            "auto" = one per CPU (env SVCPROXY_WORKERS,
                            default 1); see README for what it changes
  --access-log PATH|-       one line per finished connection and UDP flow, to a
                            file (appended) or - for stdout; off by default
                            (env SVCPROXY_ACCESS_LOG); see docs/operations.md
  --access-log-format FMT   json (pino-style lines, the default) or text (like
                            HAProxy's tcplog) (env SVCPROXY_ACCESS_LOG_FORMAT)
  --pump native|js          who moves TCP bytes: the native splice pump (Linux,
                            built at install; falls back to js and says so)
                            or the JavaScript pump (env SVCPROXY_PUMP,
                            default native)
  --toxiproxy-address HOST:PORT  serve a toxiproxy-compatible API for faults
                            (env SVCPROXY_TOXIPROXY_ADDRESS; off by default;
                            loopback only, see docs/faults.md)
  --toxiproxy-allow-remote  let the toxiproxy API and its forwards use a
                            non-loopback address (anyone who reaches it can
                            change traffic)
  --check                   validate the config, print every problem, bind
                            nothing; exit 0 when valid, 1 when not
  --version                 print the version
  --help                    print this help

Commands:
  svcproxy env [--namespace NS] [--format shell|dotenv] [options]
                            print the Service environment variables a Pod in
                            NS (default "default") would get, as the kubelet
                            writes them, with the addresses svcproxy serves
`;

export function parseCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c', multiple: true },
        'bind-address': { type: 'string' },
        'node-address': { type: 'string' },
        'admin-address': { type: 'string' },
        'log-level': { type: 'string' },
        'half-close-timeout': { type: 'string' },
        'tcp-keepalive': { type: 'string' },
        'drain-timeout': { type: 'string' },
        'config-poll-interval': { type: 'string' },
        check: { type: 'boolean', short: 't' },
        'no-watch': { type: 'boolean' },
        workers: { type: 'string' },
        'access-log': { type: 'string' },
        'access-log-format': { type: 'string' },
        'toxiproxy-address': { type: 'string' },
        'toxiproxy-allow-remote': { type: 'boolean' },
        'service-cidr': { type: 'string' },
        'pod-cidr': { type: 'string' },
        'dns-address': { type: 'string' },
        'cluster-domain': { type: 'string' },
        'hosts-file': { type: 'string' },
        pump: { type: 'string' },
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err: unknown) {
    return { kind: 'usage-error', message: err instanceof Error ? err.message : String(err) };
  }
  if (values.help === true) return { kind: 'help' };
  if (values.version === true) return { kind: 'version' };

  const config = values.config ?? [env['SVCPROXY_CONFIG'] ?? DEFAULTS.config];
  if (config.some((p) => p === '')) return { kind: 'usage-error', message: '--config: an empty path' };
  if (config.filter((p) => p === '-').length > 1) return { kind: 'usage-error', message: '--config: standard input (-) may be given once' };
  const bindAddress = values['bind-address'] ?? env['SVCPROXY_BIND_ADDRESS'] ?? DEFAULTS.bindAddress;
  if (ipFamily(bindAddress) === 0) return { kind: 'usage-error', message: `--bind-address: "${bindAddress}" is not an IP address` };
  const nodeAddress = values['node-address'] ?? env['SVCPROXY_NODE_ADDRESS'] ?? bindAddress;
  if (ipFamily(nodeAddress) === 0) return { kind: 'usage-error', message: `--node-address: "${nodeAddress}" is not an IP address` };
  const adminText = values['admin-address'] ?? env['SVCPROXY_ADMIN_ADDRESS'] ?? DEFAULTS.admin;
  const admin = parseHostPort(adminText);
  if (admin === undefined) {
    return { kind: 'usage-error', message: `--admin-address: "${adminText}" is not HOST:PORT (an IP address and a port, [::1]:9901 for IPv6)` };
  }
  const logLevel = values['log-level'] ?? env['SVCPROXY_LOG_LEVEL'] ?? DEFAULTS.logLevel;
  if (!isLogLevel(logLevel)) return { kind: 'usage-error', message: `--log-level: "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}` };
  const durations: Record<string, number> = {};
  const durationFlags: ReadonlyArray<[string, string | undefined, string]> = [
    ['half-close-timeout', values['half-close-timeout'] ?? env['SVCPROXY_HALF_CLOSE_TIMEOUT'], DEFAULTS.halfCloseTimeout],
    ['tcp-keepalive', values['tcp-keepalive'] ?? env['SVCPROXY_TCP_KEEPALIVE'], DEFAULTS.tcpKeepAlive],
    ['drain-timeout', values['drain-timeout'] ?? env['SVCPROXY_DRAIN_TIMEOUT'], DEFAULTS.drainTimeout],
    ['config-poll-interval', values['config-poll-interval'], DEFAULTS.configPollInterval],
  ];
  for (const [flag, given, fallback] of durationFlags) {
    const text = given ?? fallback;
    const ms = parseDuration(text);
    if (ms === undefined) return { kind: 'usage-error', message: `--${flag}: "${text}" is not a duration such as 500ms, 30s or 5m` };
    durations[flag] = ms;
  }
  const workersText = values.workers ?? env['SVCPROXY_WORKERS'] ?? '1';
  const workers = workersText === 'auto' ? availableParallelism() : /^\d{1,2}$/.test(workersText) ? Number(workersText) : 0;
  if (workers < 1 || workers > 64) return { kind: 'usage-error', message: `--workers: "${workersText}" is not a number from 1 to 64 or "auto"` };
  if (workers > 1 && config.includes('-')) return { kind: 'usage-error', message: '--config -: standard input is read once, by one process; it cannot be used with --workers' };
  const accessLog = values['access-log'] ?? env['SVCPROXY_ACCESS_LOG'] ?? '';
  const accessLogFormat = values['access-log-format'] ?? env['SVCPROXY_ACCESS_LOG_FORMAT'] ?? 'json';
  if (!(ACCESS_LOG_FORMATS as readonly string[]).includes(accessLogFormat)) {
    return { kind: 'usage-error', message: `--access-log-format: "${accessLogFormat}" is not one of ${ACCESS_LOG_FORMATS.join(', ')}` };
  }
  const toxiproxyText = values['toxiproxy-address'] ?? env['SVCPROXY_TOXIPROXY_ADDRESS'];
  const toxiproxyAllowRemote = values['toxiproxy-allow-remote'] === true;
  const toxiproxy = toxiproxyText === undefined || toxiproxyText === '' ? undefined : parseHostPort(toxiproxyText);
  if (toxiproxyText !== undefined && toxiproxyText !== '') {
    if (toxiproxy === undefined) return { kind: 'usage-error', message: `--toxiproxy-address: "${toxiproxyText}" is not HOST:PORT (an IP address and a port, e.g. 127.0.0.1:8474)` };
    const loopback = toxiproxy.host.startsWith('127.') || toxiproxy.host === '::1';
    if (!loopback && !toxiproxyAllowRemote) {
      return { kind: 'usage-error', message: `--toxiproxy-address: ${toxiproxyText} is not a loopback address; the API changes traffic, so add --toxiproxy-allow-remote to mean it` };
    }
    // API toxics live in one process's memory: with workers, most connections would not see them.
    if (workers > 1) return { kind: 'usage-error', message: '--toxiproxy-address needs --workers 1 (API toxics live in one process)' };
  }
  const names = parseNameOptions(values, env);
  if (typeof names === 'string') return { kind: 'usage-error', message: names };
  const pump = values.pump ?? env['SVCPROXY_PUMP'] ?? 'native';
  if (!isPumpChoice(pump)) return { kind: 'usage-error', message: `--pump: "${pump}" is not one of ${PUMP_CHOICES.join(', ')}` };
  return {
    kind: 'run',
    options: {
      config,
      bindAddress,
      nodeAddress,
      admin,
      logLevel,
      check: values.check === true,
      halfCloseTimeoutMs: durations['half-close-timeout'] ?? 0,
      tcpKeepAliveMs: durations['tcp-keepalive'] ?? 0,
      drainTimeoutMs: durations['drain-timeout'] ?? 0,
      configPollIntervalMs: durations['config-poll-interval'] ?? 0,
      watch: values['no-watch'] !== true,
      workers,
      accessLog,
      accessLogFormat: accessLogFormat as AccessLogFormat,
      ...names,
      pump,
      ...(toxiproxy === undefined ? {} : { toxiproxy, toxiproxyAllowRemote }),
    },
  };
}

type NameOptions = Pick<Options, 'serviceCidr' | 'podCidr' | 'dnsAddress' | 'clusterDomain' | 'hostsFile'>;

/** The Service network and name flags; a usage error message when one is wrong. */
function parseNameOptions(values: Readonly<Record<string, string | readonly string[] | boolean | undefined>>, env: NodeJS.ProcessEnv): NameOptions | string {
  const flag = (name: string, variable: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : env[variable];
  };
  const cidrText = flag('service-cidr', 'SVCPROXY_SERVICE_CIDR') ?? DEFAULTS.serviceCidr;
  const range = parseLoopbackRange(cidrText);
  if (typeof range === 'string') return `--service-cidr: ${range}`;
  const podText = flag('pod-cidr', 'SVCPROXY_POD_CIDR') ?? DEFAULTS.podCidr;
  const podRange = parseLoopbackRange(podText);
  if (typeof podRange === 'string') return `--pod-cidr: ${podRange}`;
  if (podRange.base < range.base + range.size && range.base < podRange.base + podRange.size) {
    return `--pod-cidr: ${podRange.cidr} overlaps --service-cidr ${range.cidr}; Pods and Services need addresses apart`;
  }
  const dnsText = flag('dns-address', 'SVCPROXY_DNS_ADDRESS') ?? '';
  const dnsAddress = dnsText === '' ? undefined : parseHostPort(dnsText);
  if (dnsAddress === undefined && dnsText !== '') return `--dns-address: "${dnsText}" is not HOST:PORT (an IP address and a port, [::1]:5353 for IPv6)`;
  const domainText = flag('cluster-domain', 'SVCPROXY_CLUSTER_DOMAIN') ?? DEFAULTS.clusterDomain;
  const clusterDomain = domainText.toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(clusterDomain) || clusterDomain.length > 200) {
    return `--cluster-domain: "${domainText}" is not a DNS domain such as cluster.local`;
  }
  return { serviceCidr: range.cidr, podCidr: podRange.cidr, dnsAddress, clusterDomain, hostsFile: flag('hosts-file', 'SVCPROXY_HOSTS_FILE') ?? '' };
}

function isPumpChoice(value: string): value is PumpChoice {
  return (PUMP_CHOICES as readonly string[]).includes(value);
}
