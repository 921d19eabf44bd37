/**
 * A minimal port-forward client for the fake's own tests and the carrier's: the HTTP upgrade by hand over TLS (the
 * plain SPDY form or the WebSocket form with `SPDY/3.1+portforward.k8s.io`), then src/spdy's session in the client
 * role, and one forwarded connection as kubectl opens it (error stream, half-closed at once, then the data stream).
 */
import { once } from 'node:events';
import { connect, type TLSSocket } from 'node:tls';
import type { Test } from 'tap';
import { SpdySession } from '../../../src/spdy/session.js';
import type { SpdyStream } from '../../../src/spdy/stream.js';
import { SPDY_WEBSOCKET_PROTOCOL, WebSocketTunnel, newWebSocketKey, webSocketAccept } from '../../../src/kube/websocket-tunnel.js';
import { DEFAULT_TOKEN, type FakeApiServer } from './server.js';

export type UpgradeForm = 'spdy' | 'websocket';

export interface UpgradeAnswer {
  readonly code: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The body of a refusal (empty after a 101). */
  readonly body: string;
  /** After a 101: the session, client role. */
  readonly session: SpdySession | undefined;
}

const MAX_HEAD = 64 * 1024;

/** Reads an HTTP response head off the socket; resolves with the status, headers and the bytes after the head. */
async function readHead(socket: TLSSocket): Promise<{ code: number; headers: Record<string, string>; rest: Buffer }> {
  let buf = Buffer.alloc(0);
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (end !== -1) {
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const code = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      return { code, headers, rest: buf.subarray(end + 4) };
    }
    if (buf.length > MAX_HEAD) throw new Error('an HTTP head over 64 KiB');
    const [chunk] = (await Promise.race([once(socket, 'data'), once(socket, 'end').then(() => [undefined])])) as [Buffer | undefined];
    if (chunk === undefined) throw new Error(`the server closed before an HTTP head; got ${JSON.stringify(buf.toString('latin1'))}`);
    buf = Buffer.concat([buf, chunk]);
  }
}

/** The upgrade request of `form` for Pod `ns/name`; the socket is destroyed at teardown. */
export async function upgradePortForward(
  t: Test,
  server: FakeApiServer,
  pod: string,
  options: { readonly form: UpgradeForm; readonly token?: string },
): Promise<UpgradeAnswer> {
  const [namespace, name] = pod.split('/');
  const socket = connect({ host: '127.0.0.1', port: server.port, ca: server.pki.caCert });
  socket.on('error', () => undefined);
  t.teardown(() => socket.destroy());
  await once(socket, 'secureConnect');
  const key = newWebSocketKey();
  const path = `/api/v1/namespaces/${namespace}/pods/${name}/portforward`;
  const common = `Host: 127.0.0.1:${server.port}\r\nAuthorization: Bearer ${options.token ?? DEFAULT_TOKEN}\r\nConnection: Upgrade\r\n`;
  socket.write(
    options.form === 'spdy'
      ? `POST ${path} HTTP/1.1\r\n${common}Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n`
      : `GET ${path} HTTP/1.1\r\n${common}Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Protocol: ${SPDY_WEBSOCKET_PROTOCOL}\r\n\r\n`,
  );
  const head = await readHead(socket);
  if (head.code !== 101) {
    const chunks: Buffer[] = [head.rest];
    socket.on('data', (c: Buffer) => chunks.push(c));
    await once(socket, 'close');
    return { code: head.code, headers: head.headers, body: Buffer.concat(chunks).toString(), session: undefined };
  }
  socket.pause();
  if (options.form === 'websocket' && head.headers['sec-websocket-accept'] !== webSocketAccept(key)) throw new Error('a bad Sec-WebSocket-Accept');
  let transport: SpdySessionTransport = socket;
  if (options.form === 'websocket') transport = new WebSocketTunnel(socket, { role: 'client', head: head.rest });
  else if (head.rest.length > 0) socket.unshift(head.rest);
  const session = new SpdySession({ role: 'client', transport });
  // Paused since the head was read (no byte may go by unheard); a 'data' listener alone does not undo pause().
  socket.resume();
  session.on('close', () => undefined);
  t.teardown(() => session.destroy());
  return { code: 101, headers: head.headers, body: '', session };
}

type SpdySessionTransport = ConstructorParameters<typeof SpdySession>[0]['transport'];

export interface ForwardedStreams {
  readonly error: SpdyStream;
  readonly data: SpdyStream;
  /** Everything the error stream carried, at its end. */
  readonly errorText: Promise<string>;
}

/** One forwarded connection as kubectl opens it: the error stream (half-closed at once), then the data stream. */
export function openForward(session: SpdySession, port: number, requestId: number): ForwardedStreams {
  const error = session.openStream({ streamType: 'error', port: String(port), requestID: String(requestId) }, { fin: true });
  const data = session.openStream({ streamType: 'data', port: String(port), requestID: String(requestId) });
  error.on('error', () => undefined);
  data.on('error', () => undefined);
  const errorText = new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    error.on('data', (c: Buffer) => chunks.push(c));
    error.on('end', () => resolve(Buffer.concat(chunks).toString()));
    error.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });
  return { error, data, errorText };
}
