/**
 * Entry point of the worker thread that parses and validates a config
 * snapshot (see isolated-validation.ts). Receives the file texts as
 * workerData, marks the file it is on in shared memory, posts the result,
 * and ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerMessage, WorkerInput } from './isolated-validation.js';
import { validateSources } from './validate-sources.js';

const port = parentPort;
if (port !== null) {
  const input = workerData as WorkerInput;
  const progress = new Int32Array(input.progress);
  const post = (message: WorkerMessage): void => port.postMessage(message);
  try {
    post({ type: 'result', result: validateSources(input.sources, (index) => Atomics.store(progress, 0, index + 1)) });
  } catch (err: unknown) {
    // A parser or validator bug: reported against the file being read, never thrown into the main thread.
    const stackOverflow = err instanceof RangeError && /call stack/i.test(err.message);
    post({ type: 'failed', message: stackOverflow ? 'nesting too deep (stack overflow)' : err instanceof Error ? err.message : String(err) });
  }
}
