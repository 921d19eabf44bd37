/**
 * Serves one Service port. It owns what every listener of the port shares:
 * the endpoint picker (round robin, ClientIP affinity, passive health), the
 * port's policy (source ranges, connection limit, timeouts, PROXY protocol)
 * and its books (a PortLedger). For TCP, each accepted connection is
 * admitted, which hands out a Lease (lease.ts) bound to this port for the
 * connection's whole life; an endpoint is picked and dialled (the next one
 * with a longer timeout on failure, kube-proxy's 250/500/1000/2000 ms), and
 * both sockets handed to the pump, which ends the lease. UDP flows
 * (udp-listener.ts) are admitted, picked and ended through the same calls.
 *
 * Per connection the work is fixed and small: one pick, at most four dials,
 * a few listeners, counters added once at close. Nothing here waits in a way
 * that blocks accepting: each connection runs its own chain of callbacks.
 */
import { BlockList, isIP, type Socket } from 'node:net';
import type { PassiveHealthOptions } from '../balancer/passive-health.js';
import { Picker } from '../balancer/picker.js';
import type { Shuffle } from '../balancer/round-robin.js';
import { errorCode, errorMessage } from '../errors.js';
import type { ConnectionChain, FaultTable } from '../faults/fault-table.js';
import { RateLimitedWarning, type Logger } from '../log.js';
import { currentConditions, usableEndpoints } from '../state/endpoints.js';
import { hostPort, type ServicePortKey, type ServicePortPlan } from '../state/types.js';
import type { ConnectionTracker } from './connection-tracker.js';
import { dial } from './dial.js';
import { Lease, type ByteCounts, type RejectReason } from './lease.js';
import { PortLedger, type LeaseObserver } from './port-ledger.js';
import { proxyHeaderV1, proxyHeaderV2 } from './proxy-protocol.js';
import type { NativePump, NativePumpResult } from './native-pump.js';
import { pump, type PumpResult } from './pump.js';
import type { Resolver } from './resolver.js';
import type { ServicePortStats } from './stats.js';
import { toxicPump } from './toxic-pump.js';
import type { Upstream } from './upstream.js';

/** kube-proxy's EndpointDialTimeouts: one endpoint per attempt, worst case 3.75 s. */
export const DIAL_TIMEOUTS_MS: readonly number[] = [250, 500, 1000, 2000];

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
}

/** What a ServicePortProxy shares with the rest of the process. */
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

function ignoreEarlyError(): void {
  // Before the pump takes over, a client error only means the client is gone;
  // the dial callback sees `destroyed` and drops the upstream.
}

/** `::ffff:1.2.3.4` (an IPv4 client seen by a dual-stack socket) -> `1.2.3.4`. */
export function clientIp(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export class ServicePortProxy {
  readonly picker: Picker<Upstream>;
  readonly log: Logger;
  /** This port's counters and open leases; only the lease lifecycle writes them. */
  private readonly ledger: PortLedger;
  private readonly rejectWarning: RateLimitedWarning;
  private readonly resolveWarning: RateLimitedWarning;
  private plan: ServicePortPlan;
  private allowed: BlockList | undefined;
  private dialTimeoutsMs: readonly number[];
  private pumpOptions: { halfCloseTimeoutMs: number; idleTimeoutMs: number };
  /** Source ranges, affinity or the access log need the client's address; otherwise no getpeername() per connection. */
  private needsClientIp = false;
  /** Checked once, so a disabled debug level costs no argument objects per connection. */
  private readonly debug: boolean;

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
    this.dialTimeoutsMs = options.dialTimeoutsMs;
    this.pumpOptions = { halfCloseTimeoutMs: options.halfCloseTimeoutMs, idleTimeoutMs: 0 };
    this.update(plan);
  }

  get key(): ServicePortKey {
    return this.plan.key;
  }

  get current(): ServicePortPlan {
    return this.plan;
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

  /** Installs a new plan: endpoints (the rotation restarts only if the usable set changed) and policy. */
  update(plan: ServicePortPlan): void {
    this.plan = plan;
    const { policy } = plan;
    this.dialTimeoutsMs = policy.connectTimeoutMs > 0 ? this.options.dialTimeoutsMs.map(() => policy.connectTimeoutMs) : this.options.dialTimeoutsMs;
    this.pumpOptions = { halfCloseTimeoutMs: this.options.halfCloseTimeoutMs, idleTimeoutMs: policy.idleTimeoutMs };
    this.allowed = policy.sourceRanges.length === 0 ? undefined : blockListOf(policy.sourceRanges);
    this.needsClientIp = this.allowed !== undefined || policy.affinityTimeoutSeconds > 0 || this.options.readClientAddresses === true;
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
    const current = endpoints.map((e) => ({ ...e, ...currentConditions(e, this.context.podReady, publishNotReadyAddresses) }));
    const upstreams = usableEndpoints(current).map((e) => ({
      id: hostPort(e.host, e.port),
      host: e.host,
      port: e.port,
      pod: e.pod,
      literal: isIP(e.host) !== 0,
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
    if (max > 0 && this.ledger.stats.active >= max) return 'max_connections';
    return undefined;
  }

  private warnRejected(reason: RejectReason, ip: string): void {
    const msg: Record<RejectReason, string> = {
      no_endpoints: 'no ready endpoints; connection reset',
      dial_failed: 'every dial attempt failed; connection reset',
      source_range: 'client address outside loadBalancerSourceRanges; connection reset',
      max_connections: 'max-connections reached; connection reset',
    };
    this.rejectWarning.warn({ reason, client: ip === '' ? undefined : ip, endpoints: this.picker.size }, msg[reason]);
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

  /** Takes an accepted (paused) client socket from a listener. */
  accept(downstream: Socket): void {
    downstream.on('error', ignoreEarlyError);
    if (this.context.faults?.isDown(this.plan.key) === true) {
      downstream.resetAndDestroy(); // a proxy turned off through the toxiproxy API: as if nothing listened
      return;
    }
    const ip = this.needsClientIp ? clientIp(downstream.remoteAddress) : '';
    const lease = this.admit('TCP', ip, ip === '' ? 0 : (downstream.remotePort ?? 0));
    if (!lease.admitted) {
      downstream.resetAndDestroy();
      return;
    }
    lease.downstream = downstream;
    this.attempt(lease, downstream, ip, 0);
  }

  private attempt(lease: Lease, downstream: Socket, ip: string, attempt: number): void {
    const upstream = this.picker.pick(ip, attempt > 0, Date.now());
    if (upstream === undefined) {
      this.refuseAfterAdmission(lease, downstream, 'no_endpoints');
      return;
    }
    const dialStarted = performance.now();
    const failed = (err: unknown): void => {
      this.dialFailed(upstream, attempt, err);
      if (downstream.destroyed) this.clientLeft(lease);
      else if (attempt + 1 < this.dialTimeoutsMs.length) this.attempt(lease, downstream, ip, attempt + 1);
      else this.refuseAfterAdmission(lease, downstream, 'dial_failed');
    };
    this.resolve(upstream, (err, address) => {
      if (err !== null) {
        failed(err);
        return;
      }
      dial(address, upstream.port, this.dialTimeoutsMs[attempt] ?? 1000, this.options.keepAliveMs, (dialErr, socket) => {
        if (socket === undefined) failed(dialErr);
        else this.connected(lease, downstream, socket, upstream, dialStarted);
      });
    });
  }

  /** The client reset or the drain reset it while its endpoint was being dialled. */
  private clientLeft(lease: Lease): void {
    lease.end(lease.aborted ? 'drain' : 'client_gone');
  }

  private connected(lease: Lease, downstream: Socket, socket: Socket, upstream: Upstream, dialStarted: number): void {
    if (downstream.destroyed) {
      socket.destroy(); // the client left while we were dialling
      this.clientLeft(lease);
      return;
    }
    this.dialSucceeded(upstream);
    this.ledger.connected(lease, upstream, performance.now() - dialStarted);
    downstream.removeListener('error', ignoreEarlyError);
    lease.upstream = socket;
    const version = this.plan.policy.proxyProtocol;
    if (version !== '') {
      // Before any client byte: the client socket is still paused (pauseOnConnect).
      const addresses = {
        sourceAddress: downstream.remoteAddress ?? '',
        sourcePort: downstream.remotePort ?? 0,
        destinationAddress: downstream.localAddress ?? '',
        destinationPort: downstream.localPort ?? 0,
      };
      socket.write(version === 'v1' ? proxyHeaderV1(addresses) : proxyHeaderV2(addresses));
    }
    const done = (result: PumpResult): void => this.onPumpDone(lease, result);
    // Faults are decided here, once per connection (the endpoint is known now, for Pod targets). A port
    // without faults gets undefined after one map lookup: no per-chunk cost, and the native pump may take it.
    const faults = this.context.faults?.forConnection(this.plan.key, upstream, Date.now());
    if (faults === 'down') {
      // Turned off through the toxiproxy API while this connection was being dialled.
      lease.carrier = pump(downstream, socket, this.pumpOptions, done);
      lease.carrier.abort();
      return;
    }
    if (!nativeEligible(faults)) {
      // Toxics act on the bytes in JS, now or (toxiproxy API) later: the toxic pump, never the native one.
      lease.toxics = faults.toxics.filter((f) => f.active).map((f) => f.spec.name);
      const met = (name: string): void => {
        if (!lease.toxics.includes(name)) lease.toxics = [...lease.toxics, name];
      };
      lease.carrier = toxicPump({ downstream, upstream: socket, options: this.pumpOptions, chain: faults, done, met });
      return;
    }
    const native = this.options.nativePump;
    if (native !== undefined) {
      const carrier = native.handOff(downstream, socket, this.pumpOptions, (result) => this.onNativeDone(lease, result));
      if (typeof carrier !== 'string') {
        lease.carrier = carrier;
        // The addon owns the descriptors now and both net.Sockets are destroyed: the lease must not keep them alive.
        lease.downstream = undefined;
        lease.upstream = undefined;
        return;
      }
      // Not handed off (fd limit, a write still queued...): counted by the native pump; the JS pump carries on.
    }
    lease.carrier = pump(downstream, socket, this.pumpOptions, done);
  }

  private onNativeDone(lease: Lease, result: NativePumpResult): void {
    lease.end(result.end, { fromDownstream: result.bytesFromDownstream, fromUpstream: result.bytesFromUpstream }, result.errorCode);
    if (this.debug) {
      this.log.debug({ reason: result.end, code: result.errorCode, rx: result.bytesFromDownstream, tx: result.bytesFromUpstream, pump: 'native' }, 'connection closed');
    }
  }

  /** Reset, as iptables-mode kube-proxy's REJECT: the client learns at once rather than waiting. */
  private refuseAfterAdmission(lease: Lease, downstream: Socket, reason: RejectReason): void {
    if (!downstream.destroyed) downstream.resetAndDestroy();
    if (lease.aborted) lease.end('drain');
    else this.reject(lease, reason);
  }

  private onPumpDone(lease: Lease, result: PumpResult): void {
    lease.end(result.reason, { fromDownstream: result.bytesFromDownstream, fromUpstream: result.bytesFromUpstream }, errorCode(result.error));
    if (this.debug) {
      this.log.debug(
        { reason: result.reason, code: errorCode(result.error), rx: result.bytesFromDownstream, tx: result.bytesFromUpstream },
        'connection closed',
      );
    }
  }
}

/**
 * Whether the native pump may carry a connection: it moves bytes without JS
 * ever seeing them, so anything that must act on the bytes in JS keeps the JS
 * pump. Today that is a fault (toxic, issue 15): the fault table answered
 * with a chain, because the connection met a toxic, or because the
 * toxiproxy API is on and may add one to it while it is open (toxiproxy
 * applies new toxics to established connections). Only when the table
 * answered nothing (no toxic, no API: the fast path) may it go native. Only
 * TCP connections get here.
 */
function nativeEligible(faults: ConnectionChain | undefined): faults is undefined {
  return faults === undefined;
}

function blockListOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', bits = '0'] = cidr.split('/');
    list.addSubnet(address, Number(bits), address.includes(':') ? 'ipv6' : 'ipv4');
  }
  return list;
}
