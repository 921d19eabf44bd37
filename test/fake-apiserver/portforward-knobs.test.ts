import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:https';
import type { Test } from 'tap';
import t from 'tap';
import { openForward, upgradePortForward, type UpgradeForm } from '../helpers/fake-apiserver/portforward-client.js';
import { sha256, startPodServer } from '../helpers/fake-apiserver/portforward-pod.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver/server.js';
import type { PodObject } from '../helpers/fake-apiserver/types.js';
import { until } from '../helpers/fake-apiserver/wait.js';

// The fake's port-forward knobs and counters, as the carrier's tests use them, through a minimal client
// (src/spdy's session in the client role; the WebSocket form through src/kube/websocket-tunnel.ts's client role).

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function withPod(t: Test, name: string): Promise<{ server: FakeApiServer; port: number; reply: Buffer }> {
  const server = await startFakeApiServer(t);
  const pod = server.cluster.addPod({ namespace: 'shop', name, labels: { app: 'web' } });
  const reply = randomBytes(256 * 1024);
  const backend = await startPodServer(t, pod.status.podIP ?? '', reply);
  return { server, port: backend.port, reply };
}

for (const form of ['spdy', 'websocket'] as const satisfies readonly UpgradeForm[]) {
  t.test(`${form}: a forward with FIN both ways, the counters, a failed dial's text, a second connection on the same session`, async (t) => {
    const { server, port, reply } = await withPod(t, 'web-1');
    const answer = await upgradePortForward(t, server, 'shop/web-1', { form });
    t.equal(answer.code, 101);
    const session = answer.session;
    if (session === undefined) throw new Error('no session');
    t.same(server.portForward.upgrades, { spdy: form === 'spdy' ? 1 : 0, 'spdy-websocket': form === 'websocket' ? 1 : 0, 'v4.channel': 0 });

    const upload = randomBytes(300 * 1024);
    const first = openForward(session, port, 0);
    const got = readAll(first.data);
    first.data.end(upload); // FIN after the upload: the Pod answers only after its read side ended
    const back = await got;
    t.equal(back.subarray(0, 64).toString(), sha256(upload), 'the upload, up to the half-close');
    t.equal(sha256(back.subarray(64)), sha256(reply), 'the reply, up to the Pod FIN');
    t.equal(await first.errorText, '', 'an empty error stream, closed by the server');

    const refused = openForward(session, 1, 1);
    refused.data.resume();
    t.match(await refused.errorText, /^error forwarding port 1 to pod [0-9a-f]{64}, uid : .*connect: connection refused/);
    t.equal(server.portForward.forwardsByPod.get('shop/web-1'), 2);
    t.equal(server.portForward.requestsByPod.get('shop/web-1'), 1);
    t.equal(server.portForward.sessionsOpen, 1);
    await until(() => server.portForward.streamsOpen === 0, 'no Pod connection open');
    t.same(
      server.portForward.streamLog.map((s) => [s.id, s.headers['streamtype'], s.headers['requestid']]),
      [
        [1, 'error', '0'],
        [3, 'data', '0'],
        [5, 'error', '1'],
        [7, 'data', '1'],
      ],
    );
  });
}

t.test('refusals: per Pod 403/404/500, a missing Pod, a Pod not Running, a forbidden namespace, a bad token, no upgrade at all', async (t) => {
  const { server } = await withPod(t, 'web-1');
  server.cluster.addPod({ namespace: 'shop', name: 'web-2', labels: { app: 'web' } });
  const cases: Array<{ pod: string; setup: () => void; code: number; body: RegExp; form?: UpgradeForm; token?: string }> = [
    {
      pod: 'shop/web-1',
      setup: () => server.portForward.refuse.set('shop/web-1', 403),
      code: 403,
      body: /pods \\"web-1\\" is forbidden: User \\"fake-token-user\\" cannot create resource \\"pods\/portforward\\"/,
    },
    { pod: 'shop/web-1', setup: () => server.portForward.refuse.set('shop/web-1', 404), code: 404, body: /^pod does not exist$/ },
    { pod: 'shop/web-1', setup: () => server.portForward.refuse.set('shop/web-1', 500), code: 500, body: /"reason":"InternalError"/ },
    { pod: 'shop/nope', setup: () => server.portForward.refuse.clear(), code: 404, body: /pods \\"nope\\" not found/ },
    {
      pod: 'shop/web-2',
      setup: () => server.cluster.store.update('Pod', 'shop', 'web-2', (o) => void ((o as PodObject).status.phase = 'Pending')),
      code: 400,
      body: /unable to upgrade connection: pod does not exist/,
    },
    {
      pod: 'shop/web-1',
      setup: () => server.policy.forbiddenNamespaces.add('shop'),
      code: 403,
      body: /cannot get resource \\"pods\/portforward\\"/,
      form: 'websocket',
    },
    { pod: 'shop/web-1', setup: () => server.policy.forbiddenNamespaces.clear(), code: 401, body: /Unauthorized/, token: 'nope' },
    { pod: 'shop/web-1', setup: () => (server.portForward.refuseWebSocket = true), code: 400, body: /refuseWebSocket/, form: 'websocket' },
  ];
  for (const c of cases) {
    c.setup();
    const answer = await upgradePortForward(t, server, c.pod, { form: c.form ?? 'spdy', ...(c.token === undefined ? {} : { token: c.token }) });
    t.equal(answer.code, c.code, `${c.pod}: ${c.code}`);
    t.match(answer.body, c.body);
  }
  t.same(server.portForward.upgrades, { spdy: 0, 'spdy-websocket': 0, 'v4.channel': 0 }, 'nothing upgraded');
  t.equal(server.portForward.requestsByPod.get('shop/web-1'), 4, 'requests per Pod count the refused ones (not 401/403-by-namespace)');
  t.equal(server.portForward.sessionsOpen, 0);

  const plain = request(`${server.url}/api/v1/namespaces/shop/pods/web-1/portforward`, {
    method: 'POST',
    ca: server.pki.caCert,
    headers: { Authorization: 'Bearer fake-token' },
  });
  plain.end();
  const [res] = (await once(plain, 'response')) as [NodeJS.ReadableStream & { statusCode?: number }];
  t.equal(res.statusCode, 400);
  t.match((await readAll(res)).toString(), /Upgrade request required/);
});

t.test('kill: one Pod`s upgraded connections or all; the other Pod`s session goes on', async (t) => {
  const { server, port } = await withPod(t, 'web-1');
  const other = server.cluster.addPod({ namespace: 'shop', name: 'web-2', labels: { app: 'web' } });
  const otherBackend = await startPodServer(t, other.status.podIP ?? '', Buffer.from('pong'));
  const one = (await upgradePortForward(t, server, 'shop/web-1', { form: 'spdy' })).session;
  const two = (await upgradePortForward(t, server, 'shop/web-2', { form: 'websocket' })).session;
  if (one === undefined || two === undefined) throw new Error('no session');
  const held = openForward(one, port, 0);
  held.data.resume();
  await until(() => server.portForward.streamsOpen === 1, 'the held Pod connection');
  const closed = once(one, 'close');
  const heldGone = new Promise((resolve) => held.data.on('close', resolve)); // once() would reject on its 'error'
  t.equal(server.killPortForwards('shop/web-1'), 1);
  await closed;
  await heldGone;
  t.ok(held.data.destroyed, 'the stream it carried is gone');
  t.equal(
    server.portForward
      .openSessions()
      .map((s) => `${s.pod} ${s.protocol}`)
      .join(),
    'shop/web-2 spdy-websocket',
  );
  const still = openForward(two, otherBackend.port, 0);
  const got = readAll(still.data);
  still.data.end(Buffer.from('ping'));
  t.equal((await got).subarray(64).toString(), 'pong', 'the other Pod`s session still forwards');
  const twoClosed = once(two, 'close');
  t.equal(server.killPortForwards(), 1);
  await twoClosed;
  await until(() => server.portForward.sessionsOpen === 0, 'no session left');
});

t.test('injectFrames: malformed bytes close the sessions with a protocol error, and only those', async (t) => {
  const { server } = await withPod(t, 'web-1');
  const spdy = (await upgradePortForward(t, server, 'shop/web-1', { form: 'spdy' })).session;
  const ws = (await upgradePortForward(t, server, 'shop/web-1', { form: 'websocket' })).session;
  if (spdy === undefined || ws === undefined) throw new Error('no session');
  const errors = Promise.all([once(spdy, 'close'), once(ws, 'close')]);
  // A control frame of SPDY version 2 with a 16 MiB length: no SPDY/3 peer takes it.
  const bad = Buffer.from([0x80, 0x02, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff]);
  t.equal(server.portForward.injectFrames(bad), 2);
  const [[e1], [e2]] = (await errors) as [[Error | undefined], [Error | undefined]];
  t.match(e1, { code: /^ESPDY/ });
  t.match(e2, { code: /^ESPDY/ });
});
