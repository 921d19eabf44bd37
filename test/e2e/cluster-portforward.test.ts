/**
 * svcproxy --cluster with --pod-network portforward (the default) end to
 * end against the fake API server: every connection reaches its Pod through
 * the fake's pods/{name}/portforward (the fake dials the Pod's IP, where a
 * test server listens), balanced, surviving rollouts, with half-close intact.
 * The set-up is test/helpers/cluster.ts (podNetwork: 'portforward').
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { Test } from 'tap';
import t from 'tap';
import { main } from '../../src/app.js';
import { get } from '../helpers/admin.js';
import { POD_PORT, podHandler, podServer, services, startClusterInstance, WAIT_MS } from '../helpers/cluster.js';
import { rollout } from '../helpers/fake-apiserver/rollout.js';
import { type FakeApiServer, startFakeApiServer } from '../helpers/fake-apiserver/server.js';
import { eventually, request } from '../helpers/net.js';

t.setTimeout(180_000);

const SVC = { namespace: 'shop', name: 'web', selector: { app: 'web' }, ports: [{ name: 'http', port: 9080, targetPort: POD_PORT }] };
const PORT_KEY = 'shop/web:http';

interface EndpointAnswer {
  address: string;
  ready: boolean;
  reachedBy?: string;
}

async function endpoints(admin: number): Promise<EndpointAnswer[]> {
  const port = (await services(admin)).servicePorts.find((p) => p.key === PORT_KEY) as { endpoints: EndpointAnswer[] } | undefined;
  return port?.endpoints ?? [];
}

async function readyEndpoints(admin: number): Promise<string[]> {
  return (await endpoints(admin))
    .filter((e) => e.ready)
    .map((e) => e.address)
    .sort();
}

async function addressOf(admin: number, want: string[]): Promise<string> {
  let address = '';
  await eventually(
    async () => {
      address = (await services(admin)).services.find((s) => s.key === 'shop/web')?.addresses[0] ?? '';
      return address !== '' && JSON.stringify(await readyEndpoints(admin)) === JSON.stringify([...want].sort());
    },
    'shop/web to be served with its endpoints',
    WAIT_MS,
  );
  return address;
}

async function fetchFrom(address: string): Promise<string> {
  return (await request(9080, '', address)).data.toString();
}

async function addPod(t: Test, server: FakeApiServer, name: string): Promise<string> {
  const ip = server.cluster.addPod({ namespace: 'shop', name, labels: { app: 'web' } }).status.podIP ?? '';
  await podServer(t, ip);
  return ip;
}

async function dialService(t: Test, address: string): Promise<Socket> {
  const socket = connect({ host: address, port: 9080, allowHalfOpen: true });
  t.teardown(() => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

t.test('round robin across three Pods, each connection through port-forward; the endpoints say so', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.71' });
  server.cluster.addService(SVC);
  const ips = [await addPod(t, server, 'web-0'), await addPod(t, server, 'web-1'), await addPod(t, server, 'web-2')];
  const { admin } = await startClusterInstance(t, server, { podNetwork: 'portforward' });
  const address = await addressOf(admin, ips);
  t.ok(
    (await endpoints(admin)).every((e) => e.reachedBy === 'portforward'),
    'every endpoint is port-forwarded',
  );
  const seen: string[] = [];
  for (let i = 0; i < 9; i++) seen.push(await fetchFrom(address));
  t.same([...new Set(seen)].sort(), [...ips].sort(), 'every Pod answers');
  t.ok(
    ips.every((ip) => seen.filter((s) => s === ip).length === 3),
    `round robin: ${seen.join(' ')}`,
  );
  t.equal(server.portForward.sessionsOpen, 3, 'one upgraded connection per Pod');
  const metrics = await get(admin, '/metrics');
  t.match(metrics.body, /svcproxy_portforward_stream_opens_total\{result="ok"\} 9/);
  t.match(metrics.body, /svcproxy_portforward_sessions\{pod="shop\/web-0",protocol="(websocket|spdy)"\} 1/);
});

/** Sends `bytes` (a counter pattern) and reads the echo; both sha256-equal. */
async function echoed(t: Test, address: string, bytes: number): Promise<boolean> {
  const client = await dialService(t, address);
  const sent = createHash('sha256');
  const got = createHash('sha256');
  let received = 0;
  client.on('data', (c: Buffer) => {
    got.update(c);
    received += c.length;
  });
  const ended = once(client, 'end');
  const chunk = Buffer.alloc(64 * 1024, bytes & 0xff);
  for (let off = 0; off < bytes; off += chunk.length) {
    chunk.writeUInt32BE(off >>> 0, 0);
    sent.update(chunk);
    if (!client.write(Buffer.from(chunk))) await once(client, 'drain');
  }
  client.end();
  await ended;
  return received === bytes && got.digest('hex') === sent.digest('hex');
}

// 64 MiB each way rather than the 256: the suite runs on a loaded, shared 2-core machine, where 256 MiB
// through TLS, the fake's SPDY server and back takes minutes; the carrier has no size-dependent state to test beyond it.
t.test('64 MiB each way on one connection and 32 parallel connections arrive sha256-equal', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.72' });
  server.cluster.addService(SVC);
  const ip = server.cluster.addPod({ namespace: 'shop', name: 'web-0', labels: { app: 'web' } }).status.podIP ?? '';
  await podHandler(t, ip, (s) => s.pipe(s));
  const { admin } = await startClusterInstance(t, server, { podNetwork: 'portforward' });
  const address = await addressOf(admin, [ip]);
  t.ok(await echoed(t, address, 64 * 1024 * 1024), '64 MiB echoed, sha256-equal');
  const parallel = await Promise.all(Array.from({ length: 32 }, () => echoed(t, address, 1024 * 1024)));
  t.equal(parallel.filter(Boolean).length, 32, '32 parallel connections echoed, sha256-equal');
  t.equal(server.portForward.sessionsOpen, 1, 'all on one upgraded connection');
});

t.test('half-close: the request ends with a FIN through port-forward, the response follows', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.73' });
  server.cluster.addService(SVC);
  const ip = server.cluster.addPod({ namespace: 'shop', name: 'web-0', labels: { app: 'web' } }).status.podIP ?? '';
  await podHandler(t, ip, (s) => {
    let n = 0;
    s.on('data', (c: Buffer) => (n += c.length));
    s.on('end', () => s.end(`got ${n}`));
  });
  const { admin } = await startClusterInstance(t, server, { podNetwork: 'portforward' });
  const address = await addressOf(admin, [ip]);
  const client = await dialService(t, address);
  const chunks: Buffer[] = [];
  client.on('data', (c: Buffer) => chunks.push(c));
  const ended = once(client, 'end');
  client.end(Buffer.alloc(50_000, 'r'));
  await ended;
  t.equal(Buffer.concat(chunks).toString(), 'got 50000');
});

t.test('a rollout while a client connects continuously: no failed new connection', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.74' });
  server.cluster.addService(SVC);
  const servers = new Map<string, { close: () => Promise<void> }>();
  for (let i = 0; i < 2; i++) {
    const pod = server.cluster.addPod({ namespace: 'shop', name: `web-${i}`, labels: { app: 'web' } });
    servers.set(pod.status.podIP ?? '', await podServer(t, pod.status.podIP ?? ''));
  }
  const { admin } = await startClusterInstance(t, server, { podNetwork: 'portforward' });
  const address = await addressOf(admin, [...servers.keys()]);
  let running = true;
  const failures: string[] = [];
  let answered = 0;
  const client = (async () => {
    while (running) {
      const who = await fetchFrom(address);
      if (who === '') failures.push(`an empty answer at ${new Date().toISOString()}`);
      else answered++;
      await delay(2);
    }
  })();
  await rollout(server.cluster, {
    namespace: 'shop',
    selector: { app: 'web' },
    maxSurge: 1,
    onStep: async ({ action, pod }) => {
      const ip = pod.status.podIP ?? '';
      if (action === 'created') servers.set(ip, await podServer(t, ip));
      if (action === 'deleted') {
        await eventually(async () => !(await readyEndpoints(admin)).includes(ip), `${ip} to leave the endpoints`, WAIT_MS);
        await servers.get(ip)?.close();
      }
    },
  });
  const after = server.cluster.pods('shop', { app: 'web' }).map((p) => p.status.podIP ?? '');
  await eventually(async () => JSON.stringify(await readyEndpoints(admin)) === JSON.stringify([...after].sort()), 'the new Pods only', WAIT_MS);
  running = false;
  await client;
  t.same(failures, [], 'every new connection was answered');
  t.ok(answered > 0, `${answered} connections answered`);
});

/** A connection that stays open: each write is echoed. */
async function longConnection(t: Test, address: string): Promise<Socket> {
  const s = await dialService(t, address);
  s.on('error', () => undefined);
  return s;
}

/** Resolves when the socket has closed, reset or not (events.once would reject on the reset's 'error'). */
function closed(s: Socket): Promise<void> {
  return bounded(new Promise((resolve) => s.once('close', () => resolve())), 'the connection to close');
}

/** `p`, or a rejection naming `what` after WAIT_MS: no wait in these tests is unbounded. */
function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Writes `text` and reads until as many bytes came back (the Pods echo). */
async function roundTrip(s: Socket, text: string): Promise<string> {
  const got = new Promise<string>((resolve) => {
    let answer = '';
    const onData = (c: Buffer): void => {
      answer += c.toString();
      if (answer.length >= text.length) {
        s.off('data', onData);
        resolve(answer);
      }
    };
    s.on('data', onData);
    s.once('close', () => resolve(answer));
  });
  s.write(text);
  return bounded(got, `the echo of ${text}`);
}

/** A connection to a Pod that greets with its IP and a newline, then echoes: the connection and the Pod it reached. */
async function greeted(t: Test, address: string): Promise<{ socket: Socket; pod: string }> {
  const socket = await longConnection(t, address);
  const pod = await bounded(
    new Promise<string>((resolve) => {
      let text = '';
      const onData = (c: Buffer): void => {
        text += c.toString();
        const nl = text.indexOf('\n');
        if (nl < 0) return;
        socket.off('data', onData);
        resolve(text.slice(0, nl));
      };
      socket.on('data', onData);
    }),
    'the greeting',
  );
  return { socket, pod };
}

t.test('an upgraded connection killed, a Pod refused or deleted mid-traffic: only its connections end; new ones go on', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.75' });
  server.cluster.addService(SVC);
  const names = new Map<string, string>();
  for (let i = 0; i < 2; i++) {
    const ip = server.cluster.addPod({ namespace: 'shop', name: `web-${i}`, labels: { app: 'web' } }).status.podIP ?? '';
    await podHandler(t, ip, (s) => {
      s.write(`${ip}\n`);
      s.pipe(s);
    });
    names.set(ip, `web-${i}`);
  }
  const { admin } = await startClusterInstance(t, server, { podNetwork: 'portforward', portForwardTuning: { refusedSkipMs: 300 } });
  const address = await addressOf(admin, [...names.keys()]);
  const a = await greeted(t, address);
  const b = await greeted(t, address);
  t.not(a.pod, b.pod, 'round robin: two connections, two Pods');
  const p = names.get(a.pod) ?? '';
  const q = names.get(b.pod) ?? '';
  t.equal(await roundTrip(a.socket, 'a1'), 'a1');
  t.equal(await roundTrip(b.socket, 'b1'), 'b1');
  // The fake resets the upgraded connection of a's Pod: a ends, b keeps moving.
  const aClosed = closed(a.socket);
  server.killPortForwards(`shop/${p}`);
  await aClosed;
  t.equal(await roundTrip(b.socket, 'b2'), 'b2', "the other Pod's connection keeps moving");
  // a's Pod refuses its upgrades from now on: new connections go to the other one, none fails.
  server.portForward.refuse.set(`shop/${p}`, 403);
  for (let i = 0; i < 4; i++) {
    const c = await greeted(t, address);
    t.equal(c.pod, b.pod, `connection ${i} reached the Pod that is not refused`);
    c.socket.destroy();
  }
  server.portForward.refuse.delete(`shop/${p}`);
  // b's Pod deleted while b is open on it: b ends; new connections reach a's Pod again once the other has left.
  const bClosed = closed(b.socket);
  server.cluster.deletePod('shop', q);
  await eventually(async () => JSON.stringify(await readyEndpoints(admin)) === JSON.stringify([a.pod]), `${q} to leave`, WAIT_MS);
  server.killPortForwards(`shop/${q}`); // the kubelet's forward ends with its Pod
  await bClosed;
  // a's Pod was skipped after its refusals (refusedSkipMs, shortened here) and ejected by passive health: it comes back.
  const want = `${a.pod}\nd`;
  await eventually(async () => (await request(9080, 'd', address)).data.toString() === want, `${p} to carry new connections again`, WAIT_MS);
  t.pass(`${p} serves again`);
});

t.test('the API server down and back: new connections are carried again once it returns', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.76' });
  server.cluster.addService(SVC);
  const ip = await addPod(t, server, 'web-0');
  const { admin } = await startClusterInstance(t, server, { podNetwork: 'portforward' });
  const address = await addressOf(admin, [ip]);
  t.equal(await fetchFrom(address), ip);
  await server.outage('refuse');
  server.killPortForwards();
  // Down: no upgraded connection can be made; a new connection is reset (a failed dial), never hangs.
  t.equal(await fetchFrom(address), '', 'refused while the API server is down');
  await server.recover();
  await eventually(async () => (await fetchFrom(address)) === ip, 'connections carried again', WAIT_MS);
  t.pass('back');
});

t.test('malformed frames from the API server close that upgraded connection; the next connection gets a new one', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.77' });
  server.cluster.addService(SVC);
  const ip = server.cluster.addPod({ namespace: 'shop', name: 'web-0', labels: { app: 'web' } }).status.podIP ?? '';
  await podHandler(t, ip, (s) => s.pipe(s));
  const { admin, portForwarder } = await startClusterInstance(t, server, { podNetwork: 'portforward' });
  const address = await addressOf(admin, [ip]);
  const a = await longConnection(t, address);
  t.equal(await roundTrip(a, 'x'), 'x');
  const aClosed = closed(a);
  // A DATA frame for a stream that was never opened, with a length past every cap.
  server.portForward.injectFrames(Buffer.from([0x00, 0x00, 0x7f, 0x01, 0x00, 0xff, 0xff, 0xff]));
  await aClosed;
  const b = await longConnection(t, address);
  t.equal(await roundTrip(b, 'y'), 'y', 'a new upgraded connection carries the next one');
  b.destroy();
  t.ok((portForwarder?.stats().reconnects ?? 0) >= 1, 'counted as a reconnect');
});

t.test('a UDP port of a cluster Service is not served under portforward, and --check and /api/services say so', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.78' });
  server.cluster.addService({
    namespace: 'shop',
    name: 'dns',
    selector: { app: 'dns' },
    ports: [
      { name: 'tcp', port: 5300, targetPort: POD_PORT },
      { name: 'udp', port: 5300, targetPort: POD_PORT, protocol: 'UDP' },
    ],
  });
  server.cluster.addPod({ namespace: 'shop', name: 'dns-0', labels: { app: 'dns' } });
  const kubeconfig = await server.kubeconfig(t, { namespace: 'shop' });
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--cluster', '--kubeconfig', kubeconfig, '--check'], {}, { out: (l) => out.push(l), err: (l) => err.push(l) });
  t.equal(code, 0, err.join('\n'));
  t.match(out.join('\n'), /Service shop\/dns \(from cluster:[^)]+\) port udp 5300\/UDP: not proxied \(port-forward carries TCP only/);
  t.match(out.join('\n'), /Service shop\/dns \(from cluster:[^)]+\) port tcp 5300\/TCP: 127\./, 'the TCP port is served');
  t.match(err.join('\n'), /port udp 5300\/UDP is not served: port-forward carries TCP only/, 'a warning');
  const { admin } = await startClusterInstance(t, server, { podNetwork: 'portforward', kubeconfig });
  let udp: { servedOn: string[]; notServed?: string } | undefined;
  await eventually(
    async () => {
      const view = (await services(admin)).services.find((s) => s.key === 'shop/dns') as
        | { ports: Array<{ name: string; servedOn: string[]; notServed?: string }> }
        | undefined;
      udp = view?.ports.find((p) => p.name === 'udp');
      return udp !== undefined;
    },
    'shop/dns to be listed',
    WAIT_MS,
  );
  t.same(udp?.servedOn, []);
  t.match(udp?.notServed, /port-forward carries TCP only/);
});
