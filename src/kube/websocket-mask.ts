/**
 * WebSocket masking (RFC 6455 section 5.3) for the tunnel (websocket-tunnel.ts): a client masks every byte it
 * sends, so this is on the WebSocket form's data path, once per byte. Kept apart so the tunnel stays about framing.
 */
import { randomFillSync } from 'node:crypto';
import { endianness } from 'node:os';

/** Random bytes for mask keys, drawn 4 at a time: one randomFillSync per 1024 frames, not one per frame. */
const maskPool = Buffer.allocUnsafe(4096);
let maskAt = maskPool.length;

export function maskKey(): Buffer {
  if (maskAt + 4 > maskPool.length) {
    randomFillSync(maskPool);
    maskAt = 0;
  }
  // A copy: the frame header keeps it, and the pool is refilled in place.
  const key = Buffer.from(maskPool.subarray(maskAt, maskAt + 4));
  maskAt += 4;
  return key;
}

/** The machine's byte order, for the word-at-a-time XOR below. */
const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * XORs `data` in place with the 4-byte `mask`, starting at mask offset `offset`. Where the bytes are 4-aligned
 * (every buffer over half of Node's pool is), four at a time through a Uint32Array: the tunnel masks every byte a
 * client sends, and byte by byte that was most of the WebSocket form's extra CPU per GiB.
 */
export function applyMask(data: Buffer, mask: Buffer, offset: number): void {
  const m0 = mask[offset & 3] ?? 0;
  const m1 = mask[(offset + 1) & 3] ?? 0;
  const m2 = mask[(offset + 2) & 3] ?? 0;
  const m3 = mask[(offset + 3) & 3] ?? 0;
  const n = data.length;
  const whole = n - (n & 3);
  let i = 0;
  if ((data.byteOffset & 3) === 0 && whole >= 64) {
    const word = LITTLE_ENDIAN ? (m0 | (m1 << 8) | (m2 << 16) | (m3 << 24)) >>> 0 : ((m0 << 24) | (m1 << 16) | (m2 << 8) | m3) >>> 0;
    const words = new Uint32Array(data.buffer, data.byteOffset, whole >>> 2);
    for (let w = 0; w < words.length; w++) words[w] = (words[w] ?? 0) ^ word;
    i = whole;
  }
  for (; i < whole; i += 4) {
    data[i] = (data[i] ?? 0) ^ m0;
    data[i + 1] = (data[i + 1] ?? 0) ^ m1;
    data[i + 2] = (data[i + 2] ?? 0) ^ m2;
    data[i + 3] = (data[i + 3] ?? 0) ^ m3;
  }
  const tail = [m0, m1, m2];
  for (let k = 0; i < n; i++, k++) data[i] = (data[i] ?? 0) ^ (tail[k] ?? 0);
}
