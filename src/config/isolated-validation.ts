/**
 * Parses and validates a snapshot in a separate Node process with its own
 * heap limit and a time limit, so that whatever a file holds (a
 * stack-overflowing document, an alias bomb, a parser bug, something that
 * takes forever or eats memory) ends as one problem line against that file,
 * while the event loop that carries traffic goes on serving the last good
 * config.
 *
 * A process, not a worker thread: a worker that reaches its
 * `resourceLimits` heap is meant to be stopped alone, but a large
 * allocation can overshoot the limit before the stop lands, and V8 then
 * aborts the whole process (nodejs/node#47224; seen here with a 4 MB
 * document under 48 MB and 96 MB limits, about 1 run in 10). A child's
 * out-of-memory abort ends only the child. `--max-old-space-size` on the
 * command line would also silently override a worker's limit
 * (nodejs/node#43991); a child is given its own.
 *
 * One fresh process per changed snapshot: it starts cold every time (the
 * outcome never depends on how warm a long-lived parser has become), nothing
 * it allocated outlives it, and killing it on a time-out needs no
 * bookkeeping. It costs about 0.1 s per changed snapshot, off the data path.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ConfigIssue } from './types.js';
import type { ConfigSource } from './validate-sources.js';
import type { ValidationResult } from './validate.js';

export interface WorkerInput {
  readonly sources: readonly ConfigSource[];
}

/** What the validation process sends back: a result, or a failure it caught. */
export type WorkerMessage = { readonly type: 'result'; readonly result: ValidationResult } | { readonly type: 'failed'; readonly message: string };

/**
 * The line the validation process writes (synchronously, on stderr) before
 * parsing file N (N = sources.length once all are parsed): it is in the
 * pipe before the parser starts, so a death is blamed on the right file.
 */
export const PROGRESS_PREFIX = 'svcproxy-validation-progress ';

export interface ValidationLimits {
  /** The process's old-generation heap (`--max-old-space-size`); past it, the snapshot is refused. */
  readonly heapMb: number;
  /** Wall-clock budget for starting, parsing and validating the whole snapshot. */
  readonly timeLimitMs: number;
}

/**
 * Room for the largest snapshot the reader lets through (MAX_SNAPSHOT_BYTES
 * of YAML takes about 20x its size while parsed, one file at a time), on a
 * slow, shared machine.
 */
export const DEFAULT_LIMITS: ValidationLimits = { heapMb: 512, timeLimitMs: 60_000 };

const SCRIPT = fileURLToPath(new URL('./validation-worker.js', import.meta.url));
/** Enough of the process's stderr to recognise how it died. */
const STDERR_KEEP = 16 * 1024;

const EMPTY: ValidationResult = {
  snapshot: { services: [], endpoints: [], endpointSlices: [], pods: [], workloads: [], bindings: [], faults: [] },
  issues: [],
  notes: [],
  ignored: {},
};

/**
 * Validates `sources` in a child process. Never rejects: every way the
 * process can fail becomes an issue naming the file it was reading (or
 * `blame`, the config paths, when it failed outside any file).
 */
export function validateIsolated(sources: readonly ConfigSource[], blame: string, limits: ValidationLimits = DEFAULT_LIMITS): Promise<ValidationResult> {
  if (sources.length === 0) return Promise.resolve(EMPTY);
  return new Promise((resolve) => {
    let settled = false;
    let stderr = '';
    let index = -1;
    // NODE_OPTIONS is the operator's for svcproxy (a heap size, an APM agent's --import), not for the parser.
    const { NODE_OPTIONS: _ignored, ...env } = process.env;
    const child = fork(SCRIPT, [], {
      execArgv: [`--max-old-space-size=${limits.heapMb}`],
      env,
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const finish = (result: ValidationResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const fail = (reason: string): void => {
      const file = sources[index]?.file ?? blame;
      const issue: ConfigIssue = { where: file, object: '', path: '', message: `could not be parsed: ${reason}` };
      finish({ ...EMPTY, issues: [issue] });
    };
    const timer = setTimeout(() => fail(`not done within ${limits.timeLimitMs / 1000} s (time limit)`), limits.timeLimitMs);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
      for (const match of stderr.matchAll(new RegExp(`^${PROGRESS_PREFIX}(\\d+)$`, 'gm'))) index = Number(match[1]);
    });
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'result') finish(message.result);
      else fail(message.message);
    });
    child.on('error', (err) => fail(`the validation process failed: ${err.message}`));
    child.on('close', (code, signal) => {
      if (/heap out of memory|heap limit/i.test(stderr)) fail(`needs more than ${limits.heapMb} MB of memory (limit)`);
      else fail(`the validation process ended (${signal ?? `exit code ${code}`}) without an answer`);
    });
    const input: WorkerInput = { sources };
    child.send(input, (err) => {
      if (err !== null) fail(`the validation process could not be given the files: ${err.message}`);
    });
  });
}
