/**
 * Serves one Service port: for each accepted connection, pick an endpoint
 * (round robin), dial it, retry the next one with a longer timeout on
 * failure (kube-proxy's 250/500/1000/2000 ms), then hand both sockets to the
 * pump. Several listeners (addresses) may feed one ServicePortProxy; they
 * share its rotation and its counters.
 *
 * Per connection the work is fixed and small: one pick, at most four dials,
 * a few listeners, counters added once at close. Nothing here waits on a
 * dial in a way that blocks accepting: each connection runs its own chain
 * of callbacks.
 */
import type { Socket } from 'node:net';
import { PassiveHealth, PASSIVE_HEALTH_DEFAULTS, type PassiveHealthOptions } from '../balancer/passive-health.js';
import { RoundRobin, type Shuffle } from '../balancer/round-robin.js';
import { errorCode, errorMessage } from '../errors.js';
import { RateLimitedWarning, type Logger } from '../log.js';
import { currentConditions, usableEndpoints } from '../state/endpoints.js';
import { hostPort, type ServicePortKey, type ServicePortPlan } from '../state/types.js';
import type { ConnectionTracker } from './connection-tracker.js';
import { dial } from './dial.js';
import { pump, type PumpResult } from './pump.js';
import { newStats, type ServicePortStats } from './stats.js';

export type { ServicePortStats } from './stats.js';

/** kube-proxy's EndpointDialTimeouts: one endpoint per attempt, worst case 3.75 s. */
export const DIAL_TIMEOUTS_MS: readonly number[] = [250, 500, 1000, 2000];

export interface Upstream {
  /** `host:port`, the identity the balancer keys on. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** `namespace/name` of its Pod, '' when hand-written. */
  readonly pod: string;
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
}

function ignoreEarlyError(): void {
  // Before the pump takes over, a client error only means the client is gone;
  // the dial callback sees `destroyed` and drops the upstream.
}

export class ServicePortProxy {
  readonly stats: ServicePortStats = newStats();
  private readonly balancer: RoundRobin<Upstream>;
  private readonly health: PassiveHealth;
  private readonly tracker: ConnectionTracker;
  private readonly log: Logger;
  private readonly rejectWarning: RateLimitedWarning;
  private plan: ServicePortPlan;

  private readonly skipEjected = (upstream: Upstream): boolean => this.health.isEjected(upstream.id, Date.now());

  constructor(
    plan: ServicePortPlan,
    private readonly options: ServicePortOptions,
    private readonly context: ServicePortContext,
    log: Logger,
  ) {
    this.plan = plan;
    this.tracker = context.tracker;
    this.balancer = new RoundRobin<Upstream>(options.shuffle);
    this.health = new PassiveHealth(options.passiveHealth ?? PASSIVE_HEALTH_DEFAULTS);
    this.log = log.child({ servicePort: plan.key }); // bindings serialized once, here
    this.rejectWarning = new RateLimitedWarning(this.log);
    this.update(plan);
  }

  get key(): ServicePortKey {
    return this.plan.key;
  }

  get current(): ServicePortPlan {
    return this.plan;
  }

  /** Installs new endpoints; the rotation restarts only if the usable set changed. */
  update(plan: ServicePortPlan): void {
    this.plan = plan;
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
    const { endpoints, publishNotReadyAddresses } = this.plan;
    const current = endpoints.map((e) => ({ ...e, ...currentConditions(e, this.context.podReady, publishNotReadyAddresses) }));
    const upstreams = usableEndpoints(current).map((e) => ({ id: hostPort(e.host, e.port), host: e.host, port: e.port, pod: e.pod }));
    this.health.retain(new Set(endpoints.map((e) => hostPort(e.host, e.port))));
    if (this.balancer.update(upstreams)) {
      this.log.debug({ upstreams: upstreams.map((u) => u.id) }, 'endpoint set changed; rotation restarted');
    }
  }

  /** A probe of `pod` succeeded: its endpoints are no longer skipped by passive health. */
  clearEjections(pod: string): void {
    for (const e of this.plan.endpoints) {
      if (e.pod === pod && this.health.recordSuccess(hostPort(e.host, e.port))) {
        this.log.info({ upstream: hostPort(e.host, e.port), pod }, 'endpoint back after a successful probe');
      }
    }
  }

  /** Endpoints passive health is skipping right now. */
  ejected(): string[] {
    return this.health.ejected(Date.now());
  }

  /** Takes an accepted (paused) client socket from a listener. */
  accept(downstream: Socket): void {
    this.stats.connections++;
    this.stats.active++;
    this.tracker.opened();
    downstream.on('error', ignoreEarlyError);
    this.attempt(downstream, 0);
  }

  private attempt(downstream: Socket, attempt: number): void {
    const upstream = this.balancer.next(this.health.empty ? undefined : this.skipEjected);
    if (upstream === undefined) {
      this.stats.rejected.no_endpoints++;
      this.reject(downstream, 'no ready endpoints; connection reset');
      return;
    }
    const timeoutMs = this.options.dialTimeoutsMs[attempt] ?? 1000;
    const dialStarted = performance.now();
    dial(upstream.host, upstream.port, timeoutMs, (err, socket) => {
      if (socket === undefined) {
        this.stats.connectFailures++;
        this.log.debug({ upstream: upstream.id, attempt, code: errorCode(err), err: errorMessage(err) }, 'upstream dial failed');
        const backoffMs = this.health.recordFailure(upstream.id, Date.now());
        if (backoffMs > 0) this.log.warn({ upstream: upstream.id, backoffMs, code: errorCode(err) }, 'endpoint skipped after consecutive failed dials');
        if (downstream.destroyed) this.finish();
        else if (attempt + 1 < this.options.dialTimeoutsMs.length) this.attempt(downstream, attempt + 1);
        else {
          this.stats.rejected.dial_failed++;
          this.reject(downstream, 'every dial attempt failed; connection reset');
        }
        return;
      }
      if (downstream.destroyed) {
        socket.destroy(); // the client left while we were dialling
        this.finish();
        return;
      }
      this.stats.connectSeconds.observe((performance.now() - dialStarted) / 1000);
      if (!this.health.empty && this.health.recordSuccess(upstream.id)) this.log.info({ upstream: upstream.id }, 'endpoint back after a successful dial');
      downstream.removeListener('error', ignoreEarlyError);
      this.tracker.sockets.add(downstream).add(socket);
      const byUpstream = this.stats.activeByUpstream;
      byUpstream.set(upstream.id, (byUpstream.get(upstream.id) ?? 0) + 1);
      this.stats.connectionsByUpstream.set(upstream.id, (this.stats.connectionsByUpstream.get(upstream.id) ?? 0) + 1);
      pump(downstream, socket, this.options, (result) => this.onPumpDone(downstream, socket, upstream.id, result));
    });
  }

  /** Reset, as iptables-mode kube-proxy's REJECT: the client learns at once rather than waiting. */
  private reject(downstream: Socket, msg: string): void {
    if (!downstream.destroyed) downstream.resetAndDestroy();
    this.finish();
    this.rejectWarning.warn({ endpoints: this.balancer.size }, msg);
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
    this.finish();
    this.log.debug(
      { reason: result.reason, code: errorCode(result.error), rx: result.bytesFromDownstream, tx: result.bytesFromUpstream },
      'connection closed',
    );
  }
}
