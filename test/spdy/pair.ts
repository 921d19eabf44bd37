/** Two SPDY sessions over a real loopback TCP pair, closed at teardown. */
import { once } from 'node:events';
import { createServer, type Server, type Socket, connect } from 'node:net';
import type { Test } from 'tap';
import type { SpdyLimits } from '../../src/spdy/limits.js';
import { SpdySession } from '../../src/spdy/session.js';
import type { SpdyStream } from '../../src/spdy/stream.js';

export interface SocketPair {
  readonly clientSocket: Socket;
  readonly serverSocket: Socket;
}

/** A connected loopback pair; the listener is closed once it has accepted. */
export async function socketPair(t: Test): Promise<SocketPair> {
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const clientSocket = connect(address.port, '127.0.0.1');
  const [[serverSocket]] = await Promise.all([accepted, once(clientSocket, 'connect')]);
  server.close();
  t.teardown(() => {
    clientSocket.destroy();
    serverSocket.destroy();
  });
  return { clientSocket, serverSocket };
}

export interface SessionPair extends SocketPair {
  readonly client: SpdySession;
  readonly server: SpdySession;
}

export async function sessionPair(t: Test, limits?: Partial<SpdyLimits>, serverLimits?: Partial<SpdyLimits>): Promise<SessionPair> {
  const sockets = await socketPair(t);
  const client = new SpdySession({ role: 'client', transport: sockets.clientSocket, ...(limits === undefined ? {} : { limits }) });
  const serverOptions = serverLimits ?? limits;
  const server = new SpdySession({ role: 'server', transport: sockets.serverSocket, ...(serverOptions === undefined ? {} : { limits: serverOptions }) });
  t.teardown(() => {
    client.destroy();
    server.destroy();
  });
  return { ...sockets, client, server };
}

/** Everything a stream delivers until its end, or the error that stopped it. */
export function collect(stream: SpdyStream): Promise<{ readonly data: Buffer; readonly error: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ data: Buffer.concat(chunks), error: '' }));
    stream.on('error', (err: NodeJS.ErrnoException) => resolve({ data: Buffer.concat(chunks), error: err.code ?? err.message }));
  });
}

/** The next peer stream the session announces. */
export async function nextStream(session: SpdySession): Promise<SpdyStream> {
  const [stream] = (await once(session, 'stream')) as [SpdyStream];
  return stream;
}

/** Resolves once the stream has emitted 'close' (now or before). */
export async function closed(stream: SpdyStream): Promise<void> {
  if (!stream.closed) await once(stream, 'close');
}
