import t from 'tap';
import { FrameReader, type FrameSink } from '../../src/spdy/frame-reader.js';
import {
  type ControlFrame,
  dataFrameHeader,
  encodeGoAway,
  encodeHeaders,
  encodePing,
  encodeRawControl,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
  FLAG_FIN,
} from '../../src/spdy/frames.js';
import { DEFAULT_SPDY_LIMITS, resolveLimits } from '../../src/spdy/limits.js';

/** Every frame kind once, and what the reader must report for it. */
const WIRE = Buffer.concat([
  encodeSynStream(1, FLAG_FIN, Buffer.from('hdrs')),
  encodeSynReply(2, 0, Buffer.from('r')),
  encodeHeaders(3, FLAG_FIN, Buffer.alloc(0)),
  encodeRstStream(5, 3),
  encodePing(7),
  encodeGoAway(9, 1),
  encodeSettings([[4, 100]]),
  encodeWindowUpdate(1, 65536),
  encodeRawControl(0x0a, 0, Buffer.from('x')),
  dataFrameHeader(1, 0, 3),
  Buffer.from('abc'),
  dataFrameHeader(1, FLAG_FIN, 0),
]);

const EXPECTED = [
  'syn_stream 1 f1 hdrs',
  'syn_reply 2 f0 r',
  'headers 3 f1 ',
  'rst_stream 5 3',
  'ping 7',
  'goaway 9 1',
  'settings',
  'window_update 1',
  'unknown 10',
  'data 1 abc',
  'data 1  fin',
];

function describe(frame: ControlFrame): string {
  switch (frame.kind) {
    case 'syn_stream':
    case 'syn_reply':
    case 'headers':
      return `${frame.kind} ${frame.streamId} f${frame.flags} ${frame.headerBlock.toString()}`;
    case 'rst_stream':
      return `rst_stream ${frame.streamId} ${frame.status}`;
    case 'ping':
      return `ping ${frame.id}`;
    case 'goaway':
      return `goaway ${frame.lastGoodStreamId} ${frame.status}`;
    case 'window_update':
      return `window_update ${frame.streamId}`;
    case 'settings':
      return 'settings';
    case 'unknown':
      return `unknown ${frame.type}`;
  }
}

/** A sink that writes down what it got; DATA pieces of one frame are joined. */
function recorder(): { sink: FrameSink; seen: string[] } {
  const seen: string[] = [];
  let data: Buffer[] = [];
  const sink: FrameSink = {
    control: (frame) => seen.push(describe(frame)),
    data: (id, piece, fin) => {
      data.push(Buffer.from(piece));
      const joined = Buffer.concat(data).toString();
      if (fin || joined.length === 3) {
        seen.push(`data ${id} ${joined}${fin ? ' fin' : ''}`);
        data = [];
      }
    },
  };
  return { sink, seen };
}

t.test('every frame kind decodes, whole and split at every byte boundary', async (t) => {
  for (let cut = 0; cut <= WIRE.length; cut++) {
    const { sink, seen } = recorder();
    const reader = new FrameReader(sink, DEFAULT_SPDY_LIMITS);
    reader.push(WIRE.subarray(0, cut));
    reader.push(WIRE.subarray(cut));
    if (JSON.stringify(seen) !== JSON.stringify(EXPECTED)) t.same(seen, EXPECTED, `split at ${cut}`);
  }
  const { sink, seen } = recorder();
  const reader = new FrameReader(sink, DEFAULT_SPDY_LIMITS);
  for (const byte of WIRE) reader.push(Buffer.from([byte]));
  t.same(seen, EXPECTED, 'one byte at a time');
});

t.test('hold() stops between pieces and release() goes on where it stopped', async (t) => {
  const { sink, seen } = recorder();
  let reader: FrameReader | undefined;
  const holding: FrameSink = {
    control: (frame) => {
      sink.control(frame);
      if (frame.kind === 'ping') reader?.hold();
    },
    data: (id, piece, fin) => sink.data(id, piece, fin),
  };
  reader = new FrameReader(holding, DEFAULT_SPDY_LIMITS);
  reader.push(WIRE);
  t.same(seen, EXPECTED.slice(0, 5), 'nothing after the PING while held');
  reader.push(Buffer.alloc(0));
  reader.release();
  t.same(seen, EXPECTED);
});

t.test('bad frames throw SpdyProtocolError before their payload is read', async (t) => {
  const limits = { maxControlFrameBytes: 1024, maxDataFrameBytes: 4096 };
  const cases: ReadonlyArray<readonly [string, Buffer, string, RegExp]> = [
    ['version 2', encodeRawControl(1, 0, Buffer.alloc(10), 2), 'ESPDYPROTO', /version 2/],
    ['a control frame over the limit', encodeRawControl(1, 0, Buffer.alloc(1025)), 'ESPDYLIMIT', /1025 bytes/],
    ['a DATA frame over the limit (header only)', dataFrameHeader(1, 0, 4097), 'ESPDYLIMIT', /4097 bytes/],
    ['DATA on stream 0', dataFrameHeader(0, 0, 1), 'ESPDYPROTO', /stream 0/],
    ['SYN_STREAM too short', encodeRawControl(1, 0, Buffer.alloc(9)), 'ESPDYPROTO', /at least 10/],
    ['SYN_STREAM on stream 0', encodeRawControl(1, 0, Buffer.alloc(10)), 'ESPDYPROTO', /stream 0/],
    ['SYN_REPLY too short', encodeRawControl(2, 0, Buffer.alloc(3)), 'ESPDYPROTO', /at least 4/],
    ['RST_STREAM of 7 bytes', encodeRawControl(3, 0, Buffer.alloc(7)), 'ESPDYPROTO', /must be 8/],
    ['PING of 8 bytes', encodeRawControl(6, 0, Buffer.alloc(8)), 'ESPDYPROTO', /must be 4/],
    ['GOAWAY of 4 bytes (SPDY/2 size)', encodeRawControl(7, 0, Buffer.alloc(4)), 'ESPDYPROTO', /must be 8/],
    ['SETTINGS whose count lies', encodeRawControl(4, 0, Buffer.from([0, 0, 0, 9])), 'ESPDYPROTO', /SETTINGS/],
    ['WINDOW_UPDATE of 0 bytes', encodeRawControl(9, 0, Buffer.alloc(0)), 'ESPDYPROTO', /must be 8/],
  ];
  for (const [name, bytes, code, message] of cases) {
    const reader = new FrameReader(recorder().sink, limits);
    t.throws(() => reader.push(bytes), { name: 'SpdyProtocolError', code, message }, name);
  }
});

t.test('limits: defaults, partial overrides, and nonsense refused at construction', async (t) => {
  t.same(resolveLimits(undefined), DEFAULT_SPDY_LIMITS);
  t.equal(resolveLimits({ maxConcurrentStreams: 5 }).maxConcurrentStreams, 5);
  t.throws(() => resolveLimits({ maxHeaderBytes: 0 }), TypeError);
  t.throws(() => resolveLimits({ maxDataFrameBytes: 1 << 24 }), /24-bit/);
});
