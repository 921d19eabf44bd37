/**
 * Transport bytes -> frames, incrementally: a frame may arrive split at any byte. Control frames are gathered whole
 * (capped by maxControlFrameBytes) and parsed; DATA payloads are handed on in the pieces they arrive in, as
 * subarrays of the transport's chunks, so a large DATA frame is never buffered and never copied here.
 * The reader can be held between frames or inside a DATA payload (a stream's reader is slow): the rest of the
 * current chunk waits, unparsed, until release().
 */
import { SpdyProtocolError } from './errors.js';
import { type ControlFrame, FLAG_FIN, FRAME_HEADER_BYTES, parseControlFrame, SPDY_VERSION } from './frames.js';
import type { SpdyLimits } from './limits.js';

export interface FrameSink {
  control(frame: ControlFrame): void;
  /** A piece of a DATA frame's payload; `fin` only with the last piece (possibly empty) of a frame flagged FIN. */
  data(streamId: number, piece: Buffer, fin: boolean): void;
}

type State =
  | { readonly at: 'header' }
  | { readonly at: 'control'; readonly type: number; readonly flags: number; readonly payload: Buffer; filled: number }
  | { readonly at: 'data'; readonly streamId: number; readonly fin: boolean; remaining: number };

export class FrameReader {
  private state: State = { at: 'header' };
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private held = false;
  private rest: Buffer | undefined;
  private stopped = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly limits: Pick<SpdyLimits, 'maxControlFrameBytes' | 'maxDataFrameBytes'>,
  ) {}

  /** Parses what it can; throws SpdyProtocolError for a frame that breaks the protocol (the session ends). */
  push(chunk: Buffer): void {
    if (this.stopped) return;
    if (this.rest !== undefined) {
      // Only while held: the transport is paused, but a chunk already on its way may still arrive.
      this.rest = Buffer.concat([this.rest, chunk]);
      return;
    }
    this.consume(chunk);
  }

  /** Stops at the next boundary between pieces; what is left of the chunk waits for release(). */
  hold(): void {
    this.held = true;
  }

  get isHeld(): boolean {
    return this.held;
  }

  /** Goes on with what was left when hold() stopped it; throws as push() does. */
  release(): void {
    this.held = false;
    const rest = this.rest;
    this.rest = undefined;
    if (rest !== undefined && !this.stopped) this.consume(rest);
  }

  /** Nothing more is parsed: the session is gone. */
  stop(): void {
    this.stopped = true;
    this.rest = undefined;
  }

  private consume(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && !this.stopped) {
      if (this.held) {
        this.rest = chunk.subarray(offset);
        return;
      }
      offset = this.step(chunk, offset);
    }
  }

  private step(chunk: Buffer, offset: number): number {
    const state = this.state;
    switch (state.at) {
      case 'header': {
        const n = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.length - offset);
        chunk.copy(this.header, this.headerFilled, offset, offset + n);
        this.headerFilled += n;
        if (this.headerFilled === FRAME_HEADER_BYTES) {
          this.headerFilled = 0;
          this.startFrame();
        }
        return offset + n;
      }
      case 'control': {
        const n = Math.min(state.payload.length - state.filled, chunk.length - offset);
        chunk.copy(state.payload, state.filled, offset, offset + n);
        state.filled += n;
        if (state.filled === state.payload.length) this.endControl(state.type, state.flags, state.payload);
        return offset + n;
      }
      case 'data': {
        const n = Math.min(state.remaining, chunk.length - offset);
        state.remaining -= n;
        const last = state.remaining === 0;
        if (last) this.state = { at: 'header' };
        this.sink.data(state.streamId, chunk.subarray(offset, offset + n), last && state.fin);
        return offset + n;
      }
    }
  }

  private startFrame(): void {
    const first = this.header.readUInt32BE(0);
    const second = this.header.readUInt32BE(4);
    const flags = second >>> 24;
    const length = second & 0xffffff;
    if ((first & 0x8000_0000) !== 0) {
      const version = (first >>> 16) & 0x7fff;
      if (version !== SPDY_VERSION) throw new SpdyProtocolError('ESPDYPROTO', `control frame of version ${version}, only ${SPDY_VERSION} is spoken`);
      if (length > this.limits.maxControlFrameBytes) {
        throw new SpdyProtocolError('ESPDYLIMIT', `control frame of ${length} bytes, over the limit of ${this.limits.maxControlFrameBytes}`);
      }
      const type = first & 0xffff;
      if (length === 0) this.endControl(type, flags, Buffer.alloc(0));
      else this.state = { at: 'control', type, flags, payload: Buffer.allocUnsafe(length), filled: 0 };
      return;
    }
    const streamId = first & 0x7fffffff;
    if (streamId === 0) throw new SpdyProtocolError('ESPDYPROTO', 'DATA frame on stream 0');
    if (length > this.limits.maxDataFrameBytes) {
      throw new SpdyProtocolError('ESPDYLIMIT', `DATA frame of ${length} bytes, over the limit of ${this.limits.maxDataFrameBytes}`);
    }
    const fin = (flags & FLAG_FIN) !== 0;
    if (length === 0) this.sink.data(streamId, Buffer.alloc(0), fin);
    else this.state = { at: 'data', streamId, fin, remaining: length };
  }

  private endControl(type: number, flags: number, payload: Buffer): void {
    this.state = { at: 'header' };
    this.sink.control(parseControlFrame(type, flags, payload));
  }
}
