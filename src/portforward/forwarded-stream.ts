/**
 * One forwarded connection as the JS pump and the toxic pump see an
 * endpoint's socket (proxy/forwarded.ts UpstreamSocket): a Duplex over the
 * pair of SPDY streams kubectl's protocol opens per connection, the data
 * stream and the error stream.
 *
 *   pump --write--> [ForwardedStream] --DATA--> data stream --> kubelet --> Pod:port
 *   pump <--data--- [ForwardedStream] <--DATA-- data stream
 *   end()            -> an empty DATA with FLAG_FIN (half-close)
 *   resetAndDestroy  -> RST_STREAM on both streams
 *   peer FIN         -> 'end';  peer RST / session dropped -> 'error' (ECONNRESET)
 *   text on the error stream -> 'error' (E_PORTFORWARD), the kubelet's words as the message
 *
 * Backpressure both ways: a full Readable buffer pauses the data stream
 * (whose session then stops reading its transport once the stream's own
 * buffer is full); a write the data stream cannot take waits for its drain.
 * The idle and half-close deadlines (setTimeout) count activity per chunk
 * and look at it when the timer fires, so a busy stream costs one integer
 * increment per chunk, not a timer reset.
 */
import { Duplex } from 'node:stream';
import type { SpdyStream } from '../spdy/stream.js';
import type { UpstreamSocket } from '../proxy/forwarded.js';

/** The most of the error stream's text that is kept (the kubelet writes one line). */
const MAX_ERROR_TEXT = 1024;
/** After a clean end, how long the kubelet has to close the error stream before it is reset. */
const ERROR_STREAM_GRACE_MS = 10_000;

/** A port-forward failure reported by the kubelet on the error stream, or a stream that could not be opened. */
export class PortForwardError extends Error {
  override readonly name = 'PortForwardError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The error a reset stream or a dropped session destroys the adapter with. */
function connectionReset(cause: Error): Error {
  return new PortForwardError('ECONNRESET', `port-forward stream reset: ${cause.message}`);
}

export class ForwardedStream extends Duplex implements UpstreamSocket {
  /** Payload bytes received from the Pod. */
  bytesRead = 0;
  /** Payload bytes sent to the Pod. */
  bytesWritten = 0;
  private activity = 0;
  private timeoutMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private seenActivity = 0;
  private errorText = '';
  private readonly onEnd: (stream: ForwardedStream) => void;

  constructor(
    private readonly data: SpdyStream,
    private readonly errorStream: SpdyStream,
    /** Told once when the adapter is destroyed: the pool's stream count and byte totals. */
    onEnd: (stream: ForwardedStream) => void,
  ) {
    super({ allowHalfOpen: true, highWaterMark: 64 * 1024 });
    this.onEnd = onEnd;
    data.on('data', (chunk: Buffer) => {
      this.bytesRead += chunk.length;
      this.activity++;
      if (!this.push(chunk)) data.pause();
    });
    data.on('end', () => this.push(null));
    data.on('error', (err: Error) => this.destroy(this.failure(err)));
    data.on('close', () => {
      // Closed both ways without an error: the adapter's own end follows its readers' and writers' ends.
      if (!this.destroyed && this.writableFinished && this.readableEnded) this.destroy();
    });
    errorStream.on('data', (chunk: Buffer) => {
      if (this.errorText.length < MAX_ERROR_TEXT) this.errorText += chunk.toString('utf8', 0, Math.min(chunk.length, MAX_ERROR_TEXT));
    });
    errorStream.on('end', () => {
      // The kubelet closes the error stream when the forward ends; text on it means the forward failed.
      if (this.errorText !== '' && !this.destroyed) this.destroy(new PortForwardError('E_PORTFORWARD', this.errorText.slice(0, MAX_ERROR_TEXT)));
    });
    errorStream.on('error', () => undefined); // its reset is the data stream's too, or nothing to us
    this.on('end', () => this.maybeClose());
    this.on('finish', () => this.maybeClose());
  }

  /** What the kubelet wrote on the error stream so far ('' when nothing). */
  get kubeletError(): string {
    return this.errorText;
  }

  /** Both directions done: the adapter closes (as a net.Socket does after end and 'end'). */
  private maybeClose(): void {
    if (this.readableEnded && this.writableFinished && !this.destroyed) this.destroy();
  }

  /** A data stream error: the kubelet's text when it wrote one, else a reset. */
  private failure(err: Error): Error {
    if (this.errorText !== '') return new PortForwardError('E_PORTFORWARD', this.errorText.slice(0, MAX_ERROR_TEXT));
    return connectionReset(err);
  }

  override _read(): void {
    this.data.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    // A zero-length write is pump.ts's probe of a paused reader: nothing to send.
    if (chunk.length === 0) {
      callback();
      return;
    }
    this.bytesWritten += chunk.length;
    this.activity++;
    if (this.data.write(chunk)) callback();
    else this.data.once('drain', () => callback());
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.data.end(); // SPDY FIN: the half-close travels to the Pod
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const { data, errorStream } = this;
    if (err === null && data.readableEnded) {
      // The Pod's side has ended and ours ends now: a FIN, as a net.Socket's close sends one. The kubelet
      // then closes the error stream; one that lingers is reset after a grace period.
      if (!data.writableEnded && !data.destroyed) data.end();
      if (!errorStream.destroyed) setTimeout(() => errorStream.destroyed || errorStream.reset(), ERROR_STREAM_GRACE_MS).unref();
    } else {
      // Not finished both ways: a reset, so that the kubelet ends its side of the forward at once.
      if (!data.destroyed) data.reset();
      if (!errorStream.destroyed) errorStream.reset();
    }
    this.onEnd(this);
    callback(err);
  }

  /** RST to the Pod's side (RST_STREAM on both streams), as net.Socket's resetAndDestroy sends RST. */
  resetAndDestroy(): this {
    if (!this.data.destroyed) this.data.reset();
    if (!this.errorStream.destroyed) this.errorStream.reset();
    this.destroy();
    return this;
  }

  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** 'timeout' once nothing moved either way for `ms` (0 disarms), as net.Socket's. */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback !== undefined) this.once('timeout', callback);
    this.timeoutMs = ms;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (ms > 0 && !this.destroyed) {
      this.seenActivity = this.activity;
      this.timer = setTimeout(() => this.checkIdle(), ms);
    }
    return this;
  }

  private checkIdle(): void {
    this.timer = undefined;
    if (this.destroyed || this.timeoutMs <= 0) return;
    if (this.activity !== this.seenActivity) {
      // Something moved since: look again one period later (fires between ms and 2 ms after the last chunk).
      this.seenActivity = this.activity;
      this.timer = setTimeout(() => this.checkIdle(), this.timeoutMs);
      return;
    }
    this.emit('timeout');
  }
}
