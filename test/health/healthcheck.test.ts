import t from 'tap';
import { checkHealthz } from '../../src/health/healthcheck.js';
import { freePort, startServer } from '../helpers/net.js';

/** A server that answers every request with `answer` once it has read the request head. */
function answering(t: Parameters<typeof startServer>[0], answer: string, host = '127.0.0.1'): Promise<number> {
  return startServer(
    t,
    (s) => {
      let got = '';
      s.on('data', (c: Buffer) => {
        got += c.toString();
        if (got.includes('\r\n\r\n')) s.end(answer);
      });
    },
    host,
  );
}

t.test('a 200 status line is healthy; the request is a plain GET /healthz', async (t) => {
  let request = '';
  const port = await startServer(t, (s) => {
    s.on('data', (c: Buffer) => {
      request += c.toString();
      if (request.includes('\r\n\r\n')) s.end('HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n');
    });
  });
  t.same(await checkHealthz('127.0.0.1', port, 2000), { ok: true, reason: 'http 200' });
  t.match(request, /^GET \/healthz HTTP\/1\.0\r\nHost: 127\.0\.0\.1:\d+\r\n/);
});

t.test('IPv6 loopback', async (t) => {
  const port = await answering(t, 'HTTP/1.1 200 OK\r\n\r\n', '::1');
  t.same(await checkHealthz('::1', port, 2000), { ok: true, reason: 'http 200' });
});

t.test('anything but 200 is unhealthy, with the reason', async (t) => {
  t.same(await checkHealthz('127.0.0.1', await answering(t, 'HTTP/1.1 503 Service Unavailable\r\n\r\n'), 2000), { ok: false, reason: 'http 503' });
  t.same(await checkHealthz('127.0.0.1', await answering(t, 'SSH-2.0-OpenSSH\r\n'), 2000), { ok: false, reason: 'not an HTTP answer' });
  t.same(await checkHealthz('127.0.0.1', await answering(t, ''), 2000), { ok: false, reason: 'connection closed before a status line' });
  t.same(await checkHealthz('127.0.0.1', await freePort(), 2000), { ok: false, reason: 'ECONNREFUSED' });
});

t.test('a status line split over several reads is put together', async (t) => {
  const port = await startServer(t, (s) => {
    s.once('data', () => {
      s.write('HTTP/1.1 2');
      setImmediate(() => s.end('00 OK\r\n\r\n'));
    });
  });
  t.same(await checkHealthz('127.0.0.1', port, 2000), { ok: true, reason: 'http 200' });
});

t.test('a server that never answers fails at the deadline; an endless first line is cut at 1 KiB', async (t) => {
  const silent = await startServer(t, () => undefined);
  t.same(await checkHealthz('127.0.0.1', silent, 150), { ok: false, reason: 'timeout after 150 ms' });
  const chatty = await startServer(t, (s) => s.write('x'.repeat(4096)));
  t.same(await checkHealthz('127.0.0.1', chatty, 2000), { ok: false, reason: 'not an HTTP answer' });
});
