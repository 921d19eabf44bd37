/**
 * The root pino logger: JSON lines on stdout, the level as its name
 * (`"level":"info"`, what log shippers and people read; pino's default is a
 * number). The destination is injectable so tests can read what was logged. Per-listener children are created once
 * (pino serializes bindings at child() time), and the hot path logs only at
 * debug, which pino turns into a no-op when disabled.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * stdout, written asynchronously so a slow reader never blocks the event
 * loop, with at most 4 MiB waiting (more is dropped rather than held without
 * bound). `minLength: 1` writes every line at once, as pino's default does,
 * and makes flush() wait for the write in flight (see exitAfterLogFlush).
 */
function stdoutDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: 1, maxLength: 4 * 1024 * 1024 });
}

export function createLogger(level: LogLevel, destination: DestinationStream = stdoutDestination()): Logger {
  const options = { level, base: { pid: process.pid }, formatters: { level: (label: string) => ({ level: label }) } };
  return pino(options, destination);
}

/**
 * Exits once the log's pending lines are written (at most `waitMs`). Without
 * it, pino writes them at exit with sonic-boom's flushSync, which loops
 * forever on EPIPE (sonic-boom 4.2: it retries every error but EAGAIN): a
 * svcproxy whose stdout reader had gone (`svcproxy | head`) spun at 100 % CPU
 * on SIGTERM instead of exiting. The asynchronous flush meets the EPIPE as an
 * 'error' event, on which pino drops further output, so the exit is clean.
 */
export function exitAfterLogFlush(log: Logger, code: number, waitMs = 1000): void {
  const exit = (): never => process.exit(code);
  setTimeout(exit, waitMs);
  log.flush(() => exit());
}

/**
 * Logs a warning at most once per `intervalMs`, counting what it held back,
 * so a flood of failing connections yields a few lines, not one per connection.
 */
export class RateLimitedWarning {
  private last = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 5000,
  ) {}

  warn(fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.last = now;
    this.log.warn({ ...fields, suppressed: this.suppressed }, msg);
    this.suppressed = 0;
  }
}
