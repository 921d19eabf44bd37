/**
 * The bench's one safety rule: it only ever binds and connects on the IPv4
 * loopback network (127.0.0.0/8). Every address it is given or builds goes
 * through {@link assertLoopback}; the C load generator checks again.
 */
import { isIPv4 } from 'node:net';
import { isLoopback } from '../../src/loopback.js';

export class NotLoopbackError extends Error {
  override readonly name = 'NotLoopbackError';
}

/** True for a dotted-quad IPv4 address in 127.0.0.0/8. */
export function isLoopbackV4(host: string): boolean {
  return isIPv4(host) && isLoopback(host);
}

/** Returns `host` if it is loopback; throws NotLoopbackError naming `what` otherwise. */
export function assertLoopback(host: string, what: string): string {
  if (!isLoopbackV4(host)) {
    throw new NotLoopbackError(`${what}: refusing "${host}": the bench only runs on IPv4 loopback (127.0.0.0/8)`);
  }
  return host;
}
