/**
 * SPDY/3 frames (draft 3, section 2.2): what is on the wire, encoded and decoded. Only the subset moby/spdystream
 * (kubectl, the kubelet) speaks: SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE
 * and DATA. Header blocks stay compressed bytes here; header-block.ts owns their compression context.
 *
 *   control: |1| version(15) | type(16) |  flags(8) | length(24) |  payload
 *   data:    |0| stream id(31)          |  flags(8) | length(24) |  payload
 */
import { SpdyProtocolError } from './errors.js';

export const SPDY_VERSION = 3;
export const FRAME_HEADER_BYTES = 8;

const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

/** FLAG_FIN on DATA, SYN_STREAM, SYN_REPLY and HEADERS: the sender's half of the stream is done. */
export const FLAG_FIN = 0x01;
/** On SYN_STREAM: the receiver must not send on this stream. */
export const FLAG_UNIDIRECTIONAL = 0x02;

export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;

const MAX_STREAM_ID = 0x7fffffff;

/** A control frame as parsed; header blocks are still compressed. */
export type ControlFrame =
  | { readonly kind: 'syn_stream'; readonly streamId: number; readonly flags: number; readonly headerBlock: Buffer }
  | { readonly kind: 'syn_reply'; readonly streamId: number; readonly flags: number; readonly headerBlock: Buffer }
  | { readonly kind: 'headers'; readonly streamId: number; readonly flags: number; readonly headerBlock: Buffer }
  | { readonly kind: 'rst_stream'; readonly streamId: number; readonly status: number }
  | { readonly kind: 'ping'; readonly id: number }
  | { readonly kind: 'goaway'; readonly lastGoodStreamId: number; readonly status: number }
  | { readonly kind: 'settings' }
  | { readonly kind: 'window_update'; readonly streamId: number }
  | { readonly kind: 'unknown'; readonly type: number };

function controlHeader(type: number, flags: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE((0x8000_0000 | (SPDY_VERSION << 16) | type) >>> 0, 0);
  header.writeUInt32BE(((flags << 24) | length) >>> 0, 4);
  return header;
}

/** The 8 bytes before a DATA payload; the payload itself is written as it is, never copied. */
export function dataFrameHeader(streamId: number, flags: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(streamId & MAX_STREAM_ID, 0);
  header.writeUInt32BE(((flags << 24) | length) >>> 0, 4);
  return header;
}

/** SYN_STREAM as spdystream writes it: no associated stream, priority 0, slot 0. */
export function encodeSynStream(streamId: number, flags: number, headerBlock: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(streamId, 0);
  return Buffer.concat([controlHeader(FrameType.SYN_STREAM, flags, 10 + headerBlock.length), fixed, headerBlock]);
}

function encodeWithStreamId(type: number, streamId: number, flags: number, headerBlock: Buffer): Buffer {
  const id = Buffer.allocUnsafe(4);
  id.writeUInt32BE(streamId, 0);
  return Buffer.concat([controlHeader(type, flags, 4 + headerBlock.length), id, headerBlock]);
}

export function encodeSynReply(streamId: number, flags: number, headerBlock: Buffer): Buffer {
  return encodeWithStreamId(FrameType.SYN_REPLY, streamId, flags, headerBlock);
}

export function encodeHeaders(streamId: number, flags: number, headerBlock: Buffer): Buffer {
  return encodeWithStreamId(FrameType.HEADERS, streamId, flags, headerBlock);
}

function encodeTwoWords(type: number, first: number, second: number): Buffer {
  const frame = controlHeader(type, 0, 8);
  const body = Buffer.allocUnsafe(8);
  body.writeUInt32BE(first >>> 0, 0);
  body.writeUInt32BE(second >>> 0, 4);
  return Buffer.concat([frame, body]);
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  return encodeTwoWords(FrameType.RST_STREAM, streamId, status);
}

export function encodeGoAway(lastGoodStreamId: number, status: number): Buffer {
  return encodeTwoWords(FrameType.GOAWAY, lastGoodStreamId, status);
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  return encodeTwoWords(FrameType.WINDOW_UPDATE, streamId, delta);
}

export function encodePing(id: number): Buffer {
  const body = Buffer.allocUnsafe(4);
  body.writeUInt32BE(id >>> 0, 0);
  return Buffer.concat([controlHeader(FrameType.PING, 0, 4), body]);
}

/** SETTINGS with (id, value) pairs, flags 0: only the tests send it (we never need to announce anything). */
export function encodeSettings(entries: ReadonlyArray<readonly [number, number]>): Buffer {
  const body = Buffer.allocUnsafe(4 + entries.length * 8);
  body.writeUInt32BE(entries.length, 0);
  entries.forEach(([id, value], i) => {
    body.writeUInt32BE(id & 0xffffff, 4 + i * 8);
    body.writeUInt32BE(value >>> 0, 8 + i * 8);
  });
  return Buffer.concat([controlHeader(FrameType.SETTINGS, 0, body.length), body]);
}

/** A frame whose raw type, flags and payload the caller chooses: for tests of unknown and malformed frames. */
export function encodeRawControl(type: number, flags: number, payload: Buffer, version = SPDY_VERSION): Buffer {
  const header = controlHeader(type, flags, payload.length);
  header.writeUInt16BE((0x8000 | version) & 0xffff, 0);
  return Buffer.concat([header, payload]);
}

function fail(message: string): never {
  throw new SpdyProtocolError('ESPDYPROTO', message);
}

function expectLength(name: string, payload: Buffer, length: number): void {
  if (payload.length !== length) fail(`${name} with length ${payload.length}, must be ${length}`);
}

function streamIdAt(payload: Buffer, offset: number, name: string): number {
  const id = payload.readUInt32BE(offset) & MAX_STREAM_ID;
  if (id === 0) fail(`${name} on stream 0`);
  return id;
}

/** One control frame's payload, every length checked before a byte is read; throws SpdyProtocolError. */
export function parseControlFrame(type: number, flags: number, payload: Buffer): ControlFrame {
  switch (type) {
    case FrameType.SYN_STREAM:
      if (payload.length < 10) fail(`SYN_STREAM with length ${payload.length}, must be at least 10`);
      return { kind: 'syn_stream', streamId: streamIdAt(payload, 0, 'SYN_STREAM'), flags, headerBlock: payload.subarray(10) };
    case FrameType.SYN_REPLY:
    case FrameType.HEADERS: {
      const kind = type === FrameType.SYN_REPLY ? 'syn_reply' : 'headers';
      if (payload.length < 4) fail(`${kind.toUpperCase()} with length ${payload.length}, must be at least 4`);
      return { kind, streamId: streamIdAt(payload, 0, kind.toUpperCase()), flags, headerBlock: payload.subarray(4) };
    }
    case FrameType.RST_STREAM:
      expectLength('RST_STREAM', payload, 8);
      return { kind: 'rst_stream', streamId: streamIdAt(payload, 0, 'RST_STREAM'), status: payload.readUInt32BE(4) };
    case FrameType.PING:
      expectLength('PING', payload, 4);
      return { kind: 'ping', id: payload.readUInt32BE(0) };
    case FrameType.GOAWAY:
      expectLength('GOAWAY', payload, 8);
      return { kind: 'goaway', lastGoodStreamId: payload.readUInt32BE(0) & MAX_STREAM_ID, status: payload.readUInt32BE(4) };
    case FrameType.SETTINGS:
      if (payload.length < 4 || payload.length !== 4 + payload.readUInt32BE(0) * 8) fail(`SETTINGS with length ${payload.length} for its entry count`);
      return { kind: 'settings' };
    case FrameType.WINDOW_UPDATE:
      expectLength('WINDOW_UPDATE', payload, 8);
      return { kind: 'window_update', streamId: payload.readUInt32BE(0) & MAX_STREAM_ID };
    default:
      // Draft 3, 2.2.1: "If an endpoint receives a control frame for a type it does not recognize, it MUST ignore the frame."
      return { kind: 'unknown', type };
  }
}
