import { networkInterfaces } from 'node:os';
import { isLoopback } from '../loopback.js';

/**
 * True when `ip` can be bound on this machine: a wildcard, anything in
 * 127.0.0.0/8 (Linux routes the whole block to lo), ::1, or an address of
 * one of the interfaces at the time of the call.
 */
export function isLocalAddress(ip: string): boolean {
  const lower = ip.toLowerCase();
  if (isLoopback(ip) || ip === '0.0.0.0' || lower === '::') return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      if (info.address.toLowerCase() === lower) return true;
    }
  }
  return false;
}
