/**
 * Port numbers for tests that cannot be taken by anyone else.
 *
 * tap runs test files in parallel, and other suites may share the machine.
 * A port found free, released and bound again later can be taken in between
 * by anyone who binds port 0, or by an outgoing connection's local port. So a
 * port handed out here is never released: it is *held* for the life of the
 * test process by an established connection whose socket was bound with
 * SO_REUSEADDR (libuv sets it on every TCP bind). While it is held:
 * - no port-0 bind and no outgoing connection on this machine gets it: the
 *   kernel skips a port that a socket holds;
 * - nothing listens on it, so a connection to it is refused (ECONNREFUSED),
 *   which makes it a dead endpoint too;
 * - any Node listener (the test's own server, svcproxy in this process or in
 *   a child) can listen on it: both sides have SO_REUSEADDR and the holder is
 *   not listening.
 * Holders are unref'd, so they never keep a test process alive.
 */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';

const anchors = new Map<string, Promise<Server>>();
/** Referenced here so that no holder is ever collected while the process runs. */
const holders: Socket[] = [];
let ipv6Loopback = true;

/** One listener per address for holders to connect to. */
function anchor(host: string): Promise<Server> {
  let found = anchors.get(host);
  if (found === undefined) {
    found = (async () => {
      const server = createServer((accepted) => {
        accepted.on('error', () => undefined);
        accepted.unref();
      });
      server.listen(0, host);
      await once(server, 'listening');
      server.unref();
      return server;
    })();
    anchors.set(host, found);
  }
  return found;
}

function anchorPort(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('anchor is not listening on TCP');
  return address.port;
}

/** A connection from host:port (0: the kernel's choice) to the anchor, which holds host:port while it is open. */
async function hold(host: string, port: number): Promise<Socket> {
  const target = anchorPort(await anchor(host));
  const socket = connect({ host, port: target, localAddress: host, ...(port === 0 ? {} : { localPort: port }) });
  socket.unref();
  try {
    await once(socket, 'connect');
  } catch (err) {
    socket.destroy();
    throw err;
  }
  socket.on('error', () => undefined);
  return socket;
}

function errorCode(err: unknown): string {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : '';
}

/**
 * A TCP port held for this test process on `host` (see the top of this file):
 * listen on it, or use it as an endpoint nothing listens on. On loopback the
 * number is held in both families (127.0.0.1 and ::1), because a Service
 * served in both binds both.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const both = host === '127.0.0.1' || host === '::1';
  // 127.0.0.1 first, always by port 0: two processes can never both get one number there.
  const first = both ? '127.0.0.1' : host;
  for (let attempt = 0; ; attempt++) {
    const held = await hold(first, 0);
    const port = held.localPort ?? 0;
    try {
      if (both && (ipv6Loopback || host === '::1')) holders.push(await hold('::1', port));
      holders.push(held);
      return port;
    } catch (err) {
      held.destroy();
      const code = errorCode(err);
      if ((code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') && host !== '::1') {
        ipv6Loopback = false; // a machine without IPv6 loopback: hold IPv4 only
        continue;
      }
      // Someone listens on ::1 at this number: take another.
      if (code !== 'EADDRINUSE' || attempt >= 20) throw err;
    }
  }
}

/** ip_local_port_range: the ports the kernel hands out for port 0. */
function ephemeralRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && high !== undefined && low > 0 && high >= low) return { low, high };
  } catch {
    // not Linux: the kernel default
  }
  return { low: 32768, high: 60999 };
}

/** True if nothing is bound at 127.0.0.1:port, in TCP and in UDP, right now. */
async function unbound(port: number): Promise<boolean> {
  const udp = createSocket('udp4');
  const tcp = createServer();
  try {
    udp.bind({ port, address: '127.0.0.1', exclusive: true });
    await once(udp, 'listening');
    tcp.listen(port, '127.0.0.1');
    await once(tcp, 'listening');
    return true;
  } catch (err) {
    if (errorCode(err) === 'EADDRINUSE') return false;
    throw err;
  } finally {
    udp.removeAllListeners('error').on('error', () => undefined);
    try {
      udp.close();
    } catch {
      // never bound: nothing to close
    }
    tcp.close();
  }
}

/**
 * A UDP port number on 127.0.0.1, for a UDP Service port or a dead UDP
 * endpoint. svcproxy binds UDP exclusively, so a UDP port cannot be held
 * beside it as a TCP port is. The number comes from just below the port-0
 * range, where no port-0 bind and no outgoing socket lands: a TCP port held
 * for this process minus the size of that range, so no two test processes on
 * this machine get the same number. A number some fixed-port listener already
 * has is skipped. The same number is free for TCP too (a Service with TCP and
 * UDP on one port).
 */
export async function freeUdpPort(): Promise<number> {
  const { low, high } = ephemeralRange();
  const span = high - low + 1;
  for (let attempt = 0; attempt < 20; attempt++) {
    const held = await freePort();
    const port = held - span;
    if (port < 1024) throw new Error(`ip_local_port_range ${low}-${high} leaves no room below it for test UDP ports`);
    if (await unbound(port)) return port;
  }
  throw new Error('no unbound UDP port below the port-0 range after 20 tries');
}
