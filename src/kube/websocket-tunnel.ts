/**
 * A byte tunnel over an upgraded WebSocket connection (RFC 6455), both roles: what kubectl >= 1.31 and the
 * API server speak for `SPDY/3.1+portforward.k8s.io`, where binary messages carry raw SPDY bytes and message
 * boundaries mean nothing (apimachinery's tunneling_connection.go). The npm `ws` package cannot be used for this
 * one: it refuses a subprotocol name with a "/" in it.
 *
 * The handshake is the caller's (an HTTP upgrade answered 101); this class frames what follows. Incoming payload
 * is pushed as it arrives, frame by frame, so nothing but a frame header (<= 14 bytes) or a control frame
 * (<= 125 bytes) is ever held; a slow reader pauses the socket.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';

export const SPDY_WEBSOCKET_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
const MAX_CONTROL_PAYLOAD = 125;
/** Outgoing data is cut into messages of at most this many bytes. */
const MAX_OUT_MESSAGE = 64 * 1024;
const DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024;

/** A fresh Sec-WebSocket-Key: 16 random bytes, base64. */
export function newWebSocketKey(): string {
  return randomBytes(16).toString('base64');
}

/** The Sec-WebSocket-Accept answer to a key: base64(sha1(key + GUID)). */
export function webSocketAccept(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** A peer that broke the WebSocket framing rules (code 'EWSPROTO'). */
class WebSocketProtocolError extends Error {
  override readonly name = 'WebSocketProtocolError';
  readonly code = 'EWSPROTO';
}

export interface WebSocketTunnelOptions {
  /** The client masks what it sends and expects unmasked frames; the server the reverse. */
  readonly role: 'client' | 'server';
  /** Bytes read past the upgrade's headers (the 'upgrade' event's head). */
  readonly head?: Buffer;
  /** A frame, or a fragmented message, longer than this destroys the tunnel (default 4 MiB). */
  readonly maxMessageBytes?: number;
}

/** XORs `data` in place with the 4-byte `mask`, starting at mask offset `offset`. */
function applyMask(data: Buffer, mask: Buffer, offset: number): void {
  const m0 = mask[offset & 3] ?? 0;
  const m1 = mask[(offset + 1) & 3] ?? 0;
  const m2 = mask[(offset + 2) & 3] ?? 0;
  const m3 = mask[(offset + 3) & 3] ?? 0;
  const n = data.length;
  const whole = n - (n & 3);
  let i = 0;
  for (; i < whole; i += 4) {
    data[i] = (data[i] ?? 0) ^ m0;
    data[i + 1] = (data[i + 1] ?? 0) ^ m1;
    data[i + 2] = (data[i + 2] ?? 0) ^ m2;
    data[i + 3] = (data[i + 3] ?? 0) ^ m3;
  }
  const tail = [m0, m1, m2];
  for (let k = 0; i < n; i++, k++) data[i] = (data[i] ?? 0) ^ (tail[k] ?? 0);
}

/** A frame header as read off the wire. */
interface FrameHeader {
  readonly fin: boolean;
  readonly opcode: number;
  readonly mask: Buffer | undefined;
  readonly length: number;
  readonly headerBytes: number;
}

/** Parses a frame header at the start of `buf`, or undefined when more bytes are needed. Throws WebSocketProtocolError. */
function parseHeader(buf: Buffer): FrameHeader | undefined {
  if (buf.length < 2) return undefined;
  const b0 = buf[0] ?? 0;
  const b1 = buf[1] ?? 0;
  if ((b0 & 0x70) !== 0) throw new WebSocketProtocolError('a WebSocket frame has reserved bits set');
  const masked = (b1 & 0x80) !== 0;
  let length = b1 & 0x7f;
  let at = 2;
  if (length === 126) {
    if (buf.length < 4) return undefined;
    length = buf.readUInt16BE(2);
    at = 4;
  } else if (length === 127) {
    if (buf.length < 10) return undefined;
    const high = buf.readUInt32BE(2);
    if (high > 0x1fffff) throw new WebSocketProtocolError('a WebSocket frame length is out of range');
    length = high * 2 ** 32 + buf.readUInt32BE(6);
    at = 10;
  }
  if (masked && buf.length < at + 4) return undefined;
  const mask = masked ? Buffer.from(buf.subarray(at, at + 4)) : undefined;
  return { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, mask, length, headerBytes: at + (masked ? 4 : 0) };
}

/** One frame's header bytes (the caller writes the payload, masked with `mask` when given, after it). */
function frameHeader(opcode: number, length: number, mask: Buffer | undefined): Buffer {
  const extra = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = Buffer.allocUnsafe(2 + extra + (mask === undefined ? 0 : 4));
  header[0] = 0x80 | opcode;
  const maskBit = mask === undefined ? 0 : 0x80;
  if (extra === 0) header[1] = maskBit | length;
  else if (extra === 2) {
    header[1] = maskBit | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = maskBit | 127;
    header.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    header.writeUInt32BE(length >>> 0, 6);
  }
  if (mask !== undefined) mask.copy(header, 2 + extra);
  return header;
}

/**
 * The byte stream carried in binary messages of an upgraded socket; message boundaries mean nothing.
 * The client role masks its frames; a PING is answered with a PONG; a close frame ends the readable side (and is
 * answered once our side ends too); end() sends a close frame after the data. A frame over maxMessageBytes, a bad opcode, a text message,
 * a masked frame to a client or an unmasked one to a server destroys it with an error whose code is 'EWSPROTO'.
 */
export class WebSocketTunnel extends Duplex {
  private readonly client: boolean;
  private readonly maxMessageBytes: number;
  private pending: Buffer = Buffer.alloc(0);
  /** The data frame whose payload is being read: bytes left, mask, mask offset. */
  private frameLeft = 0;
  private frameMask: Buffer | undefined;
  private frameOffset = 0;
  /** A fragmented message is under way (continuation frames expected); its bytes so far. */
  private inMessage = false;
  private messageBytes = 0;
  private closeSent = false;
  private closeReceived = false;
  /** After a protocol error: end the socket (so our 1002 close frame gets out) rather than destroy it at once. */
  private lingerOnDestroy = false;

  constructor(
    private readonly socket: Duplex,
    options: WebSocketTunnelOptions,
  ) {
    super({ allowHalfOpen: true });
    this.client = options.role === 'client';
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onSocketGone());
    socket.on('close', () => this.onSocketGone());
    socket.on('error', (err: Error) => this.destroy(err));
    if (options.head !== undefined && options.head.length > 0) {
      const head = options.head;
      queueMicrotask(() => this.onData(head));
    }
  }

  /** Sends a PING (at most 125 bytes of payload); the peer's PONG is not reported. */
  ping(payload: Buffer = Buffer.alloc(0)): void {
    if (payload.length > MAX_CONTROL_PAYLOAD) throw new RangeError('a WebSocket ping payload is at most 125 bytes');
    this.sendFrame(OP_PING, payload);
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.closeSent || this.socket.destroyed || !this.socket.writable) {
      callback(Object.assign(new Error('write after the WebSocket close frame'), { code: 'EPIPE' }));
      return;
    }
    let ok = true;
    for (let at = 0; at < chunk.length; at += MAX_OUT_MESSAGE) ok = this.sendFrame(OP_BINARY, chunk.subarray(at, at + MAX_OUT_MESSAGE));
    if (ok) callback();
    else this.waitDrain(callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.sendClose(1000);
    if (this.closeReceived) this.socket.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.lingerOnDestroy && !this.socket.destroyed) {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    } else this.socket.destroy();
    callback(err);
  }

  private waitDrain(callback: (err?: Error | null) => void): void {
    const done = (): void => {
      this.socket.off('drain', done);
      this.socket.off('close', done);
      callback();
    };
    this.socket.on('drain', done);
    this.socket.on('close', done);
  }

  /** Writes one frame; false when the socket wants a drain. */
  private sendFrame(opcode: number, payload: Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return true;
    const mask = this.client ? randomBytes(4) : undefined;
    const header = frameHeader(opcode, payload.length, mask);
    let body = payload;
    if (mask !== undefined && payload.length > 0) {
      body = Buffer.from(payload);
      applyMask(body, mask, 0);
    }
    if (body.length === 0) return this.socket.write(header);
    if (body.length < 1024) return this.socket.write(Buffer.concat([header, body]));
    this.socket.cork();
    this.socket.write(header);
    const ok = this.socket.write(body);
    this.socket.uncork();
    return ok;
  }

  private sendClose(code: number): void {
    if (this.closeSent) return;
    this.closeSent = true;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code, 0);
    this.sendFrame(OP_CLOSE, payload);
  }

  /**
   * The socket ended or closed. After a close frame that is the normal end. Without one, at a frame boundary, the
   * readable side ends cleanly (what was pushed stays readable: a Go peer may close the TCP connection without a
   * close frame); in the middle of a frame it is a reset.
   */
  private onSocketGone(): void {
    if (this.destroyed || this.closeReceived) return;
    if (this.frameLeft > 0 || this.pending.length > 0) {
      this.destroy(Object.assign(new Error('the WebSocket connection ended in the middle of a frame'), { code: 'ECONNRESET' }));
      return;
    }
    this.closeReceived = true;
    this.closeSent = true;
    this.push(null);
    if (!this.writableEnded) this.end();
  }

  private fail(message: string): void {
    this.sendClose(1002);
    this.lingerOnDestroy = true;
    this.destroy(new WebSocketProtocolError(message));
  }

  private onData(chunk: Buffer): void {
    if (this.destroyed || this.closeReceived) return;
    try {
      this.consume(this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]));
    } catch (err) {
      if (err instanceof WebSocketProtocolError) this.fail(err.message);
      else this.destroy(err as Error);
    }
  }

  /** Reads frames out of `buf`; keeps an incomplete header or control frame in `pending`. */
  private consume(buf: Buffer): void {
    let at = 0;
    while (at < buf.length && !this.destroyed && !this.closeReceived) {
      if (this.frameLeft > 0) {
        const piece = buf.subarray(at, at + this.frameLeft);
        at += piece.length;
        this.deliver(piece);
        continue;
      }
      const header = parseHeader(buf.subarray(at));
      if (header === undefined) break;
      this.checkFrame(header);
      if (header.opcode >= OP_CLOSE) {
        if (buf.length - at < header.headerBytes + header.length) break;
        const payload = Buffer.from(buf.subarray(at + header.headerBytes, at + header.headerBytes + header.length));
        if (header.mask !== undefined) applyMask(payload, header.mask, 0);
        at += header.headerBytes + header.length;
        this.onControl(header.opcode, payload);
        continue;
      }
      at += header.headerBytes;
      this.startData(header);
    }
    this.pending = at >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(at));
  }

  private checkFrame(header: FrameHeader): void {
    if (this.client && header.mask !== undefined) throw new WebSocketProtocolError('a masked WebSocket frame from the server');
    if (!this.client && header.mask === undefined) throw new WebSocketProtocolError('an unmasked WebSocket frame from the client');
    switch (header.opcode) {
      case OP_CLOSE:
      case OP_PING:
      case OP_PONG:
        if (!header.fin || header.length > MAX_CONTROL_PAYLOAD) throw new WebSocketProtocolError('a WebSocket control frame is fragmented or too long');
        return;
      case OP_BINARY:
        if (this.inMessage) throw new WebSocketProtocolError('a new WebSocket message in the middle of a fragmented one');
        break;
      case OP_CONTINUATION:
        if (!this.inMessage) throw new WebSocketProtocolError('a WebSocket continuation frame without a message');
        break;
      case OP_TEXT:
        throw new WebSocketProtocolError('a text WebSocket message on a binary tunnel');
      default:
        throw new WebSocketProtocolError(`a WebSocket frame with the unknown opcode ${header.opcode}`);
    }
    const total = (header.opcode === OP_CONTINUATION ? this.messageBytes : 0) + header.length;
    if (total > this.maxMessageBytes) throw new WebSocketProtocolError(`a WebSocket message over ${this.maxMessageBytes} bytes`);
  }

  private startData(header: FrameHeader): void {
    this.messageBytes = (header.opcode === OP_CONTINUATION ? this.messageBytes : 0) + header.length;
    this.inMessage = !header.fin;
    this.frameLeft = header.length;
    this.frameMask = header.mask;
    this.frameOffset = 0;
  }

  private deliver(piece: Buffer): void {
    this.frameLeft -= piece.length;
    // A copy: unmasking writes in place, and the socket's chunk may be a slice of a pooled buffer.
    const data = Buffer.from(piece);
    if (this.frameMask !== undefined) applyMask(data, this.frameMask, this.frameOffset);
    this.frameOffset += data.length;
    if (!this.push(data)) this.socket.pause();
  }

  private onControl(opcode: number, payload: Buffer): void {
    if (opcode === OP_PING) this.sendFrame(OP_PONG, payload);
    else if (opcode === OP_CLOSE) {
      // The peer sends no more. Our close frame answers it once our side has ended too (what was written first
      // still goes out, as a TCP half-close would allow); then the socket ends.
      this.closeReceived = true;
      this.push(null);
      if (this.closeSent) this.socket.end();
    }
  }
}
