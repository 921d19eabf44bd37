/**
 * The toxic counters, one series per (Service port, source, owner, toxic):
 * what /metrics shows. The stages of the connections add to them; a Service
 * port that goes away takes its series with it.
 */
import type { ToxicBinding } from './binding.js';
import type { ToxicCounterEntry, ToxicCounters } from './types.js';

type Entry = ToxicCounterEntry & { counters: ToxicCounters };

export class ToxicCounterSet {
  private readonly byPort = new Map<string, Map<string, Entry>>();

  /** The counters of `binding` on Service port `key`, made on first use. */
  of(key: string, binding: ToxicBinding): ToxicCounters {
    let perPort = this.byPort.get(key);
    if (perPort === undefined) {
      perPort = new Map();
      this.byPort.set(key, perPort);
    }
    const id = `${binding.source}\u0000${binding.owner}\u0000${binding.spec.name}`;
    let entry = perPort.get(id);
    if (entry === undefined) {
      const { spec } = binding;
      entry = {
        servicePort: key,
        source: binding.source,
        owner: binding.owner,
        name: spec.name,
        type: spec.type,
        stream: spec.stream,
        counters: { applications: 0, delayedBytes: 0, droppedBytes: 0, heldBytes: 0 },
      };
      perPort.set(id, entry);
    }
    return entry.counters;
  }

  /** Every series, for /metrics. */
  entries(): ToxicCounterEntry[] {
    const out: ToxicCounterEntry[] = [];
    for (const perPort of this.byPort.values()) out.push(...perPort.values());
    return out;
  }

  /** Forgets the series of Service ports not in `keys`. */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.byPort.keys()) if (!keys.has(key)) this.byPort.delete(key);
  }
}
