/**
 * A UDP Service port on one address: each client address (IP and port) gets
 * a flow, with its own upstream socket connected to an endpoint chosen by the
 * Service port's picker (ClientIP affinity included). Replies from the
 * endpoint are relayed back to that client. A flow with no datagram either
 * way for `udpIdleTimeoutMs` is closed (kube-proxy's userspace mode did the
 * same with 250 ms); at most `udpMaxFlows` flows live per listener, the
 * oldest evicted first. Datagrams are relayed whole, up to 64 KiB (libuv
 * reads into a 64 KiB buffer; kube-proxy's 4 KiB truncated them).
 *
 *   client:5000 --dgram--> listener --flow socket--> endpoint:53
 *   client:5000 <-------- listener <--------------- endpoint:53
 */
import { createSocket, type RemoteInfo, type Socket as DgramSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { errorCode, errorMessage, ProxyError } from '../errors.js';
import type { Logger } from '../log.js';
import { hostPort, type ListenerPlan } from '../state/types.js';
import { bindRetryDelayMs, type ListenerState } from './listener.js';
import { clientIp, type ServicePortProxy, type Upstream } from './service-port-proxy.js';

/** Datagrams held for a flow while its endpoint's address is being resolved. */
const MAX_PENDING_DATAGRAMS = 64;

class Flow {
  /** Created once the endpoint's address is known; until then datagrams wait in `pending`. */
  private socket: DgramSocket | undefined;
  private pending: Buffer[] = [];
  private connected = false;
  private readonly idle: NodeJS.Timeout;
  closed = false;

  constructor(
    readonly key: string,
    readonly client: RemoteInfo,
    readonly upstream: Upstream,
    private readonly owner: UdpListener,
    idleMs: number,
  ) {
    this.idle = setTimeout(() => owner.closeFlow(this, 'idle'), idleMs);
  }

  /** Opens the upstream socket to the endpoint's resolved address, then sends what was held. */
  connect(address: string): void {
    const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    this.socket = socket;
    socket.on('error', (err) => this.owner.flowFailed(this, err));
    socket.on('message', (reply) => {
      this.touch();
      this.owner.relayReply(this, reply);
    });
    socket.connect(this.upstream.port, address, () => {
      if (this.closed) return;
      this.connected = true;
      const held = this.pending;
      this.pending = [];
      for (const d of held) socket.send(d);
    });
  }

  send(datagram: Buffer): void {
    this.touch();
    // Until the connect callback has run, queue (bounded): an unconnected dgram socket has nowhere to send.
    if (this.connected) this.socket?.send(datagram);
    else if (this.pending.length < MAX_PENDING_DATAGRAMS) this.pending.push(datagram);
  }

  touch(): void {
    this.idle.refresh();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idle);
    this.socket?.close();
  }
}

export class UdpListener {
  state: ListenerState = 'binding';
  lastError = '';
  bindFailures = 0;
  private socket: DgramSocket | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly flows = new Map<string, Flow>();
  private readonly log: Logger;

  constructor(
    readonly plan: ListenerPlan,
    private target: ServicePortProxy,
    log: Logger,
    private readonly onState: (listener: UdpListener) => void = () => undefined,
  ) {
    this.log = log.child({ listener: plan.key, servicePort: plan.servicePort });
  }

  get port(): number {
    try {
      return this.socket?.address().port ?? this.plan.port;
    } catch {
      return this.plan.port; // not bound
    }
  }

  get flowCount(): number {
    return this.flows.size;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => this.attempt(resolve, reject));
  }

  private attempt(resolve: () => void, reject: (err: ProxyError) => void): void {
    const socket = createSocket({ type: isIPv6(this.plan.address) ? 'udp6' : 'udp4', ipv6Only: this.plan.address === '::' });
    const onError = (err: Error): void => {
      socket.close();
      if (this.state === 'closed') return;
      this.state = 'failed';
      this.bindFailures++;
      this.lastError = `${errorCode(err) || 'error'}: ${errorMessage(err)}`;
      const delayMs = bindRetryDelayMs(this.bindFailures);
      this.retryTimer = setTimeout(() => this.attempt(() => undefined, () => undefined), delayMs);
      this.onState(this);
      reject(
        new ProxyError(
          'E_LISTEN_FAILED',
          `${this.plan.servicePort}: cannot listen on ${hostPort(this.plan.address, this.plan.port)}/UDP: ${this.lastError}; retrying in ${delayMs} ms`,
          { cause: err },
        ),
      );
    };
    socket.once('error', onError);
    socket.bind({ address: this.plan.address, port: this.plan.port, exclusive: true }, () => {
      socket.removeListener('error', onError);
      if (this.state === 'closed') {
        socket.close();
        return;
      }
      socket.on('error', (err) => this.log.warn({ err: errorMessage(err) }, 'udp listener error'));
      socket.on('message', (datagram, rinfo) => this.onDatagram(datagram, rinfo));
      this.socket = socket;
      this.state = 'listening';
      this.lastError = '';
      this.bindFailures = 0;
      this.log.info({ port: this.port }, 'listening');
      this.onState(this);
      resolve();
    });
  }

  retarget(target: ServicePortProxy): void {
    this.target = target;
  }

  /** Stops receiving and closes every flow (UDP has no connection to drain). */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.retryTimer);
    for (const flow of [...this.flows.values()]) this.closeFlow(flow, 'listener closed');
    this.socket?.close();
    this.socket = undefined;
    this.log.info('listener closed');
    this.onState(this);
  }

  private onDatagram(datagram: Buffer, rinfo: RemoteInfo): void {
    const target = this.target;
    target.stats.bytesFromDownstream += datagram.length;
    const key = `${rinfo.address}|${rinfo.port}`;
    const existing = this.flows.get(key);
    if (existing !== undefined) {
      existing.send(datagram);
      return;
    }
    this.openFlow(key, rinfo)?.send(datagram);
  }

  private openFlow(key: string, rinfo: RemoteInfo): Flow | undefined {
    const target = this.target;
    target.stats.connections++;
    const ip = clientIp(rinfo.address);
    const refusal = target.refusal(ip);
    if (refusal !== undefined) {
      target.countRejected(refusal, ip);
      return undefined;
    }
    const upstream = target.picker.pick(ip, false, Date.now());
    if (upstream === undefined) {
      target.countRejected('no_endpoints', ip);
      return undefined;
    }
    const policy = target.current.policy;
    if (this.flows.size >= policy.udpMaxFlows) {
      const oldest = this.flows.values().next().value;
      if (oldest !== undefined) this.closeFlow(oldest, 'evicted: too many flows');
    }
    const flow = new Flow(key, rinfo, upstream, this, policy.udpIdleTimeoutMs);
    this.flows.set(key, flow);
    target.stats.active++;
    target.stats.activeByUpstream.set(upstream.id, (target.stats.activeByUpstream.get(upstream.id) ?? 0) + 1);
    target.stats.connectionsByUpstream.set(upstream.id, (target.stats.connectionsByUpstream.get(upstream.id) ?? 0) + 1);
    target.resolve(upstream, (err, address) => {
      if (flow.closed) return;
      if (err !== null) this.flowFailed(flow, err);
      else flow.connect(address);
    });
    return flow;
  }

  /** A reply from the endpoint goes back to the client the flow belongs to. */
  relayReply(flow: Flow, reply: Buffer): void {
    this.target.stats.bytesFromUpstream += reply.length;
    this.socket?.send(reply, flow.client.port, flow.client.address);
  }

  /** ICMP port unreachable (ECONNREFUSED) or a resolution failure: count it and drop the flow; the next datagram re-picks. */
  flowFailed(flow: Flow, err: Error): void {
    this.target.dialFailed(flow.upstream, 0, err);
    this.closeFlow(flow, errorCode(err) || errorMessage(err));
  }

  closeFlow(flow: Flow, reason: string): void {
    if (flow.closed || this.flows.get(flow.key) !== flow) return;
    flow.close();
    this.flows.delete(flow.key);
    const stats = this.target.stats;
    stats.active--;
    const left = (stats.activeByUpstream.get(flow.upstream.id) ?? 1) - 1;
    if (left <= 0) stats.activeByUpstream.delete(flow.upstream.id);
    else stats.activeByUpstream.set(flow.upstream.id, left);
    if (reason === 'idle') stats.idleTimeouts++;
    this.log.debug({ client: hostPort(flow.client.address, flow.client.port), upstream: flow.upstream.id, reason }, 'udp flow closed');
  }
}
