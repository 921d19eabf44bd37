/**
 * Reads one watch response line by line until it ends: cleanly (resolves), or cut, silent for too long,
 * a line over the limit, or a line the caller refuses by throwing (rejects, and the response is destroyed).
 */
import type { IncomingMessage } from 'node:http';
import { errorMessage } from '../errors.js';
import type { KubeClock } from './types.js';
import { LineSplitter, LineTooLong } from './watch-lines.js';

export interface WatchStreamOptions {
  readonly clock: KubeClock;
  /** No byte for this long aborts the watch. */
  readonly silenceMs: number;
  readonly maxLineBytes: number;
  /** Each chunk received (contact with the server). */
  readonly onData: () => void;
  /** Each complete line; a throw ends the watch with that error. */
  readonly onLine: (line: string) => void;
  /** A line refused by the reader itself: over the limit, or truncated at the end. */
  readonly onRefused: (reason: string, line: string) => void;
}

export function readWatch(res: IncomingMessage, controller: AbortController, options: WatchStreamOptions): Promise<void> {
  const { clock, silenceMs } = options;
  const splitter = new LineSplitter(options.maxLineBytes);
  return new Promise<void>((resolve, reject) => {
    let timer: unknown;
    let done = false;
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      clock.clearTimeout(timer);
      if (err === undefined) resolve();
      else {
        controller.abort();
        res.destroy();
        reject(err instanceof Error ? err : new Error(errorMessage(err)));
      }
    };
    const arm = (): void => {
      clock.clearTimeout(timer);
      timer = clock.setTimeout(() => finish(new Error(`the watch was silent for ${silenceMs} ms`)), silenceMs);
    };
    res.on('data', (chunk: Buffer) => {
      if (done) return;
      arm();
      options.onData();
      try {
        for (const line of splitter.push(chunk)) if (!done) options.onLine(line);
      } catch (err) {
        if (err instanceof LineTooLong) options.onRefused(err.message, '');
        finish(err);
      }
    });
    res.on('end', () => {
      const rest = splitter.end();
      if (rest !== '') options.onRefused('truncated line at the end of the watch', rest);
      finish();
    });
    res.on('error', (err) => finish(err));
    res.on('close', () => finish(res.complete ? undefined : new Error('the watch connection was cut')));
    arm();
  });
}
