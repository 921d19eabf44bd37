/**
 * Host-name endpoints (EndpointSlice `addressType: FQDN`, a Pod's
 * `svcproxy.dev/address`) are resolved when dialled, through the system
 * resolver (`dns.lookup`: /etc/hosts, docker-compose's embedded DNS), with a
 * short cache so a burst of connections costs one lookup, and a short one
 * so a container that comes back with a new IP is found within seconds.
 * Every address a name resolves to takes part in the rotation: each name
 * keeps its own cursor over its addresses.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';

/** How long a lookup result is used. */
export const DNS_CACHE_MS = 2000;
/** A lookup that takes longer than this fails the dial attempt (getaddrinfo itself may hang for long). */
export const DNS_TIMEOUT_MS = 2000;

export type LookupFn = (host: string, callback: (err: Error | null, addresses: readonly string[]) => void) => void;

/** The system resolver, every address, in the order it gives them. */
export const systemLookup: LookupFn = (host, callback) => {
  dnsLookup(host, { all: true }, (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
    callback(err, err === null ? addresses.map((a) => a.address) : []);
  });
};

interface Entry {
  addresses: readonly string[];
  expiresAt: number;
  cursor: number;
  waiting: Array<(err: Error | null, address: string) => void> | undefined;
}

export class Resolver {
  private readonly cache = new Map<string, Entry>();

  constructor(
    private readonly lookup: LookupFn = systemLookup,
    private readonly cacheMs = DNS_CACHE_MS,
  ) {}

  /** Calls back with one address for `host`, rotating over all it resolves to. IP literals pass straight through. */
  resolve(host: string, callback: (err: Error | null, address: string) => void): void {
    if (isIP(host) !== 0) {
      callback(null, host);
      return;
    }
    const now = Date.now();
    let entry = this.cache.get(host);
    if (entry !== undefined && entry.expiresAt > now && entry.addresses.length > 0) {
      callback(null, this.next(entry));
      return;
    }
    if (entry?.waiting !== undefined) {
      entry.waiting.push(callback); // a lookup is already in flight: share it
      return;
    }
    entry ??= { addresses: [], expiresAt: 0, cursor: 0, waiting: undefined };
    entry.waiting = [callback];
    this.cache.set(host, entry);
    this.refresh(host, entry);
  }

  private refresh(host: string, entry: Entry): void {
    let done = false;
    const finish = (err: Error | null, addresses: readonly string[]): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const waiting = entry.waiting ?? [];
      entry.waiting = undefined;
      if (err === null && addresses.length > 0) {
        if (addresses.join() !== entry.addresses.join()) entry.cursor = 0;
        entry.addresses = addresses;
        entry.expiresAt = Date.now() + this.cacheMs;
        for (const cb of waiting) cb(null, this.next(entry));
      } else {
        this.cache.delete(host); // never cache a failure: the next connection asks again
        const failure = err ?? Object.assign(new Error(`${host} resolved to no address`), { code: 'ENOTFOUND' });
        for (const cb of waiting) cb(failure, '');
      }
    };
    const timer = setTimeout(() => finish(Object.assign(new Error(`lookup of ${host} timed out`), { code: 'EAI_AGAIN' }), []), DNS_TIMEOUT_MS);
    this.lookup(host, finish);
  }

  private next(entry: Entry): string {
    const address = entry.addresses[entry.cursor % entry.addresses.length] as string;
    entry.cursor = (entry.cursor + 1) % entry.addresses.length;
    return address;
  }
}
