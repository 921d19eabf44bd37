/**
 * A workaround, to go once src/spdy's header compressor ends every header block with a sync flush: Go's flate
 * reader (kubectl's spdystream) hands out a stored block's bytes only after it has read the next block header, so a
 * header block that ends with its data's stored block makes kubectl read past the frame ("compressed payload size
 * was incorrect") from the second SYN_REPLY on. This shim sits between the fake's SPDY session and its transport and
 * appends the empty stored block `00 00 00 ff ff` (zlib's Z_SYNC_FLUSH marker) to every outgoing SYN_REPLY that
 * does not end with one, fixing the frame length. Everything else passes through untouched; reads are not touched.
 */
import { Duplex } from 'node:stream';

const SYNC_FLUSH = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);
const SYN_REPLY = 2;
/** A SYN_REPLY of the fake (empty headers) is tiny; anything longer than this passes as it is. */
const MAX_REWRITE = 64 * 1024;

export class SyncFlushShim extends Duplex {
  private header = Buffer.alloc(0);
  private left = 0;
  private collecting: { head: Buffer; parts: Buffer[]; need: number } | undefined;

  constructor(private readonly transport: Duplex) {
    super({ allowHalfOpen: true });
    transport.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) transport.pause();
    });
    transport.on('end', () => this.push(null));
    transport.on('close', () => this.destroy());
    transport.on('error', (err: Error) => this.destroy(err));
    transport.on('drain', () => this.emit('transport-drain'));
  }

  override _read(): void {
    this.transport.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    const out = this.rewrite(chunk);
    if (out.length === 0 || this.transport.destroyed) {
      callback();
      return;
    }
    if (this.transport.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out))) callback();
    else this.once('transport-drain', () => callback());
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.transport.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.transport.destroy();
    callback(err);
  }

  private rewrite(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.left > 0) {
        const piece = chunk.subarray(at, at + this.left);
        this.left -= piece.length;
        at += piece.length;
        out.push(piece);
      } else if (this.collecting !== undefined) {
        const c = this.collecting;
        const piece = chunk.subarray(at, at + c.need);
        c.need -= piece.length;
        at += piece.length;
        c.parts.push(piece);
        if (c.need === 0) {
          out.push(fixed(c.head, Buffer.concat(c.parts)));
          this.collecting = undefined;
        }
      } else {
        const take = Math.min(8 - this.header.length, chunk.length - at);
        this.header = Buffer.concat([this.header, chunk.subarray(at, at + take)]);
        at += take;
        if (this.header.length === 8) this.startFrame(this.header, out);
      }
    }
    return out;
  }

  private startFrame(head: Buffer, out: Buffer[]): void {
    this.header = Buffer.alloc(0);
    const length = head.readUInt32BE(4) & 0xffffff;
    const control = ((head[0] ?? 0) & 0x80) !== 0;
    if (control && head.readUInt16BE(2) === SYN_REPLY && length > 0 && length <= MAX_REWRITE) {
      this.collecting = { head, parts: [], need: length };
      return;
    }
    out.push(head);
    this.left = length;
  }
}

function fixed(head: Buffer, body: Buffer): Buffer {
  if (body.length >= 5 && body.subarray(-5).equals(SYNC_FLUSH)) return Buffer.concat([head, body]);
  const full = Buffer.concat([body, SYNC_FLUSH]);
  const newHead = Buffer.from(head);
  newHead.writeUInt32BE((((head[4] ?? 0) << 24) | full.length) >>> 0, 4);
  return Buffer.concat([newHead, full]);
}
