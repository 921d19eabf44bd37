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
import { describeError, errorCode, errorMessage, ProxyError } from '../errors.js';
import type { Logger } from '../log.js';
import { hostPort, type ListenerPlan } from '../state/types.js';
import type { ByteCounts, Carrier } from './carrier.js';
import type { ForwardedEnd, Lease } from './lease.js';
import { bindRetryDelayMs, type ListenerState } from './listener.js';
import { clientIp, type ServicePort } from './service-port.js';
import type { Upstream } from './upstream.js';

/** Datagrams held for a flow while its endpoint's address is being resolved. */
const MAX_PENDING_DATAGRAMS = 64;

/** What a flow is opened with. */
interface FlowStart {
  /** `address|port` of the client: the flow's key in its listener's table. */
  readonly key: string;
  readonly client: RemoteInfo;
  readonly upstream: Upstream;
  /** The Service port that admitted the flow; it stays the owner if the listener is retargeted. */
  readonly port: ServicePort;
  readonly lease: Lease;
  readonly idleMs: number;
}

/** One client's flow: its lease (owned by the Service port that admitted it) and its socket to the endpoint. */
class Flow implements Carrier {
  readonly key: string;
  readonly client: RemoteInfo;
  readonly upstream: Upstream;
  readonly port: ServicePort;
  readonly lease: Lease;
  /** Created once the endpoint's address is known; until then datagrams wait in `pending`. */
  private socket: DgramSocket | undefined;
  private pending: Buffer[] = [];
  private connected = false;
  private readonly idle: NodeJS.Timeout;
  closed = false;
  /** Bytes of datagrams from the client, and of replies from the endpoint. */
  fromDownstream = 0;
  fromUpstream = 0;

  constructor(
    start: FlowStart,
    private readonly owner: UdpListener,
  ) {
    this.key = start.key;
    this.client = start.client;
    this.upstream = start.upstream;
    this.port = start.port;
    this.lease = start.lease;
    this.idle = setTimeout(() => owner.closeFlow(this, 'idle_timeout'), start.idleMs);
  }

  bytes(): ByteCounts {
    return { fromDownstream: this.fromDownstream, fromUpstream: this.fromUpstream };
  }

  abort(): void {
    this.owner.closeFlow(this, 'drain');
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
    this.fromDownstream += datagram.length;
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
    private target: ServicePort,
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
      this.lastError = describeError(err);
      const delayMs = bindRetryDelayMs(this.bindFailures);
      this.retryTimer = setTimeout(
        () =>
          this.attempt(
            () => undefined,
            () => undefined,
          ),
        delayMs,
      );
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

  retarget(target: ServicePort): void {
    this.target = target;
  }

  /** Stops receiving and closes every flow (UDP has no connection to drain). */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.retryTimer);
    for (const flow of [...this.flows.values()]) this.closeFlow(flow, 'listener_closed');
    this.socket?.close();
    this.socket = undefined;
    this.log.info('listener closed');
    this.onState(this);
  }

  private onDatagram(datagram: Buffer, rinfo: RemoteInfo): void {
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
    const ip = clientIp(rinfo.address);
    const lease = target.admit('UDP', ip, rinfo.port);
    if (!lease.admitted) return undefined;
    const upstream = target.pick(ip, false);
    if (upstream === undefined) {
      target.reject(lease, 'no_endpoints');
      return undefined;
    }
    const policy = target.policy;
    if (this.flows.size >= policy.udpMaxFlows) {
      const oldest = this.flows.values().next().value;
      if (oldest !== undefined) this.closeFlow(oldest, 'evicted');
    }
    const flow = new Flow({ key, client: rinfo, upstream, port: target, lease, idleMs: policy.udpIdleTimeoutMs }, this);
    this.flows.set(key, flow);
    target.connectedTo(lease, upstream, -1);
    lease.carry(flow);
    target.resolve(upstream, (err, address) => {
      if (flow.closed) return;
      if (err !== null) this.flowFailed(flow, err);
      else flow.connect(address);
    });
    return flow;
  }

  /** A reply from the endpoint goes back to the client the flow belongs to. */
  relayReply(flow: Flow, reply: Buffer): void {
    flow.fromUpstream += reply.length;
    this.socket?.send(reply, flow.client.port, flow.client.address);
  }

  /** ICMP port unreachable (ECONNREFUSED) or a resolution failure: count it and drop the flow; the next datagram re-picks. */
  flowFailed(flow: Flow, err: Error): void {
    flow.port.dialFailed(flow.upstream, 0, err);
    this.closeFlow(flow, 'endpoint_reset', errorCode(err) || errorMessage(err));
  }

  closeFlow(flow: Flow, termination: ForwardedEnd, code = ''): void {
    if (flow.closed || this.flows.get(flow.key) !== flow) return;
    flow.close();
    this.flows.delete(flow.key);
    flow.lease.end(termination, flow.bytes(), code);
    this.log.debug({ client: hostPort(flow.client.address, flow.client.port), upstream: flow.upstream.id, termination, code }, 'udp flow closed');
  }
}
