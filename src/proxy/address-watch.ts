/**
 * The addresses of the host names WorkloadBindings name (`spec.dnsName`,
 * such as a docker-compose service with several replicas): each address is
 * one Pod. Every name is resolved at once, then again every few seconds, as
 * host-name endpoints are when dialled (resolver.ts), through the same
 * lookup; when a name's set of addresses changes, the instance re-plans.
 *
 * A name that does not exist (ENOTFOUND, ENODATA: the compose service is
 * scaled to zero or stopped) has no addresses, so its Pods terminate; any
 * other failure (a time-out, a resolver that is down) keeps the last answer.
 */
import { errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { DNS_CACHE_MS, DNS_TIMEOUT_MS, systemLookup, type LookupFn } from './resolver.js';

/** Answers that mean "this name has no address now", as opposed to "could not ask". */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NONAME']);

interface Watched {
  addresses: readonly string[] | undefined;
  asking: boolean;
}

export class AddressWatch {
  private readonly names = new Map<string, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  /**
   * @param onChange called (off the data path) when a name's addresses change.
   * @param periodMs how often every name is resolved again; 0: never by itself, the owner
   *   calls refresh() on its own schedule (the instance does, from its one scheduler).
   */
  constructor(
    private readonly onChange: () => void,
    private readonly log: Logger,
    private readonly lookup: LookupFn = systemLookup,
    private readonly periodMs = DNS_CACHE_MS,
  ) {}

  /** Each watched name's addresses, sorted; names not answered yet are absent. */
  get resolved(): ReadonlyMap<string, readonly string[]> {
    const out = new Map<string, readonly string[]>();
    for (const [name, w] of this.names) if (w.addresses !== undefined) out.set(name, w.addresses);
    return out;
  }

  /** Watches exactly `names`: new ones are resolved at once, others are forgotten. */
  watch(names: readonly string[]): void {
    if (this.stopped) return;
    const wanted = new Set(names);
    for (const name of this.names.keys()) if (!wanted.has(name)) this.names.delete(name);
    for (const name of wanted) {
      if (this.names.has(name)) continue;
      this.names.set(name, { addresses: undefined, asking: false });
      this.ask(name);
    }
    if (this.names.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    } else if (this.timer === undefined && this.periodMs > 0) {
      this.timer = setInterval(() => {
        for (const name of this.names.keys()) this.ask(name);
      }, this.periodMs);
      this.timer.unref();
    }
  }

  /** True while some name is watched (and so wants refreshing). */
  get watching(): boolean {
    return !this.stopped && this.names.size > 0;
  }

  /** Resolves every watched name again now (a lookup still in flight is not doubled). */
  refresh(): void {
    for (const name of this.names.keys()) this.ask(name);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.names.clear();
  }

  private ask(name: string): void {
    const watched = this.names.get(name);
    if (watched === undefined || watched.asking) return;
    watched.asking = true;
    let done = false;
    const finish = (err: Error | null, addresses: readonly string[]): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      watched.asking = false;
      if (this.stopped || this.names.get(name) !== watched) return; // forgotten meanwhile
      let next: readonly string[];
      if (err === null) next = [...new Set(addresses)].sort();
      else if (NO_SUCH_NAME.has(errorCode(err))) next = [];
      else {
        this.log.debug({ name, err: errorMessage(err) }, 'lookup failed; keeping the last addresses');
        return;
      }
      if (watched.addresses !== undefined && watched.addresses.join() === next.join()) return;
      this.log.info({ name, addresses: next }, 'binding name resolved');
      watched.addresses = next;
      this.onChange();
    };
    const timer = setTimeout(() => finish(Object.assign(new Error(`lookup of ${name} timed out`), { code: 'EAI_AGAIN' }), []), DNS_TIMEOUT_MS);
    this.lookup(name, finish);
  }
}
