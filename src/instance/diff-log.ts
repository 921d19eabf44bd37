/**
 * The log lines of a change, for whoever starts processes by hand: one per
 * Service port whose addresses are new or changed, one per Pod that is new,
 * changed or gone. Values are plain data, compared structurally
 * (isDeepStrictEqual), so an unchanged object logs nothing; and the config's
 * notes that the previous applied reload did not have.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ConfigNote } from '../config/types.js';
import type { Logger } from '../log.js';
import { describePod } from '../report/pods-table.js';
import { describeServicePort } from '../report/service-port-line.js';
import type { PodInfo, ServiceInfo } from '../state/types.js';

/** One line per Service port whose addresses are new or changed: every address it is served on. */
export function logServedAddresses(log: Logger, before: ReadonlyMap<string, ServiceInfo>, after: ReadonlyMap<string, ServiceInfo>): void {
  for (const [key, service] of after) {
    const was = before.get(key);
    const sameAddresses = was !== undefined && isDeepStrictEqual(was.addresses, service.addresses);
    service.ports.forEach((port, i) => {
      if (sameAddresses && isDeepStrictEqual(was.ports[i], port)) return;
      log.info(
        { service: key, port: port.name || port.port, addresses: port.servedOn.map((a) => a.address), source: service.source },
        describeServicePort(service, port),
      );
    });
  }
}

/** One line per Pod that is new, changed or gone: where to start its process. Returns whether any changed. */
export function logPods(log: Logger, before: ReadonlyMap<string, PodInfo>, after: ReadonlyMap<string, PodInfo>): boolean {
  let changed = false;
  for (const [key, pod] of after) {
    if (isDeepStrictEqual(before.get(key), pod)) continue;
    changed = true;
    if (pod.terminating)
      log.info({ pod: key, until: new Date(pod.removeAt).toISOString() }, `Pod ${key} terminating (removed from the config; gone after its grace period)`);
    else log.info({ pod: key, address: pod.address }, describePod(pod));
  }
  for (const key of before.keys()) {
    if (after.has(key)) continue;
    changed = true;
    log.info({ pod: key }, `Pod ${key} gone`);
  }
  return changed;
}

/** A note's identity across reloads: the same level, object and words (its place, `file[3]`, moves as documents are added). */
function noteKey(note: ConfigNote): string {
  return JSON.stringify([note.level, note.object === '' ? note.where : note.object, note.msg]);
}

/**
 * Logs the notes that were not among the previous applied reload's (`before`, as returned then),
 * so a rollout's reloads do not repeat every "not proxied: headless"; returns this reload's keys.
 */
export function logNewNotes(log: Logger, before: ReadonlySet<string>, notes: readonly ConfigNote[]): Set<string> {
  const keys = new Set<string>();
  for (const note of notes) {
    const key = noteKey(note);
    if (!before.has(key) && !keys.has(key)) log[note.level]({ where: note.where, object: note.object }, note.msg);
    keys.add(key);
  }
  return keys;
}
