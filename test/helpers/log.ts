import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.js';

export interface LogRecord {
  readonly level: string;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** A real pino logger writing into an array, so tests can assert what was logged. */
export function captureLogger(level: 'debug' | 'info' | 'warn' = 'debug'): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') records.push(JSON.parse(line) as LogRecord);
      }
      callback();
    },
  });
  return { log: createLogger(level, sink), records };
}

export const silentLog: Logger = createLogger('silent');
