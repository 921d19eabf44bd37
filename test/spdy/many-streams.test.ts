import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import type { SpdyStream } from '../../src/spdy/stream.js';
import { collect, sessionPair } from './pair.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('500 concurrent streams on one session, each echoed both ways with FIN, sha256 equal, all closed after', async (t) => {
  const { client, server } = await sessionPair(t);
  const count = 500;
  const waiting: SpdyStream[] = [];
  let peak = 0;
  server.on('stream', (s: SpdyStream) => {
    s.on('error', (err) => t.fail(`server stream ${s.id}: ${err.message}`));
    s.reply({});
    waiting.push(s);
    peak = Math.max(peak, server.openStreams);
    // The echoes start only once all are open, so all 500 are open at once; the client's FIN ends each pipe, which sends ours.
    if (waiting.length === count) for (const w of waiting) w.pipe(w);
  });
  const payloads = Array.from({ length: count }, (_, i) => randomBytes(8 * 1024 + i * 37));
  const streams = payloads.map((p, i) => {
    const s = client.openStream({ streamtype: 'data', requestid: String(i) });
    const outcome = collect(s);
    s.end(p);
    return outcome;
  });
  const results = await Promise.all(streams);
  const wrong = results.filter((r, i) => r.error !== '' || sha(r.data) !== sha(payloads[i] as Buffer)).length;
  t.equal(wrong, 0, `${count} streams echoed intact`);
  t.equal(peak, count, 'all open at once on the server');
  const deadline = Date.now() + 5000;
  while ((client.openStreams > 0 || server.openStreams > 0) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  t.equal(client.openStreams, 0);
  t.equal(server.openStreams, 0);
  t.equal(client.closed || server.closed, false);
});
