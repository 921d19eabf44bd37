import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { KubeConfig, PortForward } from '@kubernetes/client-node';
import type { Test } from 'tap';
import t from 'tap';
import type WebSocket from 'ws';
import { sha256, startPodServer } from '../helpers/fake-apiserver/portforward-pod.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver/server.js';
import { until } from '../helpers/fake-apiserver/wait.js';

// client-node 2.0.1's PortForward speaks the kubelet's channel protocol (v4.channel.k8s.io): one WebSocket per
// connection, the port first on each channel, data on 0, errors on 1. It judges the fake's third form.

async function config(t: Test, server: FakeApiServer): Promise<KubeConfig> {
  const kc = new KubeConfig();
  kc.loadFromFile(await server.kubeconfig(t, { namespace: 'shop' }));
  return kc;
}

class Collect extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk);
    cb();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

async function forward(
  t: Test,
  server: FakeApiServer,
  pod: string,
  port: number,
): Promise<{ ws: WebSocket; output: Collect; errors: Collect; input: PassThrough }> {
  const output = new Collect();
  const errors = new Collect();
  const input = new PassThrough();
  const ws = (await new PortForward(await config(t, server)).portForward('shop', pod, [port], output, errors, input)) as WebSocket;
  t.teardown(() => ws.terminate());
  return { ws, output, errors, input };
}

t.test('client-node PortForward: megabytes each way through v4.channel, the port bytes stripped, the WebSocket closed at the Pod end', async (t) => {
  const server = await startFakeApiServer(t);
  const pod = server.cluster.addPod({ namespace: 'shop', name: 'web-1', labels: { app: 'web' } });
  const upload = randomBytes(3 * 1024 * 1024);
  const reply = randomBytes(2 * 1024 * 1024);
  // No half-close in this protocol: the Pod answers once it has the whole upload.
  const backend = await startPodServer(t, pod.status.podIP ?? '', reply, { expect: upload.length });
  const { ws, output, errors, input } = await forward(t, server, 'web-1', backend.port);
  t.equal(ws.protocol, 'v4.channel.k8s.io');
  const closed = once(ws, 'close') as Promise<[number]>;
  input.write(upload);
  const [code] = await closed;
  t.equal(code, 1000, 'the Pod ended the connection: a normal close');
  const got = output.bytes;
  t.equal(got.subarray(0, 64).toString(), sha256(upload), 'the upload arrived intact');
  t.equal(sha256(got.subarray(64)), sha256(reply), 'the reply arrived intact');
  t.equal(errors.bytes.length, 0, 'nothing on the error channel');
  t.same(server.portForward.upgrades, { spdy: 0, 'spdy-websocket': 0, 'v4.channel': 1 });
  t.equal(server.portForward.forwardsByPod.get('shop/web-1'), 1);
  await until(() => server.portForward.sessionsOpen === 0, 'the session gone');
});

t.test('client-node PortForward: a port nobody listens on gets the kubelet error text on the error channel', async (t) => {
  const server = await startFakeApiServer(t);
  // A fresh Pod IP where no test listens: port 1 there is refused.
  server.cluster.addPod({ namespace: 'shop', name: 'web-2', labels: { app: 'web' } });
  const { ws, errors } = await forward(t, server, 'web-2', 1);
  const closed = once(ws, 'close');
  await closed;
  t.match(errors.bytes.toString(), /^error forwarding port 1 to pod [0-9a-f]{64}, uid : .*dial tcp4 127\.0\.10\.1:1: connect: connection refused/);
});

t.test('client-node PortForward: a missing Pod is a 404, a forbidden namespace a 403, the client closing ends the Pod connection', async (t) => {
  const server = await startFakeApiServer(t);
  const kc = await config(t, server);
  const sink = new Collect();
  await t.rejects(new PortForward(kc).portForward('shop', 'nope', [80], sink, sink, new PassThrough()), /404/);
  server.policy.forbiddenNamespaces.add('shop');
  await t.rejects(new PortForward(kc).portForward('shop', 'nope', [80], sink, sink, new PassThrough()), /403/);
  server.policy.forbiddenNamespaces.delete('shop');
  t.same(
    [...server.portForward.refusals.entries()].sort((a, b) => a[0] - b[0]),
    [
      [403, 1],
      [404, 1],
    ],
  );

  const pod = server.cluster.addPod({ namespace: 'shop', name: 'web-3', labels: { app: 'web' } });
  const backend = await startPodServer(t, pod.status.podIP ?? '', Buffer.alloc(0));
  const { input } = await forward(t, server, 'web-3', backend.port);
  await until(() => backend.open() === 1, 'the Pod connection');
  input.end(); // client-node closes the WebSocket at the end of its input (v4 has no close-stream message)
  await until(() => backend.open() === 0 && server.portForward.sessionsOpen === 0, 'the Pod connection and the session gone');
});
