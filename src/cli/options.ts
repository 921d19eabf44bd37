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
import { DEFAULT_ADMIN_ADDRESS, parseHostPort, type HostPortAddress } from './host-port.js';

export interface Options {
  readonly config: string;
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
} as const;

export const USAGE = `Usage: svcproxy [options]

Serves Kubernetes Services from manifests: a listener on every Service port,
each connection forwarded to an endpoint's targetPort.

Options:
  --config PATH             manifest file or directory of *.yaml|*.yml|*.json
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
  --workers N               serve from N processes sharing the listeners;
                            "auto" = one per CPU (env SVCPROXY_WORKERS,
                            default 1); see README for what it changes
  --access-log PATH|-       one line per finished connection and UDP flow, to a
                            file (appended) or - for stdout; off by default
                            (env SVCPROXY_ACCESS_LOG); see docs/operations.md
  --access-log-format FMT   json (pino-style lines, the default) or text (like
                            HAProxy's tcplog) (env SVCPROXY_ACCESS_LOG_FORMAT)
  --check                   validate the config, print every problem, bind
                            nothing; exit 0 when valid, 1 when not
  --version                 print the version
  --help                    print this help
`;

export function parseCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
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
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err: unknown) {
    return { kind: 'usage-error', message: err instanceof Error ? err.message : String(err) };
  }
  if (values.help === true) return { kind: 'help' };
  if (values.version === true) return { kind: 'version' };

  const config = values.config ?? env['SVCPROXY_CONFIG'] ?? DEFAULTS.config;
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
  const accessLog = values['access-log'] ?? env['SVCPROXY_ACCESS_LOG'] ?? '';
  const accessLogFormat = values['access-log-format'] ?? env['SVCPROXY_ACCESS_LOG_FORMAT'] ?? 'json';
  if (!(ACCESS_LOG_FORMATS as readonly string[]).includes(accessLogFormat)) {
    return { kind: 'usage-error', message: `--access-log-format: "${accessLogFormat}" is not one of ${ACCESS_LOG_FORMATS.join(', ')}` };
  }
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
    },
  };
}
