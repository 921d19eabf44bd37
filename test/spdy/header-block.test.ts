import { createHash } from 'node:crypto';
import { constants, createDeflate, deflateSync, inflateSync } from 'node:zlib';
import t from 'tap';
import { SpdyProtocolError } from '../../src/spdy/errors.js';
import { decodeHeaderBlock, encodeHeaderBlock, HeaderCompressor, HeaderDecompressor } from '../../src/spdy/header-block.js';
import { SPDY3_DICTIONARY, SPDY3_DICTIONARY_ADLER32 } from '../../src/spdy/zlib-dictionary.js';

const dictionary = Buffer.from(SPDY3_DICTIONARY);

/** A zlib stream with the dictionary, sync-flushed after each block, as Go's spdy Framer writes its headers. */
async function deflateBlocks(blocks: readonly Buffer[], level = 9): Promise<Buffer[]> {
  const deflater = createDeflate({ dictionary, level });
  const out: Buffer[] = [];
  let pending: Buffer[] = [];
  deflater.on('data', (c: Buffer) => pending.push(c));
  for (const block of blocks) {
    deflater.write(block);
    await new Promise<void>((resolve) => deflater.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    out.push(Buffer.concat(pending));
    pending = [];
  }
  deflater.destroy();
  return out;
}

t.test('the dictionary is SPDY/3s: 1423 bytes, the Adler-32 real stacks announce, the bytes of spdystreams dictionary.go', async (t) => {
  t.equal(SPDY3_DICTIONARY.length, 1423);
  // Node's zlib writes the dictionary's Adler-32 into the zlib header (DICTID, bytes 2..5).
  t.equal(deflateSync(Buffer.from('x'), { dictionary }).readUInt32BE(2), SPDY3_DICTIONARY_ADLER32);
  t.equal(SPDY3_DICTIONARY_ADLER32, 0xe3c6a7c2);
  t.equal(createHash('sha256').update(dictionary).digest('hex'), '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02');
});

t.test('header blocks round-trip; names are lower-cased; the result has no prototype', async (t) => {
  const block = encodeHeaderBlock({ streamType: 'data', port: '8080', requestID: '0', __proto__x: 'y' });
  const headers = decodeHeaderBlock(block);
  t.same({ ...headers }, { streamtype: 'data', port: '8080', requestid: '0', __proto__x: 'y' });
  const proto = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 9]), Buffer.from('__proto__'), Buffer.from([0, 0, 0, 1]), Buffer.from('x')]);
  const odd = decodeHeaderBlock(proto);
  t.equal(Object.getPrototypeOf(odd), null);
  t.equal(odd.__proto__, 'x');
  t.equal(Object.getPrototypeOf({}), Object.prototype, 'no prototype was polluted');
});

t.test('malformed blocks are ESPDYHEADERS, checked before anything is allocated', async (t) => {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const cases: ReadonlyArray<readonly [string, Buffer, RegExp]> = [
    ['too short for its count', Buffer.from([0, 0]), /too short/],
    ['a count larger than the bytes allow', u32(0xffffffff), /claims/],
    ['a name length past the end', Buffer.concat([u32(1), u32(0x7fffffff), u32(0)]), /past the end/],
    ['ends inside a value length', Buffer.concat([u32(1), u32(1), Buffer.from('a'), Buffer.from([0, 0, 0])]), /value length/],
    ['an empty name', Buffer.concat([u32(1), u32(0), u32(0)]), /empty name/],
    ['an upper-case name', Buffer.concat([u32(1), u32(1), Buffer.from('A'), u32(0)]), /lower case/],
    ['a repeated name', Buffer.concat([u32(2), u32(1), Buffer.from('a'), u32(0), u32(1), Buffer.from('a'), u32(0)]), /repeated/],
    ['bytes after the last header', Buffer.concat([u32(0), Buffer.from('junk')]), /after the last/],
  ];
  for (const [name, block, message] of cases) {
    t.throws(() => decodeHeaderBlock(block), { name: 'SpdyProtocolError', code: 'ESPDYHEADERS', message }, name);
  }
});

t.test('our stored-block writer is valid zlib with FDICT that a standard inflater reads, block after block', async (t) => {
  const compressor = new HeaderCompressor();
  const blocks = [encodeHeaderBlock({ streamtype: 'error', port: '80', requestid: '1' }), encodeHeaderBlock({}), Buffer.alloc(70_000, 0x61)];
  const wire = blocks.map((b) => compressor.compress(b));
  t.equal((wire[0]?.[1] ?? 0) & 0x20, 0x20, 'FDICT is set');
  t.equal(wire[0]?.readUInt32BE(2), SPDY3_DICTIONARY_ADLER32);
  const all = inflateSync(Buffer.concat(wire), { dictionary, finishFlush: constants.Z_SYNC_FLUSH });
  t.same(all, Buffer.concat(blocks));
  const ours = new HeaderDecompressor(128 * 1024);
  for (const [i, block] of blocks.entries()) t.same(ours.decompress(wire[i] as Buffer), block, `block ${i} through our inflater`);
});

t.test('real zlib output with the dictionary, sync-flushed across blocks of one stream, decodes block by block', async (t) => {
  const blocks = [
    encodeHeaderBlock({ streamtype: 'error', port: '8080', requestid: '0' }),
    encodeHeaderBlock({ streamtype: 'data', port: '8080', requestid: '0' }),
    encodeHeaderBlock({ streamtype: 'error', port: '8080', requestid: '1' }),
    encodeHeaderBlock({ 'x-big': 'v'.repeat(20_000) }),
  ];
  const wire = await deflateBlocks(blocks);
  t.ok((wire[2]?.length ?? 0) < blocks[2]!.length / 2, 'the third block refers back to the first ones (one context)');
  const inflater = new HeaderDecompressor(64 * 1024);
  for (const [i, piece] of wire.entries()) t.same(inflater.decompress(piece), blocks[i], `block ${i}`);
});

t.test('golden blocks from real SPDY/3 stacks decode (a browser SYN_STREAM; a port-forward error stream, Go zlib)', async (t) => {
  const browser = new HeaderDecompressor(64 * 1024);
  t.same(
    { ...decodeHeaderBlock(browser.decompress(Buffer.from('78f9e3c6a7c202e50e507ab442a45a77d7105006b32a4804974d8cfa00000000ffff', 'hex'))) },
    {
      ':method': 'GET',
      ':path': '/',
    },
  );
  const go = new HeaderDecompressor(64 * 1024);
  const hex = '78f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45e01c6061606100a4398b20d198094ade8c0600000000ffff';
  t.same({ ...decodeHeaderBlock(go.decompress(Buffer.from(hex, 'hex'))) }, { streamtype: 'error', port: '8080', requestid: '0' });
});

t.test('a zlib bomb stops at the cap with ESPDYHEADERS, holding no more than one slice past it', async (t) => {
  const [bomb] = await deflateBlocks([Buffer.alloc(16 * 1024 * 1024)]);
  t.ok((bomb?.length ?? 0) < 64 * 1024, `16 MiB of zeros compress to ${bomb?.length} bytes`);
  const inflater = new HeaderDecompressor(64 * 1024);
  const before = process.memoryUsage().arrayBuffers;
  t.throws(() => inflater.decompress(bomb as Buffer), { code: 'ESPDYHEADERS', message: /over 65536 bytes/ });
  t.ok(process.memoryUsage().arrayBuffers - before < 8 * 1024 * 1024, 'memory stayed far below what the bomb holds');
});

t.test('garbage, another dictionary, and bytes after the zlib end are ESPDYHEADERS', async (t) => {
  t.throws(() => new HeaderDecompressor(1024).decompress(Buffer.from('this is not zlib at all')), SpdyProtocolError);
  const other = deflateSync(Buffer.from('abc'), { dictionary: Buffer.from('another dictionary') });
  t.throws(() => new HeaderDecompressor(1024).decompress(other), { code: 'ESPDYHEADERS', message: /another dictionary/ });
  const finished = deflateSync(Buffer.from('abc'), { dictionary });
  t.throws(() => new HeaderDecompressor(1024).decompress(Buffer.concat([finished, Buffer.from('xx')])), { code: 'ESPDYHEADERS' });
  const inflater = new HeaderDecompressor(1024);
  inflater.decompress(finished);
  t.throws(() => inflater.decompress(Buffer.from([0])), { code: 'ESPDYHEADERS', message: /after the end/ });
});
