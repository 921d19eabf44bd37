/**
 * A SPDY/3.1 session over one transport (a TLS socket after an HTTP upgrade, or a WebSocket tunnel), in either role:
 * the client opens odd stream ids, the server even ones. It speaks what moby/spdystream (kubectl, the kubelet)
 * speaks and no more: streams opened with SYN_STREAM and answered with SYN_REPLY, DATA with FIN for half-close,
 * RST_STREAM, PING (answered), GOAWAY. Flow control is not done, as spdystream does not do it: WINDOW_UPDATE and
 * SETTINGS are ignored and nothing ever waits for a window. Backpressure instead: a stream whose reader is behind
 * holds the transport (this session only) until it drains.
 * Nothing from the peer can throw out of here: a frame that breaks the protocol closes the session with a
 * SpdyProtocolError ('close' event), and only this session.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { SpdyProtocolError, SpdyStreamError } from './errors.js';
import { FrameReader, type FrameSink } from './frame-reader.js';
import {
  type ControlFrame,
  dataFrameHeader,
  encodeGoAway,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  encodeSynStream,
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  GoAwayStatus,
  RstStatus,
} from './frames.js';
import { decodeHeaderBlock, encodeHeaderBlock, HeaderCompressor, HeaderDecompressor, type SpdyHeaders } from './header-block.js';
import { resolveLimits, type SpdyLimits } from './limits.js';
import { SpdyStream, type StreamHost } from './stream.js';

export interface SpdySessionOptions {
  /** The client opens odd stream ids and PINGs, the server even ones. */
  readonly role: 'client' | 'server';
  readonly transport: Duplex;
  readonly limits?: Partial<SpdyLimits>;
}

const MAX_STREAM_ID = 0x7fffffff;
/** How long a GOAWAY after a protocol error may take to leave before the transport is destroyed anyway. */
const GOAWAY_LINGER_MS = 1000;

interface PendingPing {
  readonly started: number;
  readonly resolve: (ms: number) => void;
  readonly reject: (err: Error) => void;
}

export class SpdySession extends EventEmitter implements StreamHost, FrameSink {
  private readonly transport: Duplex;
  private readonly limits: SpdyLimits;
  private readonly parity: number;
  private readonly streams = new Map<number, SpdyStream>();
  private readonly reader: FrameReader;
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor: HeaderDecompressor;
  private readonly pings = new Map<number, PendingPing>();
  /** Streams whose reader is behind: while any is, the transport is held. */
  private readonly behind = new Set<SpdyStream>();
  private drainWaiters: Array<() => void> = [];
  /** Our answers (PING, RST) wait in the transport: read no more until it drains, or a peer could grow them. */
  private answersBacklogged = false;
  private nextStreamId: number;
  private nextPingId: number;
  private lastPeerStreamId = 0;
  private goingAway = false;
  private peerGoneAway = false;
  private isClosed = false;

  constructor(options: SpdySessionOptions) {
    super();
    this.transport = options.transport;
    this.limits = resolveLimits(options.limits);
    this.parity = options.role === 'client' ? 1 : 0;
    this.nextStreamId = options.role === 'client' ? 1 : 2;
    this.nextPingId = this.nextStreamId;
    this.decompressor = new HeaderDecompressor(this.limits.maxHeaderBytes);
    this.reader = new FrameReader(this, this.limits);
    this.transport.on('data', (chunk: Buffer) => this.guard(() => this.reader.push(chunk)));
    this.transport.on('drain', () => this.onDrain());
    this.transport.on('end', () => this.close(undefined));
    this.transport.on('error', (err: Error) => this.close(err));
    this.transport.on('close', () => this.close(undefined));
  }

  get openStreams(): number {
    return this.streams.size;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** SYN_STREAM; the stream emits 'reply' (SYN_REPLY headers) or is destroyed with an error (RST_STREAM, GOAWAY). */
  openStream(headers: SpdyHeaders, options?: { readonly fin?: boolean }): SpdyStream {
    const why = this.refuseToOpen();
    const id = why === undefined ? this.nextStreamId : 0;
    const stream = new SpdyStream(this, { id, headers, local: true, highWaterMark: this.limits.maxBufferedBytesPerStream });
    if (why !== undefined) {
      process.nextTick(() => stream.destroy(new SpdyStreamError(`spdy: cannot open a stream: ${why}`)));
      return stream;
    }
    this.nextStreamId += 2;
    this.streams.set(id, stream);
    const fin = options?.fin === true;
    this.writeRaw(encodeSynStream(id, fin ? FLAG_FIN : 0, this.compressor.compress(encodeHeaderBlock(headers))));
    if (fin) {
      stream.markLocalFin();
      stream.end();
    }
    return stream;
  }

  /** PING; resolves with the round trip in ms, rejects when the session closes first. */
  ping(): Promise<number> {
    if (this.isClosed) return Promise.reject(new SpdyStreamError('spdy: session closed'));
    const id = this.nextPingId;
    this.nextPingId = id + 2 > MAX_STREAM_ID ? this.parity || 2 : id + 2;
    return new Promise((resolve, reject) => {
      this.pings.set(id, { started: performance.now(), resolve, reject });
      this.writeRaw(encodePing(id));
    });
  }

  /** GOAWAY: no new streams either way; the session ends when its streams have. */
  goAway(): void {
    if (this.isClosed || this.goingAway) return;
    this.goingAway = true;
    this.writeRaw(encodeGoAway(this.lastPeerStreamId, GoAwayStatus.OK));
    this.endIfIdle();
  }

  /** Ends the transport now; every open stream is destroyed with an error whose code is 'ECONNRESET'. */
  destroy(err?: Error): void {
    this.close(err);
  }

  private refuseToOpen(): string | undefined {
    if (this.isClosed) return 'the session is closed';
    if (this.goingAway || this.peerGoneAway) return 'the session is going away';
    if (this.nextStreamId > MAX_STREAM_ID) return 'stream ids are used up';
    if (this.streams.size >= this.limits.maxConcurrentStreams) return `${this.streams.size} streams open, the limit`;
    return undefined;
  }

  // StreamHost: what the streams ask of the wire.

  writeData(stream: SpdyStream, chunks: readonly Buffer[]): boolean {
    if (this.isClosed) return true;
    const max = this.limits.maxDataFrameBytes;
    const t = this.transport;
    // One writev for all the frames: the payloads go as they are, only the 8-byte headers are new.
    t.cork();
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.length; at += max) {
        const piece = at === 0 && chunk.length <= max ? chunk : chunk.subarray(at, at + max);
        t.write(dataFrameHeader(stream.id, 0, piece.length));
        t.write(piece);
      }
    }
    t.uncork();
    return !t.writableNeedDrain;
  }

  writeFin(stream: SpdyStream): void {
    this.writeRaw(dataFrameHeader(stream.id, FLAG_FIN, 0));
  }

  writeReply(stream: SpdyStream, headers: SpdyHeaders): void {
    this.writeRaw(encodeSynReply(stream.id, 0, this.compressor.compress(encodeHeaderBlock(headers))));
  }

  writeReset(stream: SpdyStream, status: number): void {
    if (stream.id !== 0) this.writeRaw(encodeRstStream(stream.id, status));
  }

  whenDrained(callback: () => void): void {
    if (this.isClosed || !this.transport.writableNeedDrain) {
      process.nextTick(callback);
      return;
    }
    this.drainWaiters.push(callback);
  }

  streamDone(stream: SpdyStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    if (this.behind.delete(stream)) this.updateFlow();
    this.endIfIdle();
  }

  readResumed(stream: SpdyStream): void {
    if (this.behind.delete(stream)) this.updateFlow();
  }

  // FrameSink: what the peer sent.

  data(streamId: number, piece: Buffer, fin: boolean): void {
    const stream = this.streams.get(streamId);
    // A stream we reset or never had: its DATA may still be on the way, and is dropped (as spdystream does).
    if (stream === undefined) return;
    if (stream.finReceived) {
      this.streams.delete(streamId);
      this.answer(encodeRstStream(streamId, RstStatus.STREAM_ALREADY_CLOSED));
      stream.abort(new SpdyStreamError(`spdy stream ${streamId}: DATA after FIN`, RstStatus.STREAM_ALREADY_CLOSED));
      return;
    }
    if (piece.length > 0 && !stream.onData(piece)) {
      this.behind.add(stream);
      this.updateFlow();
    }
    if (fin) stream.onRemoteFin();
  }

  control(frame: ControlFrame): void {
    switch (frame.kind) {
      case 'syn_stream':
        return this.onSynStream(frame.streamId, frame.flags, this.headersOf(frame.headerBlock));
      case 'syn_reply':
      case 'headers': {
        const headers = this.headersOf(frame.headerBlock);
        const stream = this.streams.get(frame.streamId);
        if (stream === undefined) return;
        if (frame.kind === 'syn_reply' && stream.local) stream.onReply(headers, (frame.flags & FLAG_FIN) !== 0);
        else if (frame.kind === 'headers' && (frame.flags & FLAG_FIN) !== 0) stream.onRemoteFin();
        return;
      }
      case 'rst_stream':
        return this.onReset(frame.streamId, frame.status);
      case 'ping':
        return this.onPing(frame.id);
      case 'goaway':
        return this.onGoAway(frame.lastGoodStreamId);
      case 'settings':
      case 'window_update':
      case 'unknown':
        // No flow control (spdystream has none either) and nothing to configure; unknown types are ignored (2.2.1).
        return;
    }
  }

  /** Every block goes through the inflater, even for a stream we refuse: the context is shared by the session. */
  private headersOf(block: Buffer): SpdyHeaders {
    return decodeHeaderBlock(this.decompressor.decompress(block));
  }

  private onSynStream(id: number, flags: number, headers: SpdyHeaders): void {
    if ((id & 1) === this.parity) throw new SpdyProtocolError('ESPDYPROTO', `SYN_STREAM ${id} with this side's parity`);
    if (id <= this.lastPeerStreamId) throw new SpdyProtocolError('ESPDYPROTO', `SYN_STREAM ${id} after ${this.lastPeerStreamId}: ids must increase`);
    this.lastPeerStreamId = id;
    if (this.goingAway || this.peerGoneAway || this.streams.size >= this.limits.maxConcurrentStreams || this.listenerCount('stream') === 0) {
      this.answer(encodeRstStream(id, RstStatus.REFUSED_STREAM));
      return;
    }
    const stream = new SpdyStream(this, { id, headers, local: false, highWaterMark: this.limits.maxBufferedBytesPerStream });
    this.streams.set(id, stream);
    if ((flags & FLAG_UNIDIRECTIONAL) !== 0) stream.markLocalFin();
    if ((flags & FLAG_FIN) !== 0) stream.onRemoteFin();
    this.emit('stream', stream);
  }

  private onReset(id: number, status: number): void {
    const stream = this.streams.get(id);
    if (stream === undefined) return;
    this.streams.delete(id);
    stream.abort(new SpdyStreamError(`spdy stream ${id}: reset by the peer (status ${status})`, status));
    this.endIfIdle();
  }

  private onPing(id: number): void {
    if ((id & 1) !== this.parity) {
      this.answer(encodePing(id));
      return;
    }
    const pending = this.pings.get(id);
    if (pending === undefined) return;
    this.pings.delete(id);
    pending.resolve(performance.now() - pending.started);
  }

  private onGoAway(lastGoodStreamId: number): void {
    this.peerGoneAway = true;
    // Our streams above the peer's last good id were never seen by it: they fail as a refused dial would.
    for (const [id, stream] of this.streams) {
      if (stream.local && id > lastGoodStreamId) {
        this.streams.delete(id);
        stream.abort(new SpdyStreamError(`spdy stream ${id}: the peer went away before it (GOAWAY)`, RstStatus.REFUSED_STREAM));
      }
    }
    this.endIfIdle();
  }

  // The transport.

  private writeRaw(frame: Buffer): void {
    if (!this.isClosed) this.transport.write(frame);
  }

  /** A frame written because the peer sent one: if it has to queue, the peer is not reading, so stop reading it. */
  private answer(frame: Buffer): void {
    this.writeRaw(frame);
    if (this.transport.writableNeedDrain && !this.answersBacklogged) {
      this.answersBacklogged = true;
      this.updateFlow();
    }
  }

  private onDrain(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter();
    if (this.answersBacklogged) {
      this.answersBacklogged = false;
      this.updateFlow();
    }
  }

  /** Holds or releases the reader and pauses or resumes the transport to match. */
  private updateFlow(): void {
    if (this.isClosed) return;
    const hold = this.behind.size > 0 || this.answersBacklogged;
    if (hold && !this.reader.isHeld) {
      this.reader.hold();
      this.transport.pause();
    } else if (!hold && this.reader.isHeld) {
      this.guard(() => this.reader.release());
      if (!this.reader.isHeld && !this.isClosed) this.transport.resume();
    }
  }

  /** Runs frame handling; whatever it throws (a protocol error, or a bug) closes this session and goes no further. */
  private guard(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.fail(err instanceof Error ? err : new SpdyProtocolError('ESPDYPROTO', String(err)));
    }
  }

  private fail(err: Error): void {
    if (this.isClosed) return;
    const transport = this.transport;
    const status = err instanceof SpdyProtocolError ? GoAwayStatus.PROTOCOL_ERROR : GoAwayStatus.INTERNAL_ERROR;
    this.close(err, () => {
      // Tell the peer why, then hang up; a peer that does not read gets no more than the linger.
      const timer = setTimeout(() => transport.destroy(), GOAWAY_LINGER_MS);
      timer.unref();
      transport.end(encodeGoAway(this.lastPeerStreamId, status), () => transport.destroy());
      transport.resume();
    });
  }

  private endIfIdle(): void {
    if (!this.isClosed && (this.goingAway || this.peerGoneAway) && this.streams.size === 0 && !this.transport.writableEnded) this.transport.end();
  }

  private close(err: Error | undefined, hangUp: () => void = () => this.transport.destroy()): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.reader.stop();
    hangUp();
    const reason = new SpdyStreamError('spdy: the session closed', undefined, err === undefined ? undefined : { cause: err });
    for (const stream of this.streams.values()) stream.abort(reason);
    this.streams.clear();
    this.behind.clear();
    for (const ping of this.pings.values()) ping.reject(reason);
    this.pings.clear();
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter();
    this.emit('close', err);
  }
}
