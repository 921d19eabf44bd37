/**
 * `HOST:PORT` addresses on the command line (the admin address), in a module
 * of its own so that `svcproxy healthcheck` can parse one without loading the
 * rest of the CLI (pino, the config loader).
 */
import { ipFamily } from '../config/fields.js';
import type { HostPortAddress } from '../instance/config.js';

/** The admin address when neither the flag nor the variable sets one. */
export const DEFAULT_ADMIN_ADDRESS = '127.0.0.1:9901';

/** `host:port` or `[v6]:port`, the host an IP address. */
export function parseHostPort(text: string): HostPortAddress | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (port > 65535 || host === '' || ipFamily(host) === 0) return undefined;
  return { host, port };
}

/** Where a client reaches a server bound to `host`: a wildcard bind is reached on loopback. */
export function dialableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}
