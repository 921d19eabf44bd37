/**
 * The policy of one Service port, shared by its TCP connections and its UDP
 * flows: admission (source ranges, connection limit), the endpoint picker
 * (round robin, ClientIP affinity, passive health), name resolution of
 * endpoint hosts, and its books (a PortLedger). Everything that changes it
 * goes through a method; the TCP forwarder (tcp-forwarder.ts) and the UDP
 * listener (udp-listener.ts) ask it, they never reach into its picker.
 *
 *   admit() -> Lease (or a lease already ended: refused)
 *   pick()  -> an endpoint, or undefined (no usable endpoint)
 *   connectedTo() / dialFailed() / dialSucceeded() / reject()  -> books and passive health
 *
 * It also keeps what its plan's policy means for a TCP connection, computed
 * once per plan rather than per connection: the dial timeouts, the carrier's
 * deadlines and the PROXY protocol version.
 */
import { BlockList, isIP } from 'node:net';
import type { PassiveHealthOptions } from '../balancer/passive-health.js';
import { Picker } from '../balancer/picker.js';
import type { Shuffle } from '../balancer/round-robin.js';
import { errorCode, errorMessage } from '../errors.js';
import type { FaultTable } from '../faults/fault-table.js';
import { RateLimitedWarning, type Logger } from '../log.js';
import { currentConditions, usableEndpoints } from '../state/endpoints.js';
import { hostPort, type ServicePortKey, type ServicePortPlan, type ServicePortPolicy } from '../state/types.js';
import type { ByteCounts, CarrierOptions } from './carrier.js';
import type { ConnectionTracker } from './connection-tracker.js';
import type { PortForwarder } from './forwarded.js';
import { Lease, type RejectReason } from './lease.js';
import type { NativePump } from './native-pump.js';
import { PortLedger, type LeaseObserver } from './port-ledger.js';
import type { Resolver } from './resolver.js';
import type { ServicePortStats } from './stats.js';
import type { Upstream } from './upstream.js';

export interface ServicePortOptions {
  readonly halfCloseTimeoutMs: number;
  readonly dialTimeoutsMs: readonly number[];
  /** TCP keepalive idle time on both sockets of a connection, ms; 0 = off. */
  readonly keepAliveMs: number;
  readonly shuffle?: Shuffle;
  readonly passiveHealth?: PassiveHealthOptions;
  /** Read every client's address and port (getpeername) even when no policy needs it: the access log records them. */
  readonly readClientAddresses?: boolean;
  /** Moves the bytes of eligible TCP connections in the kernel (--pump native); absent: the JS pump does it all. */
  readonly nativePump?: NativePump;
  /** --pod-network portforward: carries connections to cluster Pods through the API server; absent: every endpoint is dialled. */
  readonly portForwarder?: PortForwarder;
}

/** What a Service port shares with the rest of the process. */
export interface ServicePortContext {
  readonly tracker: ConnectionTracker;
  /** Live readiness of a probed Pod (see ProbeManager). */
  readonly podReady: (pod: string) => boolean;
  readonly resolver: Resolver;
  /** Told of every lease that ends (access log, fault metrics); off the per-byte path. */
  readonly onLeaseEnd?: LeaseObserver;
  /** Declared and API toxics (issue 15); absent = no faults at all. */
  readonly faults?: FaultTable;
}

/** `::ffff:1.2.3.4` (an IPv4 client seen by a dual-stack socket) -> `1.2.3.4`. */
export function clientIp(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

const REJECT_MESSAGES: Record<RejectReason, string> = {
  no_endpoints: 'no ready endpoints; connection reset',
  dial_failed: 'every dial attempt failed; connection reset',
  source_range: 'client address outside loadBalancerSourceRanges; connection reset',
  max_connections: 'max-connections reached; connection reset',
};

export class ServicePort {
  readonly log: Logger;
  /** Checked once, so a disabled debug level costs no argument objects per connection. */
  readonly debug: boolean;
  private readonly picker: Picker<Upstream>;
  /** This port's counters and open leases; only the lease lifecycle writes them. */
  private readonly ledger: PortLedger;
  private readonly rejectWarning: RateLimitedWarning;
  private readonly resolveWarning: RateLimitedWarning;
  private plan: ServicePortPlan;
  private allowed: BlockList | undefined;
  private dialTimeouts: readonly number[];
  private carrierDeadlines: CarrierOptions;
  /** Source ranges, affinity or the access log need the client's address; otherwise no getpeername() per connection. */
  private needsIp = false;

  constructor(
    plan: ServicePortPlan,
    private readonly options: ServicePortOptions,
    private readonly context: ServicePortContext,
    log: Logger,
  ) {
    this.plan = plan;
    this.ledger = new PortLedger(plan.key, context.tracker, context.onLeaseEnd);
    this.picker = new Picker<Upstream>(options.shuffle, options.passiveHealth);
    this.log = log.child({ servicePort: plan.key }); // bindings serialized once, here
    this.debug = this.log.isLevelEnabled('debug');
    this.rejectWarning = new RateLimitedWarning(this.log);
    this.resolveWarning = new RateLimitedWarning(this.log);
    this.dialTimeouts = options.dialTimeoutsMs;
    this.carrierDeadlines = { halfCloseTimeoutMs: options.halfCloseTimeoutMs, idleTimeoutMs: 0 };
    this.update(plan);
  }

  get key(): ServicePortKey {
    return this.plan.key;
  }

  get current(): ServicePortPlan {
    return this.plan;
  }

  get policy(): ServicePortPolicy {
    return this.plan.policy;
  }

  /** The port's counters (read-only). */
  get stats(): Readonly<ServicePortStats> {
    return this.ledger.stats;
  }

  /** Bytes each way, open connections and flows included; read at scrape or tick time. */
  bytes(): ByteCounts {
    return this.ledger.bytes();
  }

  /** TCP keepalive idle time for the sockets of this port's connections, ms (0 = off). */
  get keepAliveMs(): number {
    return this.options.keepAliveMs;
  }

  /** TCP: one timeout per dial attempt (the connect timeout of the policy replaces each, when set). */
  get dialTimeoutsMs(): readonly number[] {
    return this.dialTimeouts;
  }

  /** TCP: the deadlines every carrier of this port's connections enforces. */
  get carrierOptions(): CarrierOptions {
    return this.carrierDeadlines;
  }

  /** TCP: read the client's address at accept (a policy or the access log needs it). */
  get needsClientIp(): boolean {
    return this.needsIp;
  }

  /** The faults of the process (toxics, the toxiproxy API's switch); undefined when there are none at all. */
  get faults(): FaultTable | undefined {
    return this.context.faults;
  }

  /** The native pump when --pump native has one; undefined: the JS pump carries everything. */
  get nativePump(): NativePump | undefined {
    return this.options.nativePump;
  }

  /** The port-forwarder with --pod-network portforward; undefined: every endpoint is dialled. */
  get portForwarder(): PortForwarder | undefined {
    return this.options.portForwarder;
  }

  /** Installs a new plan: endpoints (the rotation restarts only if the usable set changed) and policy. */
  update(plan: ServicePortPlan): void {
    this.plan = plan;
    const { policy } = plan;
    this.dialTimeouts = policy.connectTimeoutMs > 0 ? this.options.dialTimeoutsMs.map(() => policy.connectTimeoutMs) : this.options.dialTimeoutsMs;
    this.carrierDeadlines = { halfCloseTimeoutMs: this.options.halfCloseTimeoutMs, idleTimeoutMs: policy.idleTimeoutMs };
    this.allowed = policy.sourceRanges.length === 0 ? undefined : blockListOf(policy.sourceRanges);
    this.needsIp = this.allowed !== undefined || policy.affinityTimeoutSeconds > 0 || this.options.readClientAddresses === true;
    this.refresh();
  }

  /** True when one of this port's endpoints is backed by `pod`. */
  uses(pod: string): boolean {
    return this.plan.endpoints.some((e) => e.pod === pod);
  }

  /**
   * Recomputes which endpoints are usable from the plan and the live Pod
   * readiness. Called on reloads and on readiness changes; established
   * connections are untouched, only new ones see the new set.
   */
  refresh(): void {
    const { endpoints, publishNotReadyAddresses, policy } = this.plan;
    const forwarding = this.options.portForwarder !== undefined && this.plan.protocol === 'TCP';
    // Port-forward carries TCP only: a UDP port's cluster Pods are not reachable that way, and left out.
    const reachable = this.options.portForwarder !== undefined && !forwarding ? endpoints.filter((e) => e.portForward !== true) : endpoints;
    const current = reachable.map((e) => ({ ...e, ...currentConditions(e, this.context.podReady, publishNotReadyAddresses) }));
    const upstreams = usableEndpoints(current).map((e) => ({
      id: hostPort(e.host, e.port),
      host: e.host,
      port: e.port,
      pod: e.pod,
      literal: isIP(e.host) !== 0,
      portForward: forwarding && e.portForward === true,
    }));
    this.picker.health.retain(new Set(endpoints.map((e) => hostPort(e.host, e.port))));
    if (this.picker.update(upstreams, policy.affinityTimeoutSeconds)) {
      this.log.debug({ upstreams: upstreams.map((u) => u.id) }, 'endpoint set changed; rotation restarted');
    }
  }

  /** A probe of `pod` succeeded: its endpoints are no longer skipped by passive health. */
  clearEjections(pod: string): void {
    for (const e of this.plan.endpoints) {
      if (e.pod === pod && this.picker.health.recordSuccess(hostPort(e.host, e.port))) {
        this.log.info({ upstream: hostPort(e.host, e.port), pod }, 'endpoint back after a successful probe');
      }
    }
  }

  /** Endpoints passive health is skipping right now. */
  ejected(): string[] {
    return this.picker.health.ejected(Date.now());
  }

  /**
   * Admission: hands out a lease bound to this Service port, or a lease
   * already ended with the reason it was refused (source range, connection
   * limit). Every accepted connection or UDP flow goes through here.
   * `ip` is the client's address when a policy needs it, '' otherwise.
   */
  admit(protocol: 'TCP' | 'UDP', ip: string, clientPort: number): Lease {
    const lease = new Lease(this.ledger, protocol, ip, clientPort);
    const refusal = this.refusal(ip);
    if (refusal === undefined) this.ledger.admit(lease);
    else {
      this.ledger.refuse(lease, refusal);
      this.warnRejected(refusal, ip);
    }
    return lease;
  }

  /**
   * The endpoint for a client's connection or flow; undefined when none is
   * usable. `repin` (a retry after a failed dial) bypasses the client's
   * affinity record and takes the next endpoint in turn.
   */
  pick(ip: string, repin: boolean): Upstream | undefined {
    return this.picker.pick(ip, repin, Date.now());
  }

  /** Ends an admitted lease that could not be forwarded (no endpoints, every dial failed), with a rate-limited warning. */
  reject(lease: Lease, reason: RejectReason): void {
    lease.end(reason);
    this.warnRejected(reason, lease.clientAddress);
  }

  /** Records the endpoint a lease was connected to (TCP) or its flow opened to (UDP: connectMs -1). */
  connectedTo(lease: Lease, upstream: Upstream, connectMs: number): void {
    this.ledger.connected(lease, upstream, connectMs);
  }

  private refusal(ip: string): RejectReason | undefined {
    const allowed = this.allowed;
    if (allowed !== undefined && !allowed.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4')) return 'source_range';
    const max = this.plan.policy.maxConnections;
    if (max > 0 && this.ledger.active >= max) return 'max_connections';
    return undefined;
  }

  private warnRejected(reason: RejectReason, ip: string): void {
    this.rejectWarning.warn({ reason, client: ip === '' ? undefined : ip, endpoints: this.picker.size }, REJECT_MESSAGES[reason]);
  }

  /** Resolves an upstream's host (cached; IPs pass through) and calls back with an address or an error. */
  resolve(upstream: Upstream, callback: (err: Error | null, address: string) => void): void {
    if (upstream.literal) {
      callback(null, upstream.host);
      return;
    }
    this.context.resolver.resolve(upstream.host, (err, address) => {
      if (err !== null) this.resolveWarning.warn({ host: upstream.host, code: errorCode(err) }, 'cannot resolve endpoint host name');
      callback(err, address);
    });
  }

  /** Records a failed dial (or resolution) for passive health; logs an ejection. */
  dialFailed(upstream: Upstream, attempt: number, err: unknown): void {
    this.ledger.dialFailed();
    if (this.debug) this.log.debug({ upstream: upstream.id, attempt, code: errorCode(err), err: errorMessage(err) }, 'upstream dial failed');
    const backoffMs = this.picker.health.recordFailure(upstream.id, Date.now());
    if (backoffMs > 0) this.log.warn({ upstream: upstream.id, backoffMs, code: errorCode(err) }, 'endpoint skipped after consecutive failed dials');
  }

  dialSucceeded(upstream: Upstream): void {
    if (!this.picker.health.empty && this.picker.health.recordSuccess(upstream.id)) {
      this.log.info({ upstream: upstream.id }, 'endpoint back after a successful dial');
    }
  }
}

function blockListOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', bits = '0'] = cidr.split('/');
    list.addSubnet(address, Number(bits), address.includes(':') ? 'ipv6' : 'ipv4');
  }
  return list;
}
