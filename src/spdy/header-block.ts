/**
 * SPDY/3 name/value header blocks (draft 3, section 2.6.10) and their compression. A block is a 32-bit count,
 * then per header a 32-bit name length, the name (lower case), a 32-bit value length and the value (several values
 * joined by NUL). Every block of a session goes through one zlib context per direction, primed with the SPDY/3
 * dictionary, and is sync-flushed so it ends on a byte boundary inside its frame.
 *
 * Writing: we emit stored (uncompressed) deflate blocks after one zlib header that announces the dictionary
 * (FDICT). That is valid zlib every SPDY/3 reader (Go's compress/zlib in spdystream) accepts, and it needs no
 * compressor state; a few hundred bytes of headers per stream are not worth a deflater.
 * Reading: the peer's blocks refer back to the dictionary and to earlier blocks, so one inflater lives as long as
 * the session. pako inflates synchronously and hands us the output buffer, so a frame is decoded where it is parsed
 * (Node's zlib streams are asynchronous and would make every later frame wait), and a zlib bomb is stopped after at
 * most one output slice over the cap.
 */
import { ZStream, Z_BUF_ERROR, Z_NEED_DICT, Z_OK, Z_STREAM_END, Z_SYNC_FLUSH, zlibInflate, zlibInflateInit2, zlibInflateSetDictionary } from 'pako';
import { SpdyProtocolError } from './errors.js';
import { SPDY3_DICTIONARY, SPDY3_DICTIONARY_ADLER32 } from './zlib-dictionary.js';

export type SpdyHeaders = Readonly<Record<string, string>>;

/** The uncompressed block: names lower-cased as SPDY/3 requires. */
export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const entries = Object.entries(headers);
  const parts: Buffer[] = [u32(entries.length)];
  for (const [name, value] of entries) {
    const nameBytes = Buffer.from(name.toLowerCase(), 'utf8');
    const valueBytes = Buffer.from(value, 'utf8');
    parts.push(u32(nameBytes.length), nameBytes, u32(valueBytes.length), valueBytes);
  }
  return Buffer.concat(parts);
}

function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value, 0);
  return b;
}

function bad(message: string): never {
  throw new SpdyProtocolError('ESPDYHEADERS', message);
}

/**
 * The uncompressed block -> headers; every count and length checked against the bytes that are there before
 * anything is allocated. The result has no prototype, so a header named `__proto__` is only a header.
 */
export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  if (block.length < 4) bad(`header block of ${block.length} bytes, too short for its count`);
  const count = block.readUInt32BE(0);
  // Each header takes at least 8 bytes (two lengths), so a count larger than that is a lie.
  if (count > (block.length - 4) / 8) bad(`header block claims ${count} headers in ${block.length} bytes`);
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  let offset = 4;
  const field = (what: string): string => {
    if (offset + 4 > block.length) bad(`header block ends inside a ${what} length`);
    const length = block.readUInt32BE(offset);
    offset += 4;
    if (length > block.length - offset) bad(`header ${what} of ${length} bytes, past the end of the block`);
    const text = block.toString('utf8', offset, offset + length);
    offset += length;
    return text;
  };
  for (let i = 0; i < count; i++) {
    const name = field('name');
    const value = field('value');
    if (name.length === 0) bad('header with an empty name');
    if (name !== name.toLowerCase()) bad(`header name ${JSON.stringify(name)} is not lower case`);
    if (name in headers) bad(`header ${JSON.stringify(name)} repeated`);
    headers[name] = value;
  }
  if (offset !== block.length) bad(`${block.length - offset} bytes after the last header`);
  return Object.freeze(headers);
}

/** The largest stored deflate block: LEN is 16 bits. */
const MAX_STORED = 0xffff;

/** Our side's compression context: stored blocks, one zlib header with FDICT before the first. */
export class HeaderCompressor {
  private started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      this.started = true;
      // CMF 0x78: deflate, 32 KiB window. FLG 0xbb: FLEVEL 2, FDICT, FCHECK making (CMF*256+FLG) % 31 == 0.
      const zlibHeader = Buffer.from([0x78, 0xbb, 0, 0, 0, 0]);
      zlibHeader.writeUInt32BE(SPDY3_DICTIONARY_ADLER32, 2);
      parts.push(zlibHeader);
    }
    // At least one stored block even for an empty input, so the frame is never without its flush.
    for (let at = 0; at === 0 || at < block.length; at += MAX_STORED) {
      const piece = block.subarray(at, at + MAX_STORED);
      const head = Buffer.allocUnsafe(5);
      head[0] = 0x00; // BFINAL 0, BTYPE 00 (stored); the rest of the byte is padding
      head.writeUInt16LE(piece.length, 1);
      head.writeUInt16LE(~piece.length & 0xffff, 3);
      parts.push(head, piece);
    }
    return Buffer.concat(parts);
  }
}

/** One output slice per inflate call: what a bomb can make us hold past the cap. */
const OUTPUT_SLICE = 16 * 1024;

/** The peer's compression context: one inflater for the whole session; a block over maxBytes ends the session. */
export class HeaderDecompressor {
  private readonly strm = new ZStream();
  private readonly slice = new Uint8Array(OUTPUT_SLICE);
  private ended = false;

  constructor(private readonly maxBytes: number) {
    if (zlibInflateInit2(this.strm, 15) !== Z_OK) throw new Error('spdy: zlib inflater did not initialise');
  }

  /** A frame's compressed block -> the uncompressed block; throws SpdyProtocolError('ESPDYHEADERS'). */
  decompress(compressed: Buffer): Buffer {
    if (this.ended) bad('header block after the end of the zlib stream');
    const strm = this.strm;
    strm.input = compressed;
    strm.next_in = 0;
    strm.avail_in = compressed.length;
    const out: Buffer[] = [];
    let total = 0;
    for (;;) {
      strm.output = this.slice;
      strm.next_out = 0;
      strm.avail_out = OUTPUT_SLICE;
      let status = zlibInflate(strm, Z_SYNC_FLUSH);
      if (status === Z_NEED_DICT) {
        if (zlibInflateSetDictionary(strm, SPDY3_DICTIONARY) !== Z_OK) bad('header block compressed with another dictionary');
        status = zlibInflate(strm, Z_SYNC_FLUSH);
      }
      if (status !== Z_OK && status !== Z_STREAM_END && status !== Z_BUF_ERROR) bad(`header block does not decompress (${strm.msg || status})`);
      total += strm.next_out;
      if (total > this.maxBytes) bad(`header block over ${this.maxBytes} bytes decompressed`);
      if (strm.next_out > 0) out.push(Buffer.from(this.slice.subarray(0, strm.next_out)));
      if (status === Z_STREAM_END) this.ended = true;
      // Done when the input is used up and the inflater had room left: nothing more is pending in it.
      if (strm.avail_out > 0 && (strm.avail_in === 0 || status !== Z_OK)) break;
    }
    if (strm.avail_in > 0) bad('header block has bytes past the end of the zlib stream');
    return Buffer.concat(out, total);
  }
}
