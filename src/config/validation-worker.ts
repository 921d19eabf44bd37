/**
 * Entry point of the child process that parses and validates a config
 * snapshot (see isolated-validation.ts): receives the file texts over IPC,
 * marks each file on stderr before parsing it, sends the result back, and
 * ends.
 */
import { writeSync } from 'node:fs';
import { PROGRESS_PREFIX, type WorkerInput, type WorkerMessage } from './isolated-validation.js';
import { validateSources } from './validate-sources.js';

function reply(message: WorkerMessage): void {
  process.send?.(message, () => process.disconnect());
}

// The parent went away (it stopped, or gave up on us): nothing left to answer.
process.on('disconnect', () => process.exit(0));
process.once('message', (input: WorkerInput) => {
  try {
    // Written synchronously: the mark is in the pipe before the parser can take the process down.
    const progress = (index: number): void => void writeSync(2, `${PROGRESS_PREFIX}${index}\n`);
    reply({ type: 'result', result: validateSources(input.sources, progress) });
  } catch (err: unknown) {
    // A parser or validator bug: reported against the file being read, never thrown into svcproxy.
    const stackOverflow = err instanceof RangeError && /call stack/i.test(err.message);
    reply({ type: 'failed', message: stackOverflow ? 'nesting too deep (stack overflow)' : err instanceof Error ? err.message : String(err) });
  }
});
