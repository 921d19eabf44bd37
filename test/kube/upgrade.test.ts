import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Test } from 'tap';
import t from 'tap';
import type { ClusterAccess } from '../../src/kube/types.js';
import { UpgradeRefused } from '../../src/kube/upgrade.js';
import { plainAccess } from '../helpers/plain-kubeconfig.js';

type Handler = (req: IncomingMessage, socket: Socket, head: Buffer) => void;

/** A plain-HTTP API server stand-in whose upgrades `handler` answers; a kubeconfig with a token for it. */
async function stub(t: Test, handler: Handler): Promise<{ access: ClusterAccess; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => res.writeHead(500).end());
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    seen.push(req);
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    handler(req, socket, head);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  const access = await plainAccess(t, port, 'tok-123');
  return { access, seen };
}

const SPDY = { Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'portforward.k8s.io' };

function refusal(status: number, body: string): Handler {
  return (_req, socket) => {
    socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };
}

t.test('a 101 resolves with the socket, the bytes after the headers and the headers; auth and protocol headers are sent', async (t) => {
  const { access, seen } = await stub(t, (_req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\nearly');
    socket.pipe(socket);
  });
  const up = await access.upgrade('/api/v1/namespaces/shop/pods/web-0/portforward', {
    method: 'POST',
    headers: SPDY,
    signal: AbortSignal.timeout(5000),
    timeoutMs: 5000,
  });
  t.teardown(() => up.socket.destroy());
  up.socket.on('error', () => undefined);
  const req = seen[0];
  t.equal(req?.method, 'POST');
  t.equal(req?.url, '/api/v1/namespaces/shop/pods/web-0/portforward');
  t.equal(req?.headers['authorization'], 'Bearer tok-123');
  t.equal(req?.headers['upgrade'], 'SPDY/3.1');
  t.equal(req?.headers['connection'], 'Upgrade');
  t.equal(req?.headers['x-stream-protocol-version'], 'portforward.k8s.io');
  t.equal(up.headers['x-stream-protocol-version'], 'portforward.k8s.io');
  // The head may hold the first bytes, or they come as the first data: together they read 'early'.
  const got: Buffer[] = [up.head];
  up.socket.on('data', (c: Buffer) => got.push(c));
  up.socket.write('echo');
  const deadline = Date.now() + 5000;
  while (Buffer.concat(got).toString() !== 'earlyecho' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(Buffer.concat(got).toString(), 'earlyecho', 'the upgraded socket carries bytes both ways');
});

t.test('any other answer rejects with an UpgradeRefused: the status and the Status message', async (t) => {
  const status = JSON.stringify({ kind: 'Status', status: 'Failure', message: 'pods "web-0" is forbidden: no', reason: 'Forbidden', code: 403 });
  const { access } = await stub(t, refusal(403, status));
  const err = await access.upgrade('/p', { method: 'GET', headers: SPDY, signal: AbortSignal.timeout(5000), timeoutMs: 5000 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof UpgradeRefused);
  t.match(err, { status: 403, code: 'E_UPGRADE_REFUSED', message: 'pods "web-0" is forbidden: no' });
});

t.test('a refusal whose body is not a Status keeps its text, truncated', async (t) => {
  const { access } = await stub(t, refusal(400, `unable to upgrade connection: pod does not exist ${'x'.repeat(2000)}`));
  const err = await access.upgrade('/p', { method: 'POST', headers: SPDY, signal: AbortSignal.timeout(5000), timeoutMs: 5000 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof UpgradeRefused);
  const refused = err as UpgradeRefused;
  t.equal(refused.status, 400);
  t.match(refused.message, /^unable to upgrade connection: pod does not exist x+\.\.\.$/);
  t.ok(refused.message.length <= 515, 'capped');
});

t.test('no answer within the timeout rejects with ETIMEDOUT; an abort rejects at once', async (t) => {
  const { access } = await stub(t, () => undefined);
  const started = Date.now();
  const timedOut = await access.upgrade('/p', { method: 'POST', headers: SPDY, signal: AbortSignal.timeout(10_000), timeoutMs: 200 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.match(timedOut, { code: 'ETIMEDOUT' });
  t.ok(Date.now() - started < 5000, 'within the timeout, not the signal');
  const controller = new AbortController();
  const pending = access.upgrade('/p', { method: 'POST', headers: SPDY, signal: controller.signal, timeoutMs: 10_000 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  setImmediate(() => controller.abort());
  t.match(await pending, { name: 'AbortError' });
});
