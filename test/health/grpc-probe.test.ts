/**
 * gRPC readiness probes against a real gRPC health server (@grpc/grpc-js with
 * grpc-health-check, the reference implementation of grpc.health.v1), judged
 * as the kubelet judges them: ready only on OK + SERVING.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatusMap } from 'grpc-health-check';
import t, { type Test } from 'tap';
import { decodeCheckResponse, encodeCheckRequest } from '../../src/health/grpc-probe.js';
import { runProbe, type ProbeResult, type RunnableProbe } from '../../src/health/probe.js';
import { startBlackhole } from '../helpers/blackhole.js';
import { freePort } from '../helpers/net.js';

const timing = { initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 };

function grpcProbe(port: number, service = ''): RunnableProbe {
  return { container: 'app', kind: 'grpc', port, service, ...timing };
}

function probe(p: RunnableProbe): Promise<ProbeResult> {
  return new Promise((resolve) => runProbe(p, '127.0.0.1', resolve));
}

/** A gRPC server on 127.0.0.1:<ephemeral>, with the health service unless `health` is undefined. */
async function startGrpc(t: Test, health: ServingStatusMap | undefined): Promise<{ port: number; impl: HealthImplementation | undefined }> {
  const server = new Server();
  const impl = health === undefined ? undefined : new HealthImplementation(health);
  impl?.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err === null ? resolve(bound) : reject(err))),
  );
  t.teardown(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  return { port, impl };
}

t.test('the whole server ("") and a named service answer SERVING: ready', async (t) => {
  const { port } = await startGrpc(t, { '': 'SERVING', reviews: 'SERVING' });
  t.same(await probe(grpcProbe(port)), { ok: true, reason: 'grpc SERVING' });
  t.same(await probe(grpcProbe(port, 'reviews')), { ok: true, reason: 'grpc SERVING' });
});

t.test('NOT_SERVING and UNKNOWN are failures; a status change is seen by the next attempt', async (t) => {
  const { port, impl } = await startGrpc(t, { '': 'SERVING', reviews: 'NOT_SERVING', ratings: 'UNKNOWN' });
  t.same(await probe(grpcProbe(port, 'reviews')), { ok: false, reason: 'grpc NOT_SERVING' });
  t.same(await probe(grpcProbe(port, 'ratings')), { ok: false, reason: 'grpc UNKNOWN' });
  impl?.setStatus('reviews', 'SERVING');
  t.same(await probe(grpcProbe(port, 'reviews')), { ok: true, reason: 'grpc SERVING' });
});

t.test('an unknown service (NOT_FOUND) is a failure', async (t) => {
  const { port } = await startGrpc(t, { '': 'SERVING' });
  t.same(await probe(grpcProbe(port, 'nope')), { ok: false, reason: 'grpc NOT_FOUND: service "nope" unknown' });
});

t.test('a gRPC server without the health service (UNIMPLEMENTED) is a failure', async (t) => {
  const { port } = await startGrpc(t, undefined);
  t.same(await probe(grpcProbe(port)), { ok: false, reason: 'the server does not implement the grpc health protocol' });
});

t.test('a refused connection fails; a connection that hangs fails at the probe timeout', async (t) => {
  const refused = await probe(grpcProbe(await freePort()));
  t.equal(refused.ok, false);
  t.match(refused.reason, /^grpc UNAVAILABLE/);
  const hole = await startBlackhole(t);
  const started = performance.now();
  t.same(await probe(grpcProbe(hole)), { ok: false, reason: 'timeout after 1000 ms' });
  t.ok(performance.now() - started < 5000, 'the deadline bounds the attempt');
});

t.test('a cancelled attempt never calls back', async (t) => {
  const { port } = await startGrpc(t, { '': 'SERVING' });
  let called = false;
  const cancel = runProbe(grpcProbe(port), '127.0.0.1', () => (called = true));
  cancel();
  // A later attempt completes, so the first one had every chance to call back.
  t.same(await probe(grpcProbe(port)), { ok: true, reason: 'grpc SERVING' });
  t.equal(called, false);
});

t.test('the two health messages encode and decode as proto3', async (t) => {
  t.same(encodeCheckRequest(''), Buffer.alloc(0), 'the empty service is an empty message');
  t.same(encodeCheckRequest('foo'), Buffer.from([0x0a, 0x03, 0x66, 0x6f, 0x6f]));
  t.equal(decodeCheckResponse(Buffer.from([0x08, 0x01])), 1, 'SERVING');
  t.equal(decodeCheckResponse(Buffer.from([0x08, 0x02])), 2, 'NOT_SERVING');
  t.equal(decodeCheckResponse(Buffer.alloc(0)), 0, 'UNKNOWN is the omitted zero');
  t.equal(decodeCheckResponse(Buffer.from([0x12, 0x01, 0x78, 0x08, 0x01])), 1, 'an unknown field before it is skipped');
  t.throws(() => decodeCheckResponse(Buffer.from([0x08, 0x80])), /truncated/);
});
