/**
 * A stand-in for the splice addon that takes every hand-off and moves no
 * bytes: a test sees which connections were handed to the native pump and
 * ends them when it likes. Real sockets stay real; only the epoll thread is
 * replaced.
 */
import type { NativeThreadStats, SpliceAddon } from '../../src/native/splice-addon.js';

export interface FakeAddon {
  readonly addon: SpliceAddon;
  /** Slots handed off, in order. */
  readonly adopted: number[];
  /** Reports a slot's end as the thread would: an endpoint FIN, with the bytes copied each way. */
  readonly end: (slot: number, bytesFromDownstream?: number, bytesFromUpstream?: number) => void;
}

/** An endpoint FIN in the addon's end codes (1-based: nativeEnd in src/native/splice-addon.ts). */
const END_ENDPOINT_FIN = 2;

export function fakeAddon(): FakeAddon {
  let onDone: (slot: number, end: number, errno: number, down: number, up: number) => void = () => undefined;
  const adopted: number[] = [];
  const stats: NativeThreadStats = { connections: 0, pipes: 0, sparePipes: 0, pipeFailures: 0, copiedChunks: 0 };
  const addon: SpliceAddon = {
    start: (_counters, _maxPipes, _spare, done) => {
      onDone = done;
    },
    adopt: (_down, _up, slot) => {
      adopted.push(slot);
      return '';
    },
    abort: () => undefined,
    stats: () => stats,
  };
  return { addon, adopted, end: (slot, down = 0, up = 0) => onDone(slot, END_ENDPOINT_FIN, 0, down, up) };
}
