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

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = { level, base: { pid: process.pid }, formatters: { level: (label: string) => ({ level: label }) } };
  return destination === undefined ? pino(options) : pino(options, destination);
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
