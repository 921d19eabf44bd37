/**
 * Finds and loads the optional native splice pump (native/splice-pump, built
 * by the install script scripts/build-native.mjs when the machine has a
 * compiler). Nothing here moves bytes: src/proxy/native-pump.ts drives the
 * addon. Loading never throws; it says why the addon is not there instead, so
 * the caller can log its choice of pump in one line.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the addon's epoll thread reports about itself (`stats()`). */
export interface NativeThreadStats {
  /** Connections it owns now. */
  readonly connections: number;
  /** Pipes that exist: in use (holding bytes in flight) plus spare. */
  readonly pipes: number;
  /** Empty pipes kept in the pool for the next transfer. */
  readonly sparePipes: number;
  /** pipe2() failures (EMFILE, ENFILE) since start. */
  readonly pipeFailures: number;
  /** Chunks copied through user space because no pipe could be had. */
  readonly copiedChunks: number;
}

/** The addon's functions (native/splice-pump/src/splice_pump.c). */
export interface SpliceAddon {
  /**
   * Starts the epoll thread. `counters` holds two numbers per connection slot
   * (bytes received from the client, from the endpoint) that the thread keeps
   * current; `onDone` is called on the JS thread once per adopted connection,
   * `end` being splice_pump.c's `enum reason` (1-based: CARRIER_ENDS in
   * src/proxy/carrier.ts, checked against the C by test/proxy/carrier.test.ts).
   */
  start(
    counters: Float64Array,
    maxPipes: number,
    maxSparePipes: number,
    onDone: (slot: number, end: number, errno: number, fromDownstream: number, fromUpstream: number) => void,
  ): void;
  /** Takes duplicates of both descriptors; '' on success, else `stage:CODE` (dup:EMFILE, pipe:EMFILE, ...). */
  adopt(fdDown: number, fdUp: number, slot: number, idleMs: number, halfCloseMs: number, prefixToUp?: Buffer, prefixToDown?: Buffer): string;
  /** Resets one connection (by slot), or all of them without an argument. */
  abort(slot?: number): void;
  stats(): NativeThreadStats;
}

export type AddonLoad = { readonly addon: SpliceAddon; readonly path: string } | { readonly addon: undefined; readonly reason: string };

const RELATIVE_PATH = join('native', 'splice-pump', 'build', 'Release', 'splice_pump.node');

/** The built addon, looked for in the package root above this file (dist/native/ or build/src/native/). */
function findAddon(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, RELATIVE_PATH);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

function isSpliceAddon(value: unknown): value is SpliceAddon {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['start'] === 'function' && typeof v['adopt'] === 'function' && typeof v['abort'] === 'function' && typeof v['stats'] === 'function';
}

/** Loads the addon once per call; `platform` is a parameter so the non-Linux answer can be tested. */
export function loadSpliceAddon(platform: NodeJS.Platform = process.platform): AddonLoad {
  if (platform !== 'linux') return { addon: undefined, reason: `splice(2) is Linux-only; this is ${platform}` };
  const path = findAddon();
  if (path === undefined) return { addon: undefined, reason: 'the native splice pump was not built at install (no compiler, or the build failed)' };
  try {
    const loaded: unknown = createRequire(import.meta.url)(path);
    if (!isSpliceAddon(loaded)) return { addon: undefined, reason: `${path} is not the splice pump` };
    return { addon: loaded, path };
  } catch (err: unknown) {
    return { addon: undefined, reason: `cannot load ${path}: ${err instanceof Error ? err.message : String(err)}` };
  }
}
