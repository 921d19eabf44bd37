/**
 * Which pump moves the bytes of TCP connections: the native splice pump when
 * it is built and wanted, the JavaScript pump otherwise. Decided once per
 * process, and said in one log line.
 */
import type { Logger } from '../log.js';
import { loadSpliceAddon, type AddonLoad } from '../native/splice-addon.js';
import { NativePump } from './native-pump.js';

export const PUMP_CHOICES = ['native', 'js'] as const;
export type PumpChoice = (typeof PUMP_CHOICES)[number];

let shared: NativePump | undefined;
let loadFailure = '';

/**
 * The process's native pump, started on first use; undefined when the addon
 * cannot be had (off Linux, not built), with the reason in `nativePumpUnavailable()`.
 * One per process: the addon runs one epoll thread for every connection.
 */
export function sharedNativePump(load: () => AddonLoad = loadSpliceAddon): NativePump | undefined {
  if (shared !== undefined) return shared;
  const loaded = load();
  if (loaded.addon === undefined) loadFailure = loaded.reason;
  else shared = new NativePump(loaded.addon);
  return shared;
}

/** Why the last attempt to start the native pump failed ('' when none did). */
export function nativePumpUnavailable(): string {
  return loadFailure;
}

/** Applies `--pump`: the native pump, or undefined for the JavaScript pump; logs the choice once. */
export function selectPump(choice: PumpChoice, log: Logger, load: () => AddonLoad = loadSpliceAddon): NativePump | undefined {
  if (choice === 'js') {
    log.info({ pump: 'js' }, 'pump: JavaScript (--pump js)');
    return undefined;
  }
  const native = sharedNativePump(load);
  if (native === undefined) {
    log.warn({ pump: 'js', reason: loadFailure }, 'native splice pump unavailable; using the JavaScript pump');
    return undefined;
  }
  log.info({ pump: 'native', limits: native.limits }, 'pump: native splice');
  return native;
}
