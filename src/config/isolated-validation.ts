/**
 * Parses and validates a snapshot in a worker thread with its own heap,
 * stack and time budget, so that whatever a file holds (a stack-overflowing
 * document, an alias bomb, a parser bug, something that takes forever) ends
 * as one problem line against that file, while the event loop that carries
 * traffic goes on serving the last good config.
 *
 * One fresh worker per snapshot: it starts cold every time (the outcome of
 * a reload does not depend on how warm a long-lived parser has become), it
 * cannot leak memory from one reload into the next, and terminating it on a
 * time-out needs no bookkeeping. It costs a few tens of milliseconds per
 * changed snapshot, off the data path.
 */
import { Worker } from 'node:worker_threads';
import type { ConfigIssue } from './types.js';
import type { ConfigSource } from './validate-sources.js';
import type { ValidationResult } from './validate.js';

export interface WorkerInput {
  readonly sources: readonly ConfigSource[];
  /**
   * One Int32 the worker sets, before parsing each file, to that file's
   * index + 1 (sources.length + 1 once all are parsed). Shared memory rather
   * than a message, so that it is read at once when the worker dies,
   * whatever order its last messages and its death are reported in.
   */
  readonly progress: SharedArrayBuffer;
}

/** What the worker posts: a result or a failure. */
export type WorkerMessage = { readonly type: 'result'; readonly result: ValidationResult } | { readonly type: 'failed'; readonly message: string };

export interface ValidationLimits {
  /** The worker's old-generation heap; past it, the snapshot is refused. */
  readonly heapMb: number;
  /** The worker's stack (V8 default is about 1 MB on the main thread). */
  readonly stackMb: number;
  /** Wall-clock budget for parsing and validating the whole snapshot. */
  readonly timeLimitMs: number;
}

/**
 * Room for the largest snapshot the reader lets through (MAX_SNAPSHOT_BYTES
 * of YAML takes about 20x its size while parsed, one file at a time), on a
 * slow, shared machine.
 */
export const DEFAULT_LIMITS: ValidationLimits = { heapMb: 512, stackMb: 4, timeLimitMs: 60_000 };

const WORKER_URL = new URL('./validation-worker.js', import.meta.url);

const EMPTY: ValidationResult = {
  snapshot: { services: [], endpoints: [], endpointSlices: [], pods: [], workloads: [] },
  issues: [],
  notes: [],
  ignored: {},
};

/**
 * Validates `sources` in a worker. Never rejects: every way the worker can
 * fail becomes an issue naming the file it was reading (or `blame`, the
 * config path, when it failed between files).
 */
export function validateIsolated(sources: readonly ConfigSource[], blame: string, limits: ValidationLimits = DEFAULT_LIMITS): Promise<ValidationResult> {
  if (sources.length === 0) return Promise.resolve(EMPTY);
  return new Promise((resolve) => {
    let settled = false;
    const progress = new SharedArrayBuffer(4);
    const input: WorkerInput = { sources, progress };
    const worker = new Worker(WORKER_URL, {
      workerData: input,
      // Not the parent's --import/--require preloads (an APM agent, a test runner's hooks): the worker only parses.
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: limits.heapMb, stackSizeMb: limits.stackMb },
      stdout: false,
      stderr: false,
    });
    const finish = (result: ValidationResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
      void worker.terminate();
    };
    const fail = (reason: string): void => {
      const file = sources[Atomics.load(new Int32Array(progress), 0) - 1]?.file ?? blame;
      const issue: ConfigIssue = { where: file, object: '', path: '', message: `could not be parsed: ${reason}` };
      finish({ ...EMPTY, issues: [issue] });
    };
    const timer = setTimeout(() => fail(`not done within ${limits.timeLimitMs / 1000} s (time limit)`), limits.timeLimitMs);
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'result') finish(message.result);
      else fail(message.message);
    });
    worker.on('error', (err: unknown) => {
      const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : '';
      if (code === 'ERR_WORKER_OUT_OF_MEMORY') fail(`needs more than ${limits.heapMb} MB of memory (limit)`);
      else if (err instanceof RangeError && /call stack/i.test(err.message)) fail('nesting too deep (stack overflow)');
      else fail(err instanceof Error ? err.message : String(err));
    });
    worker.on('exit', (code) => fail(`the validation worker stopped (exit code ${code})`));
  });
}
