/**
 * What a port-forward test puts behind a fake Pod: a TCP server on the Pod's IP, and a client that proves a forward
 * end to end. The server's protocol ("hash and reply"): it reads the whole upload up to the client's half-close, then
 * sends the upload's sha256 (64 hex characters) followed by as many bytes of `reply` as it received (at most all of
 * `reply`), and ends. So one connection proves both
 * directions byte for byte and the half-close on the way in.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Test } from 'tap';

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export interface PodServer {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Connections open right now. */
  readonly open: () => number;
}

/**
 * A hash-and-reply server on `host` (a Pod IP), port 0; closed at teardown. With `expect`, it answers once that many
 * bytes came (for a path without half-close: the v4.channel protocol).
 */
export async function startPodServer(t: Test, host: string, reply: Buffer, options: { readonly expect?: number } = {}): Promise<PodServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const hash = createHash('sha256');
    let received = 0;
    let answered = false;
    const answer = (): void => {
      if (answered) return;
      answered = true;
      socket.write(hash.digest('hex'));
      socket.end(reply.subarray(0, received));
    };
    socket.on('data', (c: Buffer) => {
      hash.update(c);
      received += c.length;
      if (options.expect !== undefined && received >= options.expect) answer();
    });
    socket.on('end', answer);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the Pod server is not on TCP');
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: address.port, accepted: () => accepted, open: () => sockets.size };
}

/** Sends `upload` to host:port, half-closes, reads to the end; resolves with what came back. */
export async function hashAndReply(host: string, port: number, upload: Buffer, timeoutMs = 30_000): Promise<{ readonly sha: string; readonly reply: Buffer }> {
  const socket = connect({ host, port, allowHalfOpen: true });
  const timer = setTimeout(() => socket.destroy(new Error(`no end from ${host}:${port} in ${timeoutMs} ms`)), timeoutMs);
  try {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.end(upload);
    await once(socket, 'end');
    const all = Buffer.concat(chunks);
    return { sha: all.subarray(0, 64).toString(), reply: all.subarray(64) };
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}
