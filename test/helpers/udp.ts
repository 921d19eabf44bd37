/** UDP fixtures on loopback: an echo backend, clients, a request-reply helper. */
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { once } from 'node:events';
import type { Test } from 'tap';

/** A UDP backend that answers each datagram with `name|` + the datagram. */
export async function udpEcho(t: Test, name: string): Promise<number> {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => socket.send(Buffer.concat([Buffer.from(`${name}|`), msg]), rinfo.port, rinfo.address));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket.address().port;
}

export async function client(t: Test, local = '127.0.0.1'): Promise<DgramSocket> {
  const socket = createSocket('udp4');
  socket.bind(0, local);
  await once(socket, 'listening');
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket;
}

export async function ask(socket: DgramSocket, port: number, payload: Buffer | string): Promise<Buffer> {
  const reply = once(socket, 'message') as Promise<[Buffer]>;
  socket.send(payload, port, '127.0.0.1');
  const [msg] = await reply;
  return msg;
}

/** A UDP port no other test process gets: see ports.ts. */
export { freeUdpPort } from './ports.js';
