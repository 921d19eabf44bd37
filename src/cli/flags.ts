/**
 * Every flag of `svcproxy [options]`, written once: the help text (USAGE),
 * the `parseArgs` option table and the environment variable of each flag are
 * all derived from FLAGS. In a flag's help lines, `{env}` stands for
 * `env SVCPROXY_<FLAG>`, `{var}` for the variable alone and `{default}` for
 * its default, so the wrapping of
 * the text stays hand-made while the names and values cannot drift.
 */
import type { ParseArgsOptionDescriptor } from 'node:util';
import { LOG_LEVELS } from '../log.js';
import { DEFAULT_POD_CIDR, DEFAULT_SERVICE_CIDR } from '../instance/config.js';
import { DEFAULT_ADMIN_ADDRESS } from './host-port.js';

export interface Flag {
  /** The long name, without `--`. */
  readonly name: string;
  /** What the value looks like in the help text; absent for a boolean flag. */
  readonly arg?: string;
  readonly short?: string;
  readonly multiple?: true;
  /** The flag can also be set by `SVCPROXY_<NAME>` (upper case, `-` as `_`). */
  readonly env?: true;
  /** Used when neither the flag nor its variable is set; absent: the option's own fallback. */
  readonly default?: string;
  /** Help lines after the flag's column; none: the flag is not listed (none today). */
  readonly help: readonly string[];
}

export const FLAGS = [
  {
    name: 'config',
    arg: 'PATH',
    short: 'c',
    multiple: true,
    env: true,
    default: 'config/',
    help: ['manifest file, directory tree of *.yaml|*.yml|*.json,', 'or - for standard input; may be repeated', '({env}, default {default})'],
  },
  {
    name: 'bind-address',
    arg: 'ADDR',
    env: true,
    default: '127.0.0.1',
    help: ['where Services without a local clusterIP listen', '({env}, default {default})'],
  },
  { name: 'node-address', arg: 'ADDR', env: true, help: ['where NodePort and LoadBalancer nodePorts listen', '({env}, default: the bind address)'] },
  { name: 'admin-address', arg: 'HOST:PORT', env: true, default: DEFAULT_ADMIN_ADDRESS, help: ['admin HTTP server ({env},', 'default {default})'] },
  { name: 'log-level', arg: 'LEVEL', env: true, default: 'info', help: [`${LOG_LEVELS.join('|')} ({env},`, 'default {default})'] },
  {
    name: 'half-close-timeout',
    arg: 'DUR',
    env: true,
    default: '60s',
    help: ['close a half-closed connection idle this long;', '0 = never ({env},', 'default {default})'],
  },
  {
    name: 'tcp-keepalive',
    arg: 'DUR',
    env: true,
    default: '60s',
    help: ['TCP keepalive idle time on both sockets of every', 'connection (then a probe a second, 10 tries);', '0 = off ({env},', 'default {default})'],
  },
  {
    name: 'drain-timeout',
    arg: 'DUR',
    env: true,
    default: '30s',
    help: ['on SIGTERM/SIGINT, let connections finish this long,', 'then reset them; 0 = reset at once', '({env}, default {default})'],
  },
  { name: 'config-poll-interval', arg: 'DUR', default: '5s', help: ['re-read the config this often besides watching', 'it; 0 = never (default {default})'] },
  { name: 'no-watch', help: ['do not watch the config; reload on SIGHUP (and', 'the poll, if any) only'] },
  {
    name: 'service-cidr',
    arg: 'CIDR',
    env: true,
    default: DEFAULT_SERVICE_CIDR,
    help: ['loopback range each Service gets its own address', 'from ({env}, default', '{default})'],
  },
  {
    name: 'pod-cidr',
    arg: 'CIDR',
    env: true,
    default: DEFAULT_POD_CIDR,
    help: ['loopback range the Pods of Deployments, StatefulSets,', 'ReplicaSets and DaemonSets get their addresses from', '({env}, default {default})'],
  },
  { name: 'dns-address', arg: 'HOST:PORT', env: true, help: ['answer DNS (UDP and TCP) for Service names', '({env}, default: off)'] },
  { name: 'cluster-domain', arg: 'DOMAIN', env: true, default: 'cluster.local', help: ['the domain of those names (env', '{var}, default {default})'] },
  { name: 'hosts-file', arg: 'PATH', env: true, help: ['keep a block of Service names in this hosts file', '({env}, default: none)'] },
  {
    name: 'workers',
    arg: 'N',
    env: true,
    default: '1',
    help: ['serve from N processes sharing the listeners;', '"auto" = one per CPU ({env},', 'default {default}); see README for what it changes'],
  },
  {
    name: 'access-log',
    arg: 'PATH|-',
    env: true,
    help: ['one line per finished connection and UDP flow, to a', 'file (appended) or - for stdout; off by default', '({env}); see docs/operations.md'],
  },
  {
    name: 'access-log-format',
    arg: 'FMT',
    env: true,
    default: 'json',
    help: ['json (pino-style lines, the default) or text (like', "HAProxy's tcplog) ({env})"],
  },
  {
    name: 'pump',
    arg: 'native|js',
    env: true,
    default: 'native',
    help: [
      'who moves TCP bytes: the native splice pump (Linux,',
      'built at install; falls back to js and says so)',
      'or the JavaScript pump ({env},',
      'default {default})',
    ],
  },
  {
    name: 'toxiproxy-address',
    arg: 'HOST:PORT',
    env: true,
    help: ['serve a toxiproxy-compatible API for faults', '({env}; off by default;', 'loopback only, see docs/faults.md)'],
  },
  {
    name: 'toxiproxy-allow-remote',
    help: ['let the toxiproxy API and its forwards use a', 'non-loopback address (anyone who reaches it can', 'change traffic)'],
  },
  { name: 'cluster', env: true, help: ['follow a live cluster: its Services and', 'EndpointSlices, through a kubeconfig ({env}=1;', 'see docs/cluster.md)'] },
  { name: 'kubeconfig', arg: 'PATH', env: true, help: ['the kubeconfig to use ({env}; default', '$KUBECONFIG, else ~/.kube/config)'] },
  { name: 'context', arg: 'NAME', env: true, help: ['the kubeconfig context ({env}; default', 'its current-context)'] },
  {
    name: 'namespace',
    arg: 'NS',
    multiple: true,
    env: true,
    help: ['a namespace to follow; may be repeated', '({env}, comma-separated; default the', "context's namespace)"],
  },
  { name: 'all-namespaces', env: true, help: ['follow every namespace ({env}=1)'] },
  {
    name: 'pod-network',
    arg: 'MODE',
    env: true,
    default: 'portforward',
    help: [
      'how cluster Pods are reached: portforward',
      'carries each connection through the API',
      "server's pods/portforward (TCP only);",
      'direct dials podIP:port (the Pod network',
      'is routed here) ({env}, default {default})',
    ],
  },
  { name: 'check', short: 't', help: ['validate the config, print every problem, bind', 'nothing; exit 0 when valid, 1 when not'] },
  { name: 'version', help: ['print the version'] },
  { name: 'help', short: 'h', help: ['print this help'] },
] as const satisfies readonly Flag[];

export type FlagName = (typeof FLAGS)[number]['name'];

/** The environment variable of a flag: `bind-address` -> `SVCPROXY_BIND_ADDRESS`. */
export function envName(flag: string): string {
  return `SVCPROXY_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** The `options` table of `parseArgs`. */
export function parseArgsOptions(): Record<string, ParseArgsOptionDescriptor> {
  const options: Record<string, ParseArgsOptionDescriptor> = {};
  for (const flag of FLAGS as readonly Flag[]) {
    options[flag.name] = {
      type: flag.arg === undefined ? 'boolean' : 'string',
      ...(flag.short === undefined ? {} : { short: flag.short }),
      ...(flag.multiple === true ? { multiple: true } : {}),
    };
  }
  return options;
}

/** The name column is this wide; a longer name is followed by two spaces. */
const COLUMN = 26;
const INDENT = ' '.repeat(COLUMN + 2);

function helpLines(flag: Flag): string[] {
  const variable = flag.env === true ? `env ${envName(flag.name)}` : '';
  const lines = flag.help.map((line) =>
    line
      .replace('{env}', variable)
      .replace('{var}', envName(flag.name))
      .replace('{default}', flag.default ?? ''),
  );
  const head = `--${flag.name}${flag.arg === undefined ? '' : ` ${flag.arg}`}`;
  const column = head.length < COLUMN ? head.padEnd(COLUMN) : `${head}  `;
  return lines.map((line, i) => (i === 0 ? `  ${column}${line}` : `${INDENT}${line}`));
}

/** The options part of the help text, one flag after another in table order. */
export function optionsHelp(): string {
  return (FLAGS as readonly Flag[]).flatMap(helpLines).join('\n');
}
