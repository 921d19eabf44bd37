import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import t from 'tap';
import { kubectlPortForward } from '../helpers/fake-apiserver/portforward-kubectl.js';
import { hashAndReply, sha256, startPodServer } from '../helpers/fake-apiserver/portforward-pod.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver/server.js';

// kubectl 1.32's port-forward is the judge of the fake's SPDY forms, in its three modes: the WebSocket tunnel
// (SPDY/3.1+portforward.k8s.io, its default), the same refused so that it falls back to the plain SPDY upgrade, and
// KUBECTL_PORT_FORWARD_WEBSOCKETS=false (plain SPDY only). Each run: megabytes each way on one connection and 50
// connections at once, every byte checked, and the streams kubectl opened checked against what the kubelet expects.

type Mode = 'websocket' | 'refused' | 'no-websockets';

const BIG = 4 * 1024 * 1024;
const SMALL = 64 * 1024;
const PARALLEL = 50;

async function prove(t: Test, mode: Mode): Promise<{ server: FakeApiServer; stderr: string }> {
  const server = await startFakeApiServer(t);
  server.portForward.refuseWebSocket = mode === 'refused';
  const pod = server.cluster.addPod({ namespace: 'shop', name: 'web-1', labels: { app: 'web' } });
  const reply = randomBytes(BIG);
  const backend = await startPodServer(t, pod.status.podIP ?? '', reply);
  const forward = await kubectlPortForward(t, await server.kubeconfig(t, { namespace: 'shop' }), {
    pod: 'web-1',
    remotePort: backend.port,
    ...(mode === 'no-websockets' ? { websockets: false } : {}),
    ...(mode === 'refused' ? { verbosity: 6 } : {}),
  });

  const upload = randomBytes(BIG);
  const big = await hashAndReply('127.0.0.1', forward.port, upload);
  t.equal(big.sha, sha256(upload), `${BIG} bytes up, intact, ended by the client's half-close`);
  t.equal(sha256(big.reply), sha256(reply), `${BIG} bytes down, intact`);

  const uploads = Array.from({ length: PARALLEL }, () => randomBytes(SMALL));
  const results = await Promise.all(uploads.map((u) => hashAndReply('127.0.0.1', forward.port, u)));
  const wantReply = sha256(reply.subarray(0, SMALL));
  t.equal(
    results.filter((r, i) => r.sha === sha256(uploads[i] ?? Buffer.alloc(0)) && sha256(r.reply) === wantReply).length,
    PARALLEL,
    `${PARALLEL} connections at once, each intact`,
  );

  t.equal(backend.accepted(), PARALLEL + 1, 'one Pod connection per local connection');
  t.equal(server.portForward.forwardsByPod.get('shop/web-1'), PARALLEL + 1);
  t.equal(server.portForward.sessionsOpen, 1, 'one upgraded connection carries them all');
  checkStreams(t, server, backend.port);
  return { server, stderr: forward.stderr() };
}

/** Per local connection: an error stream, then a data stream, same requestID, the remote port; odd ids, ascending. */
function checkStreams(t: Test, server: FakeApiServer, port: number): void {
  const log = server.portForward.streamLog;
  t.equal(log.length, 2 * (PARALLEL + 1));
  const byRequest = new Map<string, Array<{ id: number; type: string }>>();
  for (const s of log) {
    if (Object.keys(s.headers).sort().join(',') !== 'port,requestid,streamtype') t.fail(`stream ${s.id} headers ${JSON.stringify(s.headers)}`);
    if (s.headers['port'] !== String(port) || s.id % 2 !== 1) t.fail(`stream ${s.id}: ${JSON.stringify(s.headers)}`);
    const list = byRequest.get(s.headers['requestid'] ?? '') ?? [];
    list.push({ id: s.id, type: s.headers['streamtype'] ?? '' });
    byRequest.set(s.headers['requestid'] ?? '', list);
  }
  t.equal(byRequest.size, PARALLEL + 1, 'one requestID per connection');
  const pairsOk = [...byRequest.values()].every((p) => p.length === 2 && p[0]?.type === 'error' && p[1]?.type === 'data' && (p[0]?.id ?? 0) < (p[1]?.id ?? 0));
  t.ok(pairsOk, 'each pair: the error stream first, then the data stream');
}

t.test('kubectl port-forward, WebSocket accepted: SPDY over the WebSocket tunnel', async (t) => {
  const { server } = await prove(t, 'websocket');
  t.same(server.portForward.upgrades, { spdy: 0, 'spdy-websocket': 1, 'v4.channel': 0 });
});

t.test('kubectl port-forward, WebSocket refused: it falls back to the SPDY upgrade and says so at -v=6', async (t) => {
  const { server, stderr } = await prove(t, 'refused');
  t.same(server.portForward.upgrades, { spdy: 1, 'spdy-websocket': 0, 'v4.channel': 0 });
  t.equal(server.portForward.refusals.get(400), 1);
  t.match(stderr, /fallback to secondary dialer from primary dialer err: unable to upgrade streaming request/);
  const asked = server.requests.filter((r) => r.path.endsWith('/portforward')).map((r) => [r.method, r.code]);
  t.same(asked, [
    ['GET', 400],
    ['POST', 101],
  ]);
});

t.test('kubectl port-forward, KUBECTL_PORT_FORWARD_WEBSOCKETS=false: plain SPDY, no WebSocket tried', async (t) => {
  const { server } = await prove(t, 'no-websockets');
  t.same(server.portForward.upgrades, { spdy: 1, 'spdy-websocket': 0, 'v4.channel': 0 });
  const asked = server.requests.filter((r) => r.path.endsWith('/portforward')).map((r) => r.method);
  t.same(asked, ['POST'], 'one POST upgrade, no WebSocket GET');
});
