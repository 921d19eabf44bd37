/**
 * The access log: one line per finished connection or UDP flow, written
 * without ever holding up forwarding.
 *
 *   lease ends -> record(): one array push (nothing formatted, no syscall)
 *   every 50 ms, off the data path: format the queued leases, fs.write them in
 *   chunks, one write in flight at a time
 *
 * fs.write runs on libuv's thread pool, so a slow reader of stdout or a slow
 * disk holds at most that one write (and one pool thread), never the event
 * loop. While it is held, leases queue up to `maxQueued`; past that they are
 * dropped and counted (`dropped`, svcproxy_access_log_dropped_lines_total), as
 * are the lines of a write that fails (a full disk, a closed pipe), which is
 * warned about at most every 5 s. A pipe that would block (EAGAIN) is retried.
 *
 * Writes end on line boundaries. To a pipe, a tty or a socket (stdout, `-`)
 * each write is at most PIPE_BUF (4 KiB), which the kernel keeps whole, so
 * lines never interleave with svcproxy's own log lines on the same stdout; to
 * a file, opened with O_APPEND, each write is appended whole even when
 * several workers write the same file.
 */
import { close, fstatSync, openSync, write } from 'node:fs';
import { describeError } from '../errors.js';
import { RateLimitedWarning, type Logger } from '../log.js';
import type { Lease } from '../proxy/lease.js';
import { jsonLine, textLine, type AccessLogFormat, type LineBase } from './format.js';

export interface AccessLogOptions {
  readonly format: AccessLogFormat;
  readonly base: LineBase;
  /** Leases waiting to be written before new ones are dropped. Default 16384. */
  readonly maxQueued?: number;
  /** How often queued lines are written, ms. Default 50. */
  readonly flushMs?: number;
  /** After a failed write, how long before the next one, ms. Default 1000. */
  readonly retryMs?: number;
}

/** Where the lines go: an open fd and whether it is a stream (pipe, tty, socket) rather than a file. */
export interface AccessLogTarget {
  readonly fd: number;
  readonly stream: boolean;
  /** Close the fd when the log closes (not stdout). */
  readonly owned: boolean;
}

/** The kernel writes this much to a pipe in one piece (POSIX PIPE_BUF on Linux). */
const PIPE_BUF = 4096;
/** Largest write to a file. */
const FILE_CHUNK = 64 * 1024;

/**
 * Opens `-` (stdout) or a file for appending (created if missing, mode 0644).
 * Throws with a one-line reason when the file cannot be opened: an error at start.
 */
export function openAccessLog(path: string): AccessLogTarget {
  let fd = 1;
  if (path !== '-') {
    try {
      fd = openSync(path, 'a', 0o644);
    } catch (err: unknown) {
      throw new Error(`--access-log: cannot open ${path}: ${describeError(err)}`, { cause: err });
    }
  }
  const stat = fstatSync(fd);
  return { fd, stream: !stat.isFile(), owned: path !== '-' };
}

export class AccessLog {
  /** Lines written since start. */
  written = 0;
  /** Lines dropped since start: the queue was full, or their write failed. */
  dropped = 0;
  private queue: Lease[] = [];
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private idle: (() => void) | undefined;
  private readonly maxQueued: number;
  private readonly flushMs: number;
  private readonly retryMs: number;
  private readonly chunk: number;
  private readonly warning: RateLimitedWarning;
  private readonly format: (lease: Lease) => string;

  /** The observer to give the proxy (ServicePortContext's onLeaseEnd): call it once per finished lease. */
  readonly record = (lease: Lease): void => {
    if (this.closed || this.queue.length >= this.maxQueued) {
      this.dropped++;
      return;
    }
    this.queue.push(lease);
    this.schedule(this.flushMs);
  };

  constructor(
    private readonly target: AccessLogTarget,
    options: AccessLogOptions,
    log: Logger,
  ) {
    this.maxQueued = options.maxQueued ?? 16384;
    this.flushMs = options.flushMs ?? 50;
    this.retryMs = options.retryMs ?? 1000;
    this.chunk = target.stream ? PIPE_BUF : FILE_CHUNK;
    this.warning = new RateLimitedWarning(log);
    const base = options.base;
    this.format = options.format === 'text' ? textLine : (lease) => jsonLine(lease, base);
  }

  /** Lines waiting to be written. */
  get queued(): number {
    return this.queue.length;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined || this.writing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, delayMs);
    this.timer.unref();
  }

  /** Formats queued leases into one chunk of whole lines, at most `chunk` bytes (a longer line goes alone). */
  private take(): { data: Buffer; lines: number } {
    const parts: string[] = [];
    let bytes = 0;
    let lines = 0;
    while (lines < this.queue.length) {
      const line = `${this.format(this.queue[lines] as Lease)}\n`;
      const size = Buffer.byteLength(line);
      if (lines > 0 && bytes + size > this.chunk) break;
      parts.push(line);
      bytes += size;
      lines++;
    }
    this.queue = this.queue.slice(lines);
    return { data: Buffer.from(parts.join('')), lines };
  }

  private flush(): void {
    if (this.writing) return;
    if (this.queue.length === 0) {
      this.idle?.();
      return;
    }
    this.writing = true;
    const { data, lines } = this.take();
    this.writeAll(data, 0, lines);
  }

  private writeAll(data: Buffer, offset: number, lines: number): void {
    write(this.target.fd, data, offset, data.length - offset, null, (err, n) => {
      if (err !== null && err.code === 'EAGAIN') {
        // A non-blocking pipe is full: try the rest again shortly; new lines queue (or drop) meanwhile.
        setTimeout(() => this.writeAll(data, offset, lines), 20).unref();
        return;
      }
      if (err === null && offset + n < data.length) {
        this.writeAll(data, offset + n, lines);
        return;
      }
      this.writing = false;
      if (err === null) {
        this.written += lines;
        this.schedule(0);
        return;
      }
      this.dropped += lines;
      this.warning.warn({ code: err.code, err: err.message, droppedLines: lines }, 'access log write failed; lines dropped');
      if (this.closed) this.idle?.();
      else this.schedule(this.retryMs);
    });
  }

  /**
   * Writes what is queued (for at most `timeoutMs`: a reader that never reads
   * must not hold up the exit), then closes the file. Leases that end after
   * this are dropped.
   */
  close(timeoutMs = 2000): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(deadline);
        this.idle = undefined;
        this.dropped += this.queue.length;
        this.queue = [];
        if (this.target.owned) close(this.target.fd, () => resolve());
        else resolve();
      };
      const deadline = setTimeout(done, timeoutMs);
      this.idle = () => {
        if (this.queue.length === 0 && !this.writing) done();
        else if (!this.writing) this.flush();
      };
      if (!this.writing) this.flush();
    });
  }
}
