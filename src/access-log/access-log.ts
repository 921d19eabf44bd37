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
 * Never blocking start or exit (issue 25): a path is opened O_NONBLOCK, so a
 * FIFO with no reader is an error at start (ENXIO, said plainly) instead of
 * an open() that waits forever, and a write to a full pipe returns EAGAIN at
 * once instead of holding a pool thread (which would hold the exit too: Node
 * joins its pool threads when it exits). Stdout, when it is a pipe, is
 * reopened through /proc/self/fd/1 as its own non-blocking file description.
 * At close, what is not written by the deadline (the chunk being retried and
 * everything queued) is counted as dropped and logged.
 *
 * Writes end on line boundaries. To a pipe, a tty or a socket (stdout, `-`)
 * each write is at most PIPE_BUF (4 KiB), which the kernel keeps whole, so
 * lines never interleave with svcproxy's own log lines on the same stdout; to
 * a file, opened with O_APPEND, each write is appended whole even when
 * several workers write the same file.
 */
import { close, constants, fstatSync, openSync, write } from 'node:fs';
import { describeError, errorCode } from '../errors.js';
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

/** Append, create (0644), and never wait: for a FIFO, no reader is ENXIO at once; a full pipe is EAGAIN. */
const OPEN_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NONBLOCK;

function openError(path: string, err: unknown): Error {
  const code = errorCode(err);
  const reason = code === 'ENXIO' ? 'ENXIO: a FIFO with no reader (start its reader first)' : describeError(err);
  return new Error(`--access-log: cannot open ${path}: ${reason}`, { cause: err });
}

/** Stdout as a non-blocking file description of its own when it is a pipe (so fd 1's mode is left alone); else fd 1. */
function stdoutTarget(): AccessLogTarget {
  if (fstatSync(1).isFIFO()) {
    try {
      return { fd: openSync('/proc/self/fd/1', constants.O_WRONLY | constants.O_NONBLOCK), stream: true, owned: true };
    } catch {
      // no /proc: fd 1 as it is
    }
  }
  return { fd: 1, stream: !fstatSync(1).isFile(), owned: false };
}

/**
 * Opens `-` (stdout) or a file for appending (created if missing, mode 0644),
 * non-blocking. Throws with a one-line reason when the path cannot be opened
 * (a FIFO with no reader among them): an error at start.
 */
export function openAccessLog(path: string): AccessLogTarget {
  if (path === '-') return stdoutTarget();
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS, 0o644);
  } catch (err: unknown) {
    throw openError(path, err);
  }
  return { fd, stream: !fstatSync(fd).isFile(), owned: true };
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
  /** Lines of the chunk being written (0 when none). */
  private chunkLines = 0;
  /** A write call is outstanding (it returns promptly: the fd is non-blocking). */
  private inFlight = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Set at the close deadline: nothing more is written; `afterWrite` runs when the outstanding write returns. */
  private abandoned = false;
  private afterWrite: (() => void) | undefined;
  private readonly log: Logger;
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
    this.log = log;
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
    this.chunkLines = lines;
    this.writeAll(data, 0, lines);
  }

  private writeAll(data: Buffer, offset: number, lines: number): void {
    this.inFlight = true;
    write(this.target.fd, data, offset, data.length - offset, null, (err, n) => {
      this.inFlight = false;
      if (this.abandoned) {
        this.afterWrite?.(); // the close deadline passed: this chunk was counted as dropped
        return;
      }
      if (err !== null && err.code === 'EAGAIN') {
        // A non-blocking pipe is full: try the rest again shortly; new lines queue (or drop) meanwhile.
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.writeAll(data, offset, lines);
        }, 20);
        this.retryTimer.unref();
        return;
      }
      if (err === null && offset + n < data.length) {
        this.writeAll(data, offset + n, lines);
        return;
      }
      this.writing = false;
      this.chunkLines = 0;
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
   * must not hold up the exit), then closes the file. What is not written by
   * then (the chunk being retried and the queue) is counted as dropped and
   * logged. Leases that end after this are dropped.
   */
  close(timeoutMs = 2000): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    return new Promise((resolve) => {
      const finish = (): void => {
        if (this.target.owned) close(this.target.fd, () => resolve());
        else resolve();
      };
      const done = (): void => {
        clearTimeout(deadline);
        this.idle = undefined;
        this.abandoned = true;
        clearTimeout(this.retryTimer);
        const unwritten = this.queue.length + this.chunkLines;
        this.dropped += unwritten;
        this.queue = [];
        this.chunkLines = 0;
        this.writing = false;
        if (unwritten > 0) this.log.warn({ droppedLines: unwritten, timeoutMs }, 'access log: lines not written by the exit deadline dropped');
        this.log.info({ written: this.written, dropped: this.dropped }, 'access log closed');
        // The fd is closed only once no write call is using it (a non-blocking write returns at once).
        if (this.inFlight) this.afterWrite = finish;
        else finish();
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
