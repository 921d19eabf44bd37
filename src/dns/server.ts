/**
 * The DNS server of `--dns-address`: UDP and TCP on one address and port,
 * answering from the current Zone (answer.ts). The zone is swapped whole on
 * every reload, so answers follow reloads at once.
 *
 * Bounded by design: UDP answers are computed and sent at once (no queue);
 * TCP holds at most `maxTcpConnections` connections, at most
 * `maxTcpConnectionsPerClient` of them from one client address (so a few
 * clients cannot take every slot), each with at most one 64 KiB message
 * being read and a small write backlog. Each connection must complete a
 * message within `tcpIdleTimeoutMs` of opening or of its previous message:
 * a deadline per message, which bytes trickled in one at a time do not
 * extend (a per-read idle timer would let them hold the connection forever).
 * A bind that fails is retried with a growing delay, as a Service listener's is.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { describeError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { answerQuery, type RcodeName, type Transport } from './answer.js';
import type { Zone } from './zone.js';

export interface DnsServerOptions {
  readonly host: string;
  readonly port: number;
  /** Concurrent TCP connections; more are closed at once. */
  readonly maxTcpConnections: number;
  /** A TCP connection with no complete query for this long (since it opened or since its previous query) is closed, however many bytes trickle in. */
  readonly tcpIdleTimeoutMs: number;
  /** Concurrent TCP connections from one client address; more from it are closed at once. Default DNS_DEFAULTS'. */
  readonly maxTcpConnectionsPerClient?: number;
}

export const DNS_DEFAULTS = { maxTcpConnections: 64, tcpIdleTimeoutMs: 10_000, maxTcpConnectionsPerClient: 8 } as const;

/** A client that does not read its answers: beyond this much unsent data its connection is closed. */
const MAX_TCP_BACKLOG_BYTES = 256 * 1024;
/** One length-prefixed message (2 + 65535 bytes) plus one read's worth of the next. */
const MAX_TCP_PENDING_BYTES = 2 + 65535 + 64 * 1024;

export type DnsServerState = 'stopped' | 'binding' | 'listening' | 'failed' | 'closed';

/** Delays between bind attempts: doubling from 250 ms, capped at 10 s (as for Service listeners). */
export function dnsRetryDelayMs(failures: number): number {
  return Math.min(10_000, 250 * 2 ** Math.max(0, failures - 1));
}

export interface DnsStats {
  queries: number;
  /** Answers by response code, plus queries dropped unanswered. */
  readonly rcodes: Record<RcodeName | 'dropped', number>;
  /** TCP connections closed at once: over the total or the per-client limit. */
  tcpRefused: number;
  /** TCP connections closed for not completing a message by its deadline. */
  tcpTimedOut: number;
}

export class DnsServer {
  state: DnsServerState = 'stopped';
  /** The last bind error, '' when bound. */
  lastError = '';
  readonly stats: DnsStats = {
    queries: 0,
    rcodes: { NOERROR: 0, FORMERR: 0, SERVFAIL: 0, NXDOMAIN: 0, NOTIMP: 0, REFUSED: 0, dropped: 0 },
    tcpRefused: 0,
    tcpTimedOut: 0,
  };
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly connections = new Set<Socket>();
  /** Open TCP connections per client address. */
  private readonly perClient = new Map<string, number>();
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private boundPort = 0;
  private readonly log: Logger;

  constructor(
    private zone: Zone,
    private readonly options: DnsServerOptions,
    log: Logger,
    private readonly onState: (server: DnsServer) => void = () => undefined,
  ) {
    this.log = log.child({ dns: `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}` });
  }

  /** The bound port (differs from options.port only for port 0). */
  get port(): number {
    return this.boundPort;
  }

  /** New answers come from `zone` from now on. */
  setZone(zone: Zone): void {
    this.zone = zone;
  }

  /** Binds TCP and UDP on the same port; on failure rejects with the reason and keeps retrying until close(). */
  async start(): Promise<void> {
    this.state = 'binding';
    try {
      await this.bind();
    } catch (err: unknown) {
      this.failed(err);
      throw new Error(`DNS server cannot listen on ${this.where()}: ${this.lastError}; retrying`, { cause: err });
    }
  }

  private where(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `${host}:${this.options.port} (UDP and TCP)`;
  }

  private failed(err: unknown): void {
    this.closeSockets();
    if (this.state === 'closed') return;
    this.state = 'failed';
    this.failures++;
    this.lastError = describeError(err);
    const delayMs = dnsRetryDelayMs(this.failures);
    this.log.error({ err: this.lastError, retryInMs: delayMs, attempts: this.failures }, 'DNS server cannot listen');
    this.retryTimer = setTimeout(() => {
      this.bind().catch((e: unknown) => this.failed(e));
    }, delayMs);
    this.onState(this);
  }

  /**
   * TCP first, then UDP on the port TCP got: with port 0 (tests) the kernel
   * picks a port free for a TCP listener, which is the scarcer kind on a
   * busy loopback; a UDP clash then is retried on another port.
   */
  private async bind(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const tcp = await this.bindTcp(this.options.port);
      try {
        await this.bindUdp(tcp.port);
        break;
      } catch (err: unknown) {
        if (this.options.port !== 0 || attempt >= 5) throw err;
        this.closeSockets();
      }
    }
    if (this.state === 'closed') {
      this.closeSockets();
      return;
    }
    this.state = 'listening';
    this.lastError = '';
    this.failures = 0;
    this.log.info({ port: this.boundPort }, 'DNS server listening');
    this.onState(this);
  }

  private async bindTcp(port: number): Promise<{ port: number }> {
    const tcp = createServer((socket) => this.onConnection(socket));
    this.tcp = tcp;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ host: this.options.host, port, exclusive: true }, () => {
        tcp.removeListener('error', reject);
        resolve();
      });
    });
    tcp.on('error', (err) => this.log.error({ err: errorMessage(err) }, 'DNS TCP error'));
    const address = tcp.address();
    this.boundPort = typeof address === 'object' && address !== null ? address.port : port;
    return { port: this.boundPort };
  }

  private async bindUdp(port: number): Promise<void> {
    const udp = createSocket({ type: this.options.host.includes(':') ? 'udp6' : 'udp4' });
    this.udp = udp;
    udp.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: this.options.host, port, exclusive: true }, () => {
        udp.removeListener('error', reject);
        resolve();
      });
    });
    // After the bind, an error concerns one datagram (ICMP unreachable and the like): never fatal.
    udp.on('error', (err) => this.log.debug({ err: errorMessage(err) }, 'DNS UDP error'));
  }

  private answer(message: Buffer, transport: Transport): Buffer | undefined {
    this.stats.queries++;
    const result = answerQuery(message, this.zone, transport);
    this.stats.rcodes[result.rcode]++;
    return result.response;
  }

  private onDatagram(message: Buffer, rinfo: RemoteInfo): void {
    const response = this.answer(message, 'udp');
    if (response === undefined || this.udp === undefined) return;
    this.udp.send(response, rinfo.port, rinfo.address, (err) => {
      if (err !== null && err !== undefined) this.log.debug({ err: errorMessage(err) }, 'DNS answer not sent');
    });
  }

  /** Admits a connection within the total and the per-client limits; false: refused (closed). */
  private admit(socket: Socket): boolean {
    const client = socket.remoteAddress ?? '';
    const fromClient = this.perClient.get(client) ?? 0;
    const perClientLimit = this.options.maxTcpConnectionsPerClient ?? DNS_DEFAULTS.maxTcpConnectionsPerClient;
    if (this.connections.size >= this.options.maxTcpConnections || fromClient >= perClientLimit) {
      this.stats.tcpRefused++;
      socket.destroy();
      return false;
    }
    this.connections.add(socket);
    this.perClient.set(client, fromClient + 1);
    socket.on('close', () => {
      this.connections.delete(socket);
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left > 0) this.perClient.set(client, left);
      else this.perClient.delete(client);
    });
    return true;
  }

  private onConnection(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    if (!this.admit(socket)) return;
    // One deadline per message, re-armed only when a whole message has come: trickled bytes never extend it.
    let deadline: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(deadline);
      deadline = setTimeout(() => {
        this.stats.tcpTimedOut++;
        socket.destroy();
      }, this.options.tcpIdleTimeoutMs);
    };
    arm();
    socket.on('close', () => clearTimeout(deadline));
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (pending.length > MAX_TCP_PENDING_BYTES) {
        socket.destroy();
        return;
      }
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        arm();
        const response = this.answer(message, 'tcp');
        if (response === undefined) continue;
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(response.length);
        socket.write(Buffer.concat([prefix, response]));
        if (socket.writableLength > MAX_TCP_BACKLOG_BYTES) {
          socket.destroy();
          return;
        }
      }
    });
    socket.on('end', () => socket.end());
  }

  private closeSockets(): void {
    const udp = this.udp;
    this.udp = undefined;
    if (udp !== undefined) {
      try {
        udp.close();
      } catch {
        // Never bound: nothing to close.
      }
    }
    const tcp = this.tcp;
    this.tcp = undefined;
    if (tcp?.listening === true) tcp.close();
  }

  /** Stops answering and closes every connection. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.retryTimer);
    this.closeSockets();
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    this.perClient.clear();
    this.onState(this);
  }
}
