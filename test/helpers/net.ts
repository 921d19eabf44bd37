/**
 * Real-socket fixtures on loopback. Every resource registers its teardown
 * right after it is created, so a failing test leaks nothing.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Test } from 'tap';

export function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server is not listening on TCP');
  return address.port;
}

/** A TCP server on host:0 with allowHalfOpen, closed (connections too) at teardown. */
export async function startServer(t: Test, onSocket: (socket: Socket) => void, host = '127.0.0.1'): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  server.listen(0, host);
  await once(server, 'listening');
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return portOf(server);
}

/** Answers every connection with its name and closes: tells which endpoint a connection reached. */
export function startNamedServer(t: Test, name: string, host = '127.0.0.1'): Promise<number> {
  return startServer(t, (s) => s.end(name), host);
}

/** Echoes every byte back, and ends when the client ends. */
export function startEchoServer(t: Test, host = '127.0.0.1'): Promise<number> {
  return startServer(t, (s) => s.pipe(s), host);
}

/** A port held for this test process: see ports.ts (never released, so no parallel test file can take it). */
export { freePort } from './ports.js';

/** Connects; the socket is destroyed at teardown. */
export async function dialTo(t: Test, port: number, host = '127.0.0.1', localAddress?: string): Promise<Socket> {
  const socket = connect({ port, host, allowHalfOpen: true, ...(localAddress === undefined ? {} : { localAddress }) });
  t.teardown(() => {
    socket.destroy();
  });
  await once(socket, 'connect');
  return socket;
}

export interface Outcome {
  readonly data: Buffer;
  /** The error code if the connection ended in an error (ECONNRESET for a reset), '' after a clean end. */
  readonly error: string;
}

/** Reads everything until the socket closes, and how it closed. */
export function readAll(socket: Socket): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error = '';
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on('close', () => resolve({ data: Buffer.concat(chunks), error }));
  });
}

/** Connects (from `localAddress` if given), optionally sends and half-closes, and returns what came back. */
export async function request(port: number, payload = '', host = '127.0.0.1', localAddress?: string): Promise<Outcome> {
  const socket = connect({ port, host, allowHalfOpen: true, ...(localAddress === undefined ? {} : { localAddress }) });
  socket.on('error', () => undefined);
  const outcome = readAll(socket);
  socket.on('connect', () => {
    socket.end(payload);
  });
  return outcome;
}

/** Polls `check` until it returns true or the deadline passes (then fails loudly). */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
