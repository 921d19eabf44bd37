/**
 * A minimal pods/{name}/portforward for the port-forwarder's tests: a plain
 * HTTP server whose `POST .../pods/NAME/portforward` with `Upgrade: SPDY/3.1`
 * answers 101 and speaks SPDY (src/spdy/, server role) as the kubelet does:
 * per requestid an error and a data stream, each replied to; the data stream
 * is piped to the Pod's loopback server (`pods`: name -> port), FIN as FIN
 * both ways; a dial failure is text on the error stream. The WebSocket form
 * is refused (400), so the dialer falls back as kubectl does. Knobs: refuse
 * a Pod (status), kill every session, write raw bytes into every session.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Test } from 'tap';
import type { ClusterAccess } from '../../src/kube/types.js';
import { SpdySession } from '../../src/spdy/session.js';
import type { SpdyStream } from '../../src/spdy/stream.js';
import { plainAccess } from '../helpers/plain-kubeconfig.js';

export interface PodServer {
  readonly access: ClusterAccess;
  /** Pod name (namespace `shop`) -> the port of its loopback server on 127.0.0.1. */
  readonly pods: Map<string, number>;
  /** Pod name -> the HTTP status its upgrades are refused with. */
  readonly refuse: Map<string, number>;
  /** Upgrades answered 101, and WebSocket attempts seen (refused). */
  readonly counts: { upgrades: number; webSocketAttempts: number; streams: number };
  /** Each 101 is sent this long after the request (a slow TLS handshake and upgrade). */
  upgradeDelayMs: number;
  /** Sessions open now. */
  readonly sessions: Set<SpdySession>;
  /** Resets the upgraded connections (of `pod`, else all): their sockets destroyed. */
  kill(pod?: string): void;
  /** Writes raw bytes into the open sessions' sockets (of `pod`, else all). */
  inject(bytes: Buffer, pod?: string): void;
}

function status(socket: Socket, code: number, message: string): void {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });
  socket.end(`HTTP/1.1 ${code} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** The kubelet's side of one session: pairs by requestid, dial on the data stream, pipe. */
function serve(session: SpdySession, server: PodServer, pod: string): void {
  const errors = new Map<string, SpdyStream>();
  session.on('stream', (stream: SpdyStream) => {
    server.counts.streams++;
    stream.on('error', () => undefined);
    stream.reply({});
    const id = stream.headers['requestid'] ?? '';
    if (stream.headers['streamtype'] === 'error') {
      errors.set(id, stream);
      stream.resume();
      stream.on('close', () => errors.delete(id));
      return;
    }
    const port = Number(stream.headers['port']);
    const target = server.pods.get(pod) ?? 0;
    const upstream = connect({ host: '127.0.0.1', port: target === 0 ? 1 : target, allowHalfOpen: true });
    upstream.on('error', (err) => {
      const errorStream = errors.get(id);
      if (errorStream !== undefined && !errorStream.destroyed) {
        errorStream.end(`an error occurred forwarding ${port} -> pod ${pod}_uid: ${err.message}`);
      }
      stream.reset();
    });
    upstream.on('connect', () => {
      stream.pipe(upstream);
      upstream.pipe(stream);
    });
    stream.on('close', () => {
      if (!upstream.destroyed && !upstream.writableEnded) upstream.destroy();
      const errorStream = errors.get(id);
      if (errorStream !== undefined && !errorStream.destroyed) errorStream.end();
    });
  });
}

/** Starts the server on 127.0.0.1:0 and a kubeconfig for it; everything closed at teardown. */
export async function startPodServer(t: Test): Promise<PodServer> {
  const sockets = new Set<Socket>();
  const podOf = new Map<Socket, string>();
  const sessions = new Set<SpdySession>();
  const pods = new Map<string, number>();
  const refuse = new Map<string, number>();
  const counts = { upgrades: 0, webSocketAttempts: 0, streams: 0 };
  const http = createServer((_req, res) => res.writeHead(404).end());
  let self: PodServer | undefined;
  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    const match = /^\/api\/v1\/namespaces\/shop\/pods\/([^/]+)\/portforward$/.exec(req.url ?? '');
    const pod = match?.[1] ?? '';
    if (req.headers.upgrade?.toLowerCase() === 'websocket') {
      counts.webSocketAttempts++;
      status(socket, 400, 'websocket is not offered here');
      return;
    }
    if (!pods.has(pod)) return status(socket, 404, `pods "${pod}" not found`);
    const refusal = refuse.get(pod);
    if (refusal !== undefined) return status(socket, refusal, `pods "${pod}" is forbidden`);
    const delayMs = self?.upgradeDelayMs ?? 0;
    if (delayMs > 0) {
      setTimeout(() => accept(socket, head, pod), delayMs);
      return;
    }
    accept(socket, head, pod);
  });
  const accept = (socket: Socket, head: Buffer, pod: string): void => {
    if (socket.destroyed) return;
    counts.upgrades++;
    podOf.set(socket, pod);
    socket.on('close', () => podOf.delete(socket));
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    const session = new SpdySession({ role: 'server', transport: socket });
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    if (self !== undefined) serve(session, self, pod);
  };
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  const { port } = http.address() as AddressInfo;
  const access = await plainAccess(t, port, 't');
  self = {
    access,
    pods,
    refuse,
    counts,
    upgradeDelayMs: 0,
    sessions,
    kill: (pod) => {
      for (const [s, p] of podOf) if (pod === undefined || p === pod) s.destroy();
    },
    inject: (bytes, pod) => {
      for (const [s, p] of podOf) if (!s.destroyed && (pod === undefined || p === pod)) s.write(bytes);
    },
  };
  return self;
}
