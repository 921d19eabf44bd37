/**
 * Serves one Service port. It owns what every listener of the port shares:
 * the endpoint picker (round robin, ClientIP affinity, passive health), the
 * port's policy (source ranges, connection limit, timeouts, PROXY protocol)
 * and its counters. For TCP, each accepted connection is admitted, an
 * endpoint picked and dialled (the next one with a longer timeout on failure,
 * kube-proxy's 250/500/1000/2000 ms), and both sockets handed to the pump.
 * UDP flows (udp-relay.ts) use the same admit/pick/report calls.
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
import { DOWN, type FaultTable } from '../faults/fault-table.js';
import { RateLimitedWarning, type Logger } from '../log.js';
import { currentConditions, usableEndpoints } from '../state/endpoints.js';
import { hostPort, type ServicePortKey, type ServicePortPlan } from '../state/types.js';
import type { ConnectionTracker } from './connection-tracker.js';
import { dial } from './dial.js';
import { proxyHeaderV1, proxyHeaderV2 } from './proxy-protocol.js';
import { pump, type PumpResult } from './pump.js';
import type { Resolver } from './resolver.js';
import { newStats, type RejectReason, type ServicePortStats } from './stats.js';
import { toxicPump } from './toxic-pump.js';

export type { ServicePortStats } from './stats.js';

/** kube-proxy's EndpointDialTimeouts: one endpoint per attempt, worst case 3.75 s. */
export const DIAL_TIMEOUTS_MS: readonly number[] = [250, 500, 1000, 2000];

export interface Upstream {
  /** `host:port`, the identity the balancer keys on. */
  readonly id: string;
  /** An IP address, or a host name resolved when dialled. */
  readonly host: string;
  readonly port: number;
  /** `namespace/name` of its Pod, '' when hand-written. */
  readonly pod: string;
  /** `host` is an IP literal: no lookup needed. */
  readonly literal: boolean;
}

export interface ServicePortOptions {
  readonly halfCloseTimeoutMs: number;
  readonly dialTimeoutsMs: readonly number[];
  readonly shuffle?: Shuffle;
  readonly passiveHealth?: PassiveHealthOptions;
}

/** What a ServicePortProxy shares with the rest of the process. */
export interface ServicePortContext {
  readonly tracker: ConnectionTracker;
  /** Live readiness of a probed Pod (see ProbeManager). */
  readonly podReady: (pod: string) => boolean;
  readonly resolver: Resolver;
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
  readonly stats: ServicePortStats = newStats();
  readonly picker: Picker<Upstream>;
  readonly log: Logger;
  private readonly tracker: ConnectionTracker;
  private readonly rejectWarning: RateLimitedWarning;
  private readonly resolveWarning: RateLimitedWarning;
  private plan: ServicePortPlan;
  private allowed: BlockList | undefined;
  private dialTimeoutsMs: readonly number[];
  private pumpOptions: { halfCloseTimeoutMs: number; idleTimeoutMs: number };
  /** Source ranges or affinity need the client's address; otherwise no getpeername() per connection. */
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
    this.tracker = context.tracker;
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

  /** Installs a new plan: endpoints (the rotation restarts only if the usable set changed) and policy. */
  update(plan: ServicePortPlan): void {
    this.plan = plan;
    const { policy } = plan;
    this.dialTimeoutsMs = policy.connectTimeoutMs > 0 ? this.options.dialTimeoutsMs.map(() => policy.connectTimeoutMs) : this.options.dialTimeoutsMs;
    this.pumpOptions = { halfCloseTimeoutMs: this.options.halfCloseTimeoutMs, idleTimeoutMs: policy.idleTimeoutMs };
    this.allowed = policy.sourceRanges.length === 0 ? undefined : blockListOf(policy.sourceRanges);
    this.needsClientIp = this.allowed !== undefined || policy.affinityTimeoutSeconds > 0;
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

  /** Why a new connection or flow from `ip` must be refused, or undefined to admit it. */
  refusal(ip: string): RejectReason | undefined {
    const allowed = this.allowed;
    if (allowed !== undefined && !allowed.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4')) return 'source_range';
    const max = this.plan.policy.maxConnections;
    if (max > 0 && this.stats.active >= max) return 'max_connections';
    return undefined;
  }

  /** Counts a refused connection or flow, with a rate-limited warning. */
  countRejected(reason: RejectReason, ip: string): void {
    this.stats.rejected[reason]++;
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
    this.stats.connectFailures++;
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
    this.stats.connections++;
    downstream.on('error', ignoreEarlyError);
    if (this.context.faults?.isDown(this.plan.key) === true) {
      downstream.resetAndDestroy(); // a proxy turned off through the toxiproxy API
      return;
    }
    const ip = this.needsClientIp ? clientIp(downstream.remoteAddress) : '';
    const refusal = this.refusal(ip);
    if (refusal !== undefined) {
      downstream.resetAndDestroy();
      this.countRejected(refusal, ip);
      return;
    }
    this.stats.active++;
    this.tracker.opened();
    this.attempt(downstream, ip, 0);
  }

  private attempt(downstream: Socket, ip: string, attempt: number): void {
    const upstream = this.picker.pick(ip, attempt > 0, Date.now());
    if (upstream === undefined) {
      this.reject(downstream, ip, 'no_endpoints');
      return;
    }
    const dialStarted = performance.now();
    const failed = (err: unknown): void => {
      this.dialFailed(upstream, attempt, err);
      if (downstream.destroyed) this.finish();
      else if (attempt + 1 < this.dialTimeoutsMs.length) this.attempt(downstream, ip, attempt + 1);
      else this.reject(downstream, ip, 'dial_failed');
    };
    this.resolve(upstream, (err, address) => {
      if (err !== null) {
        failed(err);
        return;
      }
      dial(address, upstream.port, this.dialTimeoutsMs[attempt] ?? 1000, (dialErr, socket) => {
        if (socket === undefined) failed(dialErr);
        else this.connected(downstream, socket, upstream, dialStarted);
      });
    });
  }

  private connected(downstream: Socket, socket: Socket, upstream: Upstream, dialStarted: number): void {
    if (downstream.destroyed) {
      socket.destroy(); // the client left while we were dialling
      this.finish();
      return;
    }
    this.stats.connectSeconds.observe((performance.now() - dialStarted) / 1000);
    this.dialSucceeded(upstream);
    downstream.removeListener('error', ignoreEarlyError);
    this.tracker.sockets.add(downstream).add(socket);
    const byUpstream = this.stats.activeByUpstream;
    byUpstream.set(upstream.id, (byUpstream.get(upstream.id) ?? 0) + 1);
    this.stats.connectionsByUpstream.set(upstream.id, (this.stats.connectionsByUpstream.get(upstream.id) ?? 0) + 1);
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
    const done = (result: PumpResult): void => this.onPumpDone(downstream, socket, upstream.id, result);
    // One lookup per connection; a port without faults gets undefined and the plain pump.
    const faults = this.context.faults?.forConnection(this.plan.key, upstream, Date.now());
    if (faults === undefined) pump(downstream, socket, this.pumpOptions, done);
    else if (faults === DOWN) {
      downstream.resetAndDestroy();
      socket.resetAndDestroy();
      pump(downstream, socket, this.pumpOptions, done); // both already destroyed: it only reports their close
    } else toxicPump(downstream, socket, this.pumpOptions, faults, done);
  }

  /** Reset, as iptables-mode kube-proxy's REJECT: the client learns at once rather than waiting. */
  private reject(downstream: Socket, ip: string, reason: RejectReason): void {
    if (!downstream.destroyed) downstream.resetAndDestroy();
    this.finish();
    this.countRejected(reason, ip);
  }

  private finish(): void {
    this.stats.active--;
    this.tracker.closed();
  }

  private onPumpDone(downstream: Socket, upstream: Socket, upstreamId: string, result: PumpResult): void {
    this.tracker.sockets.delete(downstream);
    this.tracker.sockets.delete(upstream);
    const left = (this.stats.activeByUpstream.get(upstreamId) ?? 1) - 1;
    if (left === 0) this.stats.activeByUpstream.delete(upstreamId);
    else this.stats.activeByUpstream.set(upstreamId, left);
    this.stats.bytesFromDownstream += result.bytesFromDownstream;
    this.stats.bytesFromUpstream += result.bytesFromUpstream;
    if (result.reason === 'idle_timeout') this.stats.idleTimeouts++;
    this.finish();
    if (this.debug) {
      this.log.debug(
        { reason: result.reason, code: errorCode(result.error), rx: result.bytesFromDownstream, tx: result.bytesFromUpstream },
        'connection closed',
      );
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
