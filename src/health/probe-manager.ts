/**
 * The kubelet's prober, for the Pods that back Services: one loop per
 * container probe, with Kubernetes' timing (initialDelaySeconds, then every
 * periodSeconds, each attempt bounded by timeoutSeconds) and thresholds
 * (successThreshold consecutive successes to become ready, failureThreshold
 * consecutive failures to become not ready). A Pod starts not ready and is
 * ready when every probed container is. One attempt in flight per loop; a
 * removed Pod's loops are stopped with their timers and sockets.
 */
import type { Logger } from '../log.js';
import type { PodProbePlan } from '../state/types.js';
import { runProbe, type RunnableProbe } from './probe.js';

export interface ReadinessChange {
  readonly pod: string;
  readonly ready: boolean;
  readonly reason: string;
  readonly plan: PodProbePlan;
}

export interface ProbeEvents {
  /** A Pod turned ready or not ready. */
  readonly onChange: (change: ReadinessChange) => void;
  /** A probe of the Pod succeeded (passive health uses it to clear ejections). */
  readonly onSuccess: (pod: string) => void;
}

class ProbeLoop {
  ready = false;
  lastReason = 'not probed yet';
  private successes = 0;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private cancel: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly probe: RunnableProbe,
    private readonly address: string,
    private readonly onResult: (ok: boolean) => void,
  ) {}

  start(): void {
    this.timer = setTimeout(() => this.tick(), this.probe.initialDelaySeconds * 1000);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.cancel?.();
  }

  private tick(): void {
    const started = Date.now();
    this.cancel = runProbe(this.probe, this.address, (result) => {
      this.cancel = undefined;
      if (this.stopped) return;
      this.lastReason = result.reason;
      if (result.ok) {
        this.successes++;
        this.failures = 0;
        if (!this.ready && this.successes >= this.probe.successThreshold) this.ready = true;
      } else {
        this.failures++;
        this.successes = 0;
        if (this.ready && this.failures >= this.probe.failureThreshold) this.ready = false;
      }
      this.onResult(result.ok);
      // The period runs from the start of an attempt; a slow attempt delays the next, never overlaps it.
      this.timer = setTimeout(() => this.tick(), Math.max(0, this.probe.periodSeconds * 1000 - (Date.now() - started)));
    });
  }
}

interface PodProbes {
  plan: PodProbePlan;
  readonly fingerprint: string;
  readonly loops: ProbeLoop[];
  ready: boolean;
}

export class ProbeManager {
  private readonly pods = new Map<string, PodProbes>();

  constructor(
    private readonly events: ProbeEvents,
    private readonly log: Logger,
  ) {}

  /** Live readiness of a probed Pod; false for a Pod not (or no longer) probed. */
  isReady(pod: string): boolean {
    return this.pods.get(pod)?.ready ?? false;
  }

  /** Why a probed Pod is (not) ready: its probes' last results; '' for a Pod not probed. */
  reason(pod: string): string {
    const entry = this.pods.get(pod);
    return entry === undefined ? '' : entry.loops.map((l) => l.lastReason).join('; ');
  }

  /** Number of running probe loops, for tests and the admin view. */
  get loopCount(): number {
    let n = 0;
    for (const p of this.pods.values()) n += p.loops.length;
    return n;
  }

  /**
   * Makes the running probes match `plans`: new Pods start (not ready),
   * removed ones stop, changed ones (address or probe) restart; unchanged
   * ones keep running and keep their readiness.
   */
  sync(plans: ReadonlyMap<string, PodProbePlan>): void {
    for (const [pod, running] of this.pods) {
      const plan = plans.get(pod);
      if (plan === undefined || fingerprint(plan) !== running.fingerprint) this.stopPod(pod);
      else running.plan = plan; // the Services it backs may have changed
    }
    for (const [pod, plan] of plans) if (!this.pods.has(pod)) this.startPod(plan);
  }

  stopAll(): void {
    for (const pod of [...this.pods.keys()]) this.stopPod(pod);
  }

  private startPod(plan: PodProbePlan): void {
    const entry: PodProbes = { plan, fingerprint: fingerprint(plan), loops: [], ready: false };
    // Every kind the plan holds runs: tcpSocket, httpGet, grpc, and exec as a connect (state/ plans only runnable ones).
    for (const probe of plan.probes) entry.loops.push(new ProbeLoop(probe, plan.address, (ok) => this.onResult(entry, ok)));
    this.pods.set(plan.pod, entry);
    for (const loop of entry.loops) loop.start();
    this.log.debug({ pod: plan.pod, probes: entry.loops.length }, 'probing pod');
  }

  private stopPod(pod: string): void {
    const entry = this.pods.get(pod);
    if (entry === undefined) return;
    for (const loop of entry.loops) loop.stop();
    this.pods.delete(pod);
  }

  private onResult(entry: PodProbes, ok: boolean): void {
    if (this.pods.get(entry.plan.pod) !== entry) return; // a stopped Pod's late result
    if (ok) this.events.onSuccess(entry.plan.pod);
    const ready = entry.loops.every((l) => l.ready);
    if (ready === entry.ready) return;
    entry.ready = ready;
    const reason = entry.loops.map((l) => l.lastReason).join('; ');
    this.events.onChange({ pod: entry.plan.pod, ready, reason, plan: entry.plan });
  }
}

function fingerprint(plan: PodProbePlan): string {
  return JSON.stringify([plan.address, plan.probes]);
}
