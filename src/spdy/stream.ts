/**
 * One SPDY stream as a Node Duplex, so the carrier's pumps treat it as they treat a socket: write() -> DATA,
 * end() -> an empty DATA with FLAG_FIN (half-close, as spdystream's Close()), a peer's FIN -> 'end', a peer's
 * RST_STREAM -> destroy(err) with err.code 'ECONNRESET'. Like a socket it needs an 'error' listener.
 * The session owns the wire; the stream only asks it through StreamHost (so this file does not import session.ts).
 */
import { Duplex } from 'node:stream';
import { SpdyStreamError } from './errors.js';
import { RstStatus } from './frames.js';
import type { SpdyHeaders } from './header-block.js';

/** What a stream needs from its session. */
export interface StreamHost {
  readonly closed: boolean;
  /** DATA frames for the chunks (split at the frame limit); false: wait for whenDrained() before writing more. */
  writeData(stream: SpdyStream, chunks: readonly Buffer[]): boolean;
  writeFin(stream: SpdyStream): void;
  writeReply(stream: SpdyStream, headers: SpdyHeaders): void;
  writeReset(stream: SpdyStream, status: number): void;
  whenDrained(callback: () => void): void;
  /** The stream is done with the session (both FINs, a reset, or destroyed): forget it. */
  streamDone(stream: SpdyStream): void;
  /** The stream's reader wants more: the session may read the transport again. */
  readResumed(stream: SpdyStream): void;
}

export interface StreamOptions {
  readonly id: number;
  readonly headers: SpdyHeaders;
  /** True for streams this side opened (they get a SYN_REPLY); false for the peer's (we send one). */
  readonly local: boolean;
  readonly highWaterMark: number;
}

export class SpdyStream extends Duplex {
  readonly id: number;
  readonly headers: SpdyHeaders;
  readonly local: boolean;
  private _bytesRead = 0;
  /** Ours: a SYN_REPLY came. The peer's: we sent ours (DATA may not go before it, spdystream drops it). */
  private replied = false;
  private localFin = false;
  private remoteFin = false;
  private resetSent = false;
  private peerReset: Error | undefined;
  private afterReply: (() => void) | undefined;

  constructor(
    private readonly host: StreamHost,
    options: StreamOptions,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: options.highWaterMark, emitClose: true, autoDestroy: true });
    this.id = options.id;
    this.headers = options.headers;
    this.local = options.local;
  }

  /** DATA payload bytes received. */
  get bytesRead(): number {
    return this._bytesRead;
  }

  /** Both halves are done: nothing more goes either way and no RST is owed. */
  get fullyClosed(): boolean {
    return this.localFin && this.remoteFin;
  }

  /** Server side: SYN_REPLY; writes made before it go out after it. Once; later calls do nothing. */
  reply(headers: SpdyHeaders): void {
    if (this.local || this.replied || this.destroyed || this.host.closed) return;
    this.replied = true;
    this.host.writeReply(this, headers);
    const next = this.afterReply;
    this.afterReply = undefined;
    next?.();
  }

  /** RST_STREAM (default CANCEL) and destroy locally, with no 'error' event. */
  reset(status: number = RstStatus.CANCEL): void {
    if (!this.resetSent && !this.fullyClosed && this.peerReset === undefined && !this.host.closed) {
      this.resetSent = true;
      this.host.writeReset(this, status);
    }
    this.destroy();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.send([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.send(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.canSend(() => this._final(callback), callback)) return;
    if (!this.localFin) {
      this.localFin = true;
      this.host.writeFin(this);
    }
    if (this.remoteFin) this.host.streamDone(this);
    callback();
  }

  override _read(): void {
    this.host.readResumed(this);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.fullyClosed && !this.resetSent && this.peerReset === undefined && !this.host.closed) {
      this.resetSent = true;
      this.host.writeReset(this, RstStatus.CANCEL);
    }
    this.afterReply = undefined;
    this.host.streamDone(this);
    callback(error);
  }

  private send(chunks: readonly Buffer[], callback: (error?: Error | null) => void): void {
    if (!this.canSend(() => this.send(chunks, callback), callback)) return;
    if (this.localFin) {
      callback(new SpdyStreamError(`spdy stream ${this.id}: write after the peer said it takes no data`));
      return;
    }
    if (this.host.writeData(this, chunks)) callback();
    else this.host.whenDrained(() => callback());
  }

  /** False when the write must wait for reply() (retry is queued) or fails (callback called with the error). */
  private canSend(retry: () => void, callback: (error?: Error | null) => void): boolean {
    if (this.peerReset !== undefined || this.host.closed) {
      callback(this.peerReset ?? new SpdyStreamError(`spdy stream ${this.id}: session closed`));
      return false;
    }
    if (!this.local && !this.replied) {
      this.afterReply = retry;
      return false;
    }
    return true;
  }

  // What the session tells the stream about the peer.

  /** A piece of DATA; false when the reader is behind (the session holds the transport). */
  onData(piece: Buffer): boolean {
    this._bytesRead += piece.length;
    return this.push(piece) && this.readableLength < this.readableHighWaterMark;
  }

  get finReceived(): boolean {
    return this.remoteFin;
  }

  onRemoteFin(): void {
    if (this.remoteFin) return;
    this.remoteFin = true;
    this.push(null);
    if (this.localFin) this.host.streamDone(this);
  }

  onReply(headers: SpdyHeaders, fin: boolean): void {
    if (this.replied) return;
    this.replied = true;
    this.emit('reply', headers);
    if (fin) this.onRemoteFin();
  }

  /** The peer may not be sent anything (FLAG_UNIDIRECTIONAL, or our SYN_STREAM carried FIN). */
  markLocalFin(): void {
    this.localFin = true;
  }

  /** RST_STREAM from the peer, or the session gone: what was received before a FIN is still read, then the error. */
  abort(error: Error): void {
    if (this.destroyed) return;
    this.peerReset = error;
    if (this.remoteFin && !this.readableEnded) {
      this.once('end', () => this.destroy(error));
      return;
    }
    this.destroy(error);
  }
}
