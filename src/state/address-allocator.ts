/**
 * Loopback address ranges and a stable allocator over them: a name (a
 * Service's `namespace/name`, later a Pod's) gets the same address of a CIDR
 * every time it asks, as far as the other names allow. Pure: no sockets, no
 * state beyond what the caller passes in.
 *
 *   name --FNV-1a--> preferred offset in the range --taken?--> next offset, wrapping
 *
 * Stability: an address handed out on the previous reload is kept while it is
 * free (so reloads never move a live Service); otherwise the hash decides, so
 * a restart gives the same answer for the same set of names. Clashes are
 * resolved in sorted name order, so the result never depends on file order.
 */
import { fnv1a32 } from '../hash.js';
import { isLoopback } from '../loopback.js';

/** An IPv4 CIDR, as numbers. */
export interface Ipv4Range {
  /** As the user wrote it, normalised: `127.96.0.0/16`. */
  readonly cidr: string;
  /** The network address as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefix: number;
  /** Addresses in the range, including network and broadcast. */
  readonly size: number;
}

/** Dotted quad -> unsigned 32-bit number; undefined when not an IPv4 address. */
export function ipv4ToNumber(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

export function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/**
 * Parses `a.b.c.d/n` into a range. Host bits must be zero, as Kubernetes
 * requires of `--service-cluster-ip-range`. Returns an error message instead
 * of a range when the text is not such a CIDR.
 */
export function parseIpv4Range(text: string): Ipv4Range | string {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
  const base = match === null ? undefined : ipv4ToNumber(match[1] ?? '');
  const prefix = match === null ? NaN : Number(match[2]);
  if (base === undefined || !(prefix >= 0 && prefix <= 32)) return `"${text}" is not an IPv4 CIDR such as 127.96.0.0/16`;
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) {
    return `"${text}" has host bits set; the network address is ${numberToIpv4(base - (base % size))}/${prefix}`;
  }
  return { cidr: `${numberToIpv4(base)}/${prefix}`, base, prefix, size };
}

/**
 * A range for per-object addresses: an IPv4 CIDR inside 127.0.0.0/8 (every address of it is local on Linux:
 * the kernel routes the block to `lo`, so binding needs no root). Error message or the range.
 */
export function parseLoopbackRange(text: string): Ipv4Range | string {
  const range = parseIpv4Range(text);
  if (typeof range === 'string') return range;
  if (!isLoopback(numberToIpv4(range.base)) || !isLoopback(numberToIpv4(range.base + range.size - 1))) {
    return `${range.cidr} is not inside the loopback block 127.0.0.0/8: only loopback addresses can be bound without configuring the machine`;
  }
  return range;
}

export function rangeContains(range: Ipv4Range, ip: string): boolean {
  const n = ipv4ToNumber(ip);
  return n !== undefined && n >= range.base && n < range.base + range.size;
}

/**
 * The offsets handed out: the network and broadcast addresses are left out
 * (as the Kubernetes allocator does), except in a /31 or /32 where every
 * address is usable.
 */
function usable(range: Ipv4Range): { first: number; count: number } {
  return range.prefix >= 31 ? { first: 0, count: range.size } : { first: 1, count: range.size - 2 };
}

/** How many addresses of the range can be handed out. */
export function usableCount(range: Ipv4Range): number {
  return usable(range).count;
}

/** A name's preferred place in a range: FNV-1a, the same on every run and platform. */
export function stableHash(text: string): number {
  return fnv1a32(text);
}

export interface AllocationRequest {
  readonly range: Ipv4Range;
  /** Who needs an address (unique names; order does not matter). */
  readonly names: readonly string[];
  /** What the previous allocation gave each name; kept when still free and in range. */
  readonly previous: ReadonlyMap<string, string>;
  /** Addresses nobody may be given (written in manifests, bound by svcproxy itself). */
  readonly taken: ReadonlySet<string>;
}

export type AllocationResult =
  | { readonly ok: true; readonly addresses: ReadonlyMap<string, string> }
  | { readonly ok: false; readonly needed: number; readonly free: number };

/**
 * Gives every name an address of the range, or says how short the range is.
 * Deterministic: the same request always gives the same answer.
 */
export function allocateAddresses(request: AllocationRequest): AllocationResult {
  const { range, previous } = request;
  const { first, count } = usable(range);
  const used = new Set<number>();
  for (const ip of request.taken) {
    const n = ipv4ToNumber(ip);
    if (n !== undefined && n >= range.base + first && n < range.base + first + count) used.add(n);
  }
  const free = count - used.size;
  const names = [...new Set(request.names)].sort();
  if (names.length > free) return { ok: false, needed: names.length, free };

  const addresses = new Map<string, string>();
  const waiting: string[] = [];
  for (const name of names) {
    const before = previous.get(name);
    const n = before === undefined ? undefined : ipv4ToNumber(before);
    if (n !== undefined && n >= range.base + first && n < range.base + first + count && !used.has(n)) {
      used.add(n);
      addresses.set(name, numberToIpv4(n));
    } else waiting.push(name);
  }
  for (const name of waiting) {
    const start = stableHash(name) % count;
    for (let i = 0; i < count; i++) {
      const n = range.base + first + ((start + i) % count);
      if (used.has(n)) continue;
      used.add(n);
      addresses.set(name, numberToIpv4(n));
      break;
    }
  }
  return { ok: true, addresses };
}
