import { once } from 'node:events';
import type { Test } from 'tap';
import t from 'tap';
import { UpgradeRefused } from '../../src/kube/upgrade.js';
import { createPortForwarder, type PortForwardTuning } from '../../src/portforward/port-forwarder.js';
import type { PortForwarder, UpstreamSocket } from '../../src/proxy/forwarded.js';
import { captureLogger, silentLog } from '../helpers/log.js';
import { startEchoServer } from '../helpers/net.js';
import { startPodServer, type PodServer } from './pod-server.js';

const WAIT_MS = 15_000;

function forwarder(t: Test, server: PodServer, tuning: Partial<PortForwardTuning> = {}, log = silentLog): PortForwarder {
  const pf = createPortForwarder({ access: server.access, log, tuning });
  t.teardown(() => pf.close());
  return pf;
}

function open(pf: PortForwarder, pod: string, port = 80, timeoutMs = 5000): Promise<UpstreamSocket> {
  return new Promise((resolve, reject) => {
    pf.open(pod, port, timeoutMs, (err, stream) => {
      if (stream === undefined) reject(err ?? new Error('no stream'));
      else {
        stream.on('error', () => undefined);
        resolve(stream);
      }
    });
  });
}

function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (err: unknown) => err,
  );
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Everything the stream yields until its end. */
async function readAll(stream: UpstreamSocket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  await once(stream, 'end');
  return Buffer.concat(chunks);
}

t.test('a stream carries bytes both ways, a half-close passes as a FIN, and bytes are counted', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-0', await startEchoServer(t));
  const pf = forwarder(t, server);
  const stream = await open(pf, 'shop/web-0');
  const payload = Buffer.alloc(300_000, 'a');
  const echoed = readAll(stream);
  stream.end(payload); // FIN: the echo server ends after echoing, which ends our stream
  t.same((await echoed).length, payload.length, 'everything came back, then the FIN');
  await until('the stream to close', () => stream.destroyed);
  t.equal(stream.bytesRead, payload.length);
  const stats = pf.stats();
  t.equal(stats.opens['ok'], 1);
  t.equal(stats.streamsOpen, 0);
  t.equal(stats.bytesToPods, payload.length);
  t.equal(stats.bytesFromPods, payload.length);
  t.match(stats.sessions, [{ pod: 'shop/web-0', protocol: 'spdy' }]);
});

t.test('many connections share one upgraded connection; past the cap a second one opens', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-0', await startEchoServer(t));
  const pf = forwarder(t, server, { streamsPerSession: 40 });
  const streams = await Promise.all(Array.from({ length: 40 }, () => open(pf, 'shop/web-0')));
  t.equal(server.counts.upgrades, 1, '40 connections, one upgrade');
  t.equal(pf.stats().streamsOpen, 40);
  const more = await open(pf, 'shop/web-0');
  t.equal(server.counts.upgrades, 2, 'the 41st opened a second session');
  t.equal(pf.stats().sessions.length, 2);
  // Each stream is its own connection: what goes on one comes back on it alone.
  const answers = await Promise.all(
    [...streams, more].map(async (s, i) => {
      const got = readAll(s);
      s.end(`conn-${i}`);
      return (await got).toString();
    }),
  );
  t.same(
    answers,
    answers.map((_, i) => `conn-${i}`),
  );
});

t.test('a refused upgrade fails the open with the status, skips the Pod for a while and is logged once', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-0', await startEchoServer(t));
  server.refuse.set('web-0', 403);
  const { log, records } = captureLogger('warn');
  const pf = forwarder(t, server, { refusedSkipMs: 60_000 }, log);
  const first = await failure(open(pf, 'shop/web-0'));
  t.ok(first instanceof UpgradeRefused, 'an UpgradeRefused');
  t.match(first, { status: 403 });
  const upgradesAsked = server.counts.upgrades + server.counts.webSocketAttempts;
  const second = await failure(open(pf, 'shop/web-0'));
  t.match(second, { status: 403 }, 'the same reason, at once');
  t.equal(server.counts.upgrades + server.counts.webSocketAttempts, upgradesAsked, 'no second upgrade while skipped');
  t.equal(records.filter((r) => r.msg.includes('refused')).length, 1, 'said once');
  t.equal(pf.stats().opens['refused'], 2);
  const missing = await failure(open(pf, 'shop/nope'));
  t.match(missing, { status: 404 });
});

t.test('a Pod port nobody listens on: the kubelet text on the error stream fails the stream', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-1', 1); // port 1 on loopback: connection refused
  const pf = forwarder(t, server);
  const stream = await open(pf, 'shop/web-1').catch((err: unknown) => err);
  if (stream instanceof Error) {
    t.match(stream, { code: 'E_PORTFORWARD', message: /an error occurred forwarding 80 -> pod web-1/ });
  } else {
    const [err] = (await once(stream as UpstreamSocket, 'error')) as [Error];
    t.match(err, { code: 'E_PORTFORWARD', message: /an error occurred forwarding 80 -> pod web-1/ }, 'the stream fails with the kubelet text');
  }
});

t.test('a dropped upgraded connection resets its own streams only; the next open reconnects', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-0', await startEchoServer(t));
  server.pods.set('web-1', await startEchoServer(t));
  const pf = forwarder(t, server);
  const a = await open(pf, 'shop/web-0');
  const b = await open(pf, 'shop/web-1');
  const aError = once(a, 'error');
  server.kill('web-0');
  const [err] = (await aError) as [Error];
  t.match(err, { code: 'ECONNRESET' }, 'the stream on the dropped connection is reset');
  // The other Pod's stream keeps moving.
  b.write('still here');
  const [chunk] = (await once(b, 'data')) as [Buffer];
  t.equal(chunk.toString(), 'still here');
  const again = await open(pf, 'shop/web-0');
  again.write('back');
  const [back] = (await once(again, 'data')) as [Buffer];
  t.equal(back.toString(), 'back');
  t.equal(pf.stats().reconnects, 1);
  again.destroy();
  b.destroy();
});

t.test('malformed frames close that session and nothing else', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-0', await startEchoServer(t));
  server.pods.set('web-1', await startEchoServer(t));
  const pf = forwarder(t, server);
  const a = await open(pf, 'shop/web-0');
  const b = await open(pf, 'shop/web-1');
  const aError = once(a, 'error');
  // A control frame of an unknown version with a length past every cap.
  server.inject(Buffer.from([0x80, 0x09, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff]), 'web-0');
  await aError;
  t.ok(a.destroyed, "the bad session's stream is gone");
  b.write('unharmed');
  const [chunk] = (await once(b, 'data')) as [Buffer];
  t.equal(chunk.toString(), 'unharmed', "the other Pod's stream keeps moving");
  b.destroy();
});

t.test('an idle session closes after idleSessionMs', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-0', await startEchoServer(t));
  const pf = forwarder(t, server, { idleSessionMs: 200 });
  const s = await open(pf, 'shop/web-0');
  s.destroy();
  await until('the idle session to close', () => pf.stats().sessions.length === 0 && server.sessions.size === 0);
  t.pass('closed');
});

t.test('an open after close fails; close resets what is open', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-0', await startEchoServer(t));
  const pf = createPortForwarder({ access: server.access, log: silentLog });
  const s = await open(pf, 'shop/web-0');
  const closed = new Promise((resolve) => s.on('close', resolve));
  await pf.close();
  await closed;
  t.ok(s.destroyed, 'the open stream is reset');
  t.match(await failure(open(pf, 'shop/web-0')), { code: 'ECONNRESET' });
});

t.test('500 streams on one multiplexed connection: 250 connections at once, each its own bytes', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-0', await startEchoServer(t));
  const pf = forwarder(t, server);
  const streams = await Promise.all(Array.from({ length: 250 }, () => open(pf, 'shop/web-0', 80, 10_000)));
  t.equal(server.counts.upgrades, 1, 'one upgraded connection');
  t.equal(server.counts.streams, 500, '500 SPDY streams on it');
  const answers = await Promise.all(
    streams.map(async (s, i) => {
      const got = readAll(s);
      s.end(`${i}:${'x'.repeat(i * 10)}`);
      return (await got).toString() === `${i}:${'x'.repeat(i * 10)}`;
    }),
  );
  t.equal(answers.filter(Boolean).length, 250, 'every connection got its own bytes back');
  await until('every stream to close', () => pf.stats().streamsOpen === 0);
});

t.test('a cold Pod: the open waits for a slow upgrade beyond its dial timeout, which then bounds the stream open', async (t) => {
  const server = await startPodServer(t);
  server.pods.set('web-0', await startEchoServer(t));
  server.upgradeDelayMs = 400;
  const pf = forwarder(t, server);
  const started = Date.now();
  const stream = await open(pf, 'shop/web-0', 80, 100);
  t.ok(Date.now() - started >= 350, 'it waited for the upgrade');
  stream.destroy();
  t.equal(pf.stats().opens['ok'], 1);
  t.equal(pf.stats().opens['timeout'], 0);
});
