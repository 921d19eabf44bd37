/**
 * The one loopback test. Every room that must tell a loopback address from
 * another (the admin server's warning, the toxiproxy API's listen check, the
 * per-object address ranges, the bench's safety rule) asks this.
 */
import { isIPv4 } from 'node:net';

const MAPPED_V4 = '::ffff:';

/**
 * True for an IP address on the loopback network: IPv4 127.0.0.0/8 (dotted
 * quad only: `127.1` is refused rather than guessed), `::1`, and IPv4-mapped
 * `::ffff:127.x.y.z` (how a dual-stack socket reports an IPv4 peer). Host
 * names, `localhost` included, are not addresses: callers resolve them first.
 */
export function isLoopback(address: string): boolean {
  const lower = address.toLowerCase();
  if (lower === '::1') return true;
  const v4 = lower.startsWith(MAPPED_V4) ? lower.slice(MAPPED_V4.length) : lower;
  return isIPv4(v4) && v4.startsWith('127.');
}

/** A host a listener may bind without exposing it beyond this machine: a loopback address, or the name `localhost`. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopback(host);
}
