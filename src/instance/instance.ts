/**
 * A running svcproxy, as composition: sources -> reload loop -> plan ->
 * registry, with the probes, names, faults, the toxiproxy API and the admin
 * server beside them. app.ts (or a test) builds one from an InstanceConfig
 * and its sources; nothing here knows the command line.
 *
 *   source change / SIGHUP / API -> loop.reload(): read every source
 *        unchanged      -> nothing
 *        still changing -> read again (outcome 'unsettled')
 *        invalid        -> keep the last good config, log every problem, count it
 *        valid          -> planChanges(current, desired) -> registry.apply()
 *   binding names resolved anew / a grace period or Fault window ends -> loop.replan()
 */
import { EventEmitter } from 'node:events';
import { formatIssue, type ConfigNote, type ConfigSnapshot } from '../config/types.js';
import { NameService } from '../dns/name-service.js';
import { errorMessage } from '../errors.js';
import { FaultTable } from '../faults/fault-table.js';
import { ProbeManager, type ReadinessChange } from '../health/probe-manager.js';
import type { AdminHandle, ReloadStatus, ReloadTrigger, SvcproxyEvents } from '../instance-types.js';
import type { Logger } from '../log.js';
import { AddressWatch } from '../proxy/address-watch.js';
import type { PortForwarder } from '../proxy/forwarded.js';
import type { NativePump } from '../proxy/native-pump.js';
import type { LeaseObserver } from '../proxy/port-ledger.js';
import { selectPump } from '../proxy/pump-choice.js';
import { Registry } from '../proxy/registry.js';
import { DNS_CACHE_MS, Resolver, type LookupFn } from '../proxy/resolver.js';
import { DIAL_TIMEOUTS_MS } from '../proxy/service-port-proxy.js';
import type { ClusterStatusReader } from '../sources/cluster-status.js';
import type { Source } from '../sources/source.js';
import { describeChange, planChanges } from '../state/plan.js';
import { EMPTY_STATE, type DesiredState, type PodInfo, type ServiceInfo } from '../state/types.js';
import { nextRemoval } from '../state/workload-pods.js';
import type { ToxiproxyServer } from '../toxiproxy/server.js';
import { workerIndex } from '../workers.js';
import type { InstanceConfig } from './config.js';
import { logNewNotes, logPods, logServedAddresses } from './diff-log.js';
import { planRead, planSnapshot, type Loaded, type PlanInputs } from './plan.js';
import { ReloadLoop, type ReloadOutcome } from './reload-loop.js';
import { Scheduler, type Clock } from './scheduler.js';
import { settledRead } from './settled-read.js';
import { listenToxiproxy, toxiproxyApi } from './toxiproxy-api.js';

/** A change a source reports is applied only if the sources read the same twice this far apart (settled-read.ts). */
const SETTLE_MS = 100;
/** A re-plan that could not be applied is tried again after this long. */
const REPLAN_RETRY_MS = 5000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What the composer of the process (app.ts, or a test) gives an instance. */
export interface SvcproxyParts<A extends AdminHandle> {
  /** Where the objects come from, in precedence order (sources/merge.ts): the first wins on the same object. */
  readonly sources: readonly Source[];
  /** Builds this instance's admin server (health, metrics, API); none when absent. */
  readonly admin?: (instance: Svcproxy<A>) => A;
  /** Host-name resolution for FQDN endpoints (the system resolver unless a test passes its own). */
  readonly lookup?: LookupFn;
  /** Told of every connection or flow that ends (the access log). */
  readonly onLeaseEnd?: LeaseObserver;
  /** Read every client's address even when no policy needs it (the access log records it). */
  readonly readClientAddresses?: boolean;
  /** The clock of the time-based re-plans (tests pass a fake one). */
  readonly clock?: Clock;
  /** A cluster source's state (--cluster), read-only, for the admin surface. */
  readonly cluster?: ClusterStatusReader;
  /**
   * --pod-network portforward: carries connections to the cluster's Pods through the API server
   * (src/portforward/, built by the composer from the cluster's access); closed by stop().
   */
  readonly portForwarder?: PortForwarder;
}

export class Svcproxy<A extends AdminHandle = AdminHandle> {
  readonly registry: Registry;
  readonly probes: ProbeManager;
  /** Health, metrics, the JSON API, the event feed and the dashboard: reads this instance, never changes it. */
  readonly admin: A | undefined;
  /** DNS zone and server, hosts-file block: names for the applied Services. */
  readonly names: NameService;
  /** The native splice pump when --pump native and it is built; undefined: the JS pump carries everything. */
  readonly nativePump: NativePump | undefined;
  /** Reloads, readiness changes and listener state changes, for whoever watches (the admin feed). */
  readonly events = new EventEmitter<SvcproxyEvents>();
  readonly status: ReloadStatus = {
    successes: 0,
    failures: 0,
    lastSuccessAt: 0,
    lastAttemptAt: 0,
    lastResult: 'none',
    lastErrors: [],
    appliedHash: '',
    appliedAt: 0,
  };
  /** Declared Faults and toxiproxy-API toxics; consulted once per new connection. */
  readonly faults = new FaultTable();
  /** The toxiproxy-compatible API (--toxiproxy-address), a server of its own; undefined when off. */
  readonly toxiproxy: ToxiproxyServer | undefined;
  /** The addresses of WorkloadBinding DNS names (each one Pod), kept fresh while running. */
  readonly bindingNames: AddressWatch;
  /** One reload or re-plan at a time. */
  readonly loop: ReloadLoop;
  /** With --cluster: the cluster source's state, for /api/cluster, /readyz and the metrics. */
  readonly cluster: ClusterStatusReader | undefined;
  /** With --cluster and --pod-network portforward: the streams to Pods through the API server. */
  readonly portForwarder: PortForwarder | undefined;
  draining = false;
  adminPort = 0;
  toxiproxyPort = 0;
  private readonly sources: readonly Source[];
  private readonly timers: Scheduler<'pods' | 'faults' | 'bindings'>;
  private state: DesiredState = EMPTY_STATE;
  private seenHash = '';
  /** The notes of the last applied reload (diff-log.ts's keys): a note is logged when it is new. */
  private loggedNotes: ReadonlySet<string> = new Set();
  /** The applied objects, planned again when binding names resolve anew or a removed Pod's grace period ends. */
  private snapshot: ConfigSnapshot | undefined;
  /** The problems of the last re-plan that could not be applied ('' after one that could), logged once. */
  private replanProblems = '';

  constructor(
    readonly options: InstanceConfig,
    readonly log: Logger,
    parts: SvcproxyParts<A>,
  ) {
    this.sources = parts.sources;
    this.cluster = parts.cluster;
    this.portForwarder = parts.portForwarder;
    this.timers = new Scheduler(parts.clock);
    this.loop = new ReloadLoop({ reload: (trigger) => this.reloadOnce(trigger), replan: () => this.replanOnce() });
    this.probes = new ProbeManager({ onChange: (change) => this.onReadinessChange(change), onSuccess: (pod) => this.registry.podProbeSucceeded(pod) }, log);
    // --pump: the native pump when chosen and built; the choice is logged once, here.
    this.nativePump = selectPump(options.pump, log);
    this.registry = new Registry(
      {
        halfCloseTimeoutMs: options.halfCloseTimeoutMs,
        dialTimeoutsMs: DIAL_TIMEOUTS_MS,
        keepAliveMs: options.tcpKeepAliveMs,
        ...(this.nativePump === undefined ? {} : { nativePump: this.nativePump }),
        ...(parts.portForwarder === undefined ? {} : { portForwarder: parts.portForwarder }),
        ...(parts.readClientAddresses === true ? { readClientAddresses: true } : {}),
      },
      log,
      { podReady: (pod) => this.probes.isReady(pod), resolver: new Resolver(parts.lookup), onLeaseEnd: parts.onLeaseEnd, faults: this.faults },
    );
    this.faults.onChange = () => this.events.emit('toxics');
    // Binding names are resolved again on the instance's one scheduler ('bindings'), not on a timer of their own.
    this.bindingNames = new AddressWatch(() => this.replan(), log, parts.lookup, 0);
    this.names = new NameService(options, log, (pod) => this.probes.isReady(pod), workerIndex() <= 1);
    this.registry.onListenerState = (l) =>
      this.events.emit('listener', { key: l.plan.key, servicePort: l.plan.servicePort, state: l.state, error: l.lastError });
    this.admin = parts.admin?.(this);
    this.toxiproxy = toxiproxyApi(options, this.registry, this.faults, log);
  }

  /** Readiness applies to new connections at once; established ones are never cut by it. */
  private onReadinessChange(change: ReadinessChange): void {
    for (const service of change.plan.services) {
      this.log.info({ service, pod: change.pod, address: change.plan.address, reason: change.reason }, change.ready ? 'endpoint ready' : 'endpoint not ready');
    }
    this.registry.podReadinessChanged(change.pod);
    this.names.refresh().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'hosts file not updated'));
    this.events.emit('readiness', change);
  }

  /** Every Service of the applied config, with its addresses and ports (names, the admin API). */
  get services(): ReadonlyMap<string, ServiceInfo> {
    return this.state.services;
  }

  /** Every Pod of the applied config (written by hand and made from workloads), for the Pods table. */
  get pods(): ReadonlyMap<string, PodInfo> {
    return this.state.pods;
  }

  /** Ready = the first config is applied, every listener is bound, and we are not draining. */
  get ready(): { ready: boolean; reason: string } {
    if (this.draining) return { ready: false, reason: 'draining' };
    if (this.status.successes === 0) return { ready: false, reason: 'no config applied yet' };
    const failed = this.registry.failedListeners();
    if (failed.length > 0) return { ready: false, reason: `not bound: ${failed.map((l) => `${l.plan.key} (${l.lastError})`).join(', ')}` };
    const names = this.names.problem;
    if (names !== '') return { ready: false, reason: names };
    return { ready: true, reason: 'ok' };
  }

  /**
   * Binds the admin server, if it was given one (a fatal error when it cannot;
   * a --workers worker has none: the primary serves the admin address), and
   * the toxiproxy API, applies the first snapshot, starts watching the sources.
   */
  async start(first: Loaded): Promise<void> {
    if (this.admin !== undefined) {
      this.adminPort = await this.admin.listen(this.options.admin.host, this.options.admin.port);
      this.log.info({ address: `${this.options.admin.host}:${this.adminPort}` }, 'admin server listening');
    }
    if (this.toxiproxy !== undefined) this.toxiproxyPort = await listenToxiproxy(this.toxiproxy, this.options, this.log);
    await this.applyLoaded(first, 'start');
    await this.names.start();
    for (const source of this.sources) source.watch((trigger) => void this.reload(trigger), this.log);
    this.log.info({ config: this.options.config, services: first.services, listeners: this.registry.listeners.size, pods: this.state.pods.size }, 'started');
    this.loop.open();
  }

  /**
   * Re-reads the sources and applies them if they are valid and changed.
   * Reloads run one at a time; triggers that arrive meanwhile collapse into one more (reload-loop.ts).
   */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    return this.loop.reload(trigger);
  }

  /** Plans the applied config again, in turn with reloads: a binding name resolved to other addresses, or a time came. */
  private replan(): void {
    if (this.draining || this.snapshot === undefined) return;
    this.loop.replan();
  }

  private planInputs(): PlanInputs {
    return { resolved: this.bindingNames.resolved, now: Date.now() };
  }

  private async replanOnce(): Promise<ReloadOutcome> {
    if (this.snapshot === undefined) return 'unchanged';
    const desired = planSnapshot(this.options, this.snapshot, this.state, this.planInputs());
    if (desired.issues.length > 0) {
      // Only Pods can have changed (a binding name's new addresses clash with a Pod's name): keep what runs, say
      // why once, and try again later rather than at once (a removal due in the past would spin).
      const problems = desired.issues.map(formatIssue).join('\n');
      if (problems !== this.replanProblems) for (const line of problems.split('\n')) this.log.error(`Pods not updated: ${line}`);
      this.replanProblems = problems;
      this.schedulePodRemoval(REPLAN_RETRY_MS);
      return 'invalid';
    }
    this.replanProblems = '';
    await this.applyState(desired.state, desired.notes, 'pods');
    return 'applied';
  }

  /** Wakes up when the next removed Pod's grace period ends (not sooner than `minMs` from now), to remove it. */
  private schedulePodRemoval(minMs = 0): void {
    const next = nextRemoval(this.state.ownedPods);
    const at = next === undefined || this.draining ? undefined : Math.max(Date.now() + minMs, next);
    this.timers.set('pods', at, () => this.replan());
  }

  /** Wakes up when a Fault's `after` or `for` runs out: the feed hears of it and expired toxics release their connections. */
  private scheduleFaults(): void {
    const at = this.draining ? undefined : this.faults.nextScheduleChange(Date.now());
    this.timers.set('faults', at, (now) => {
      this.faults.expire(now);
      this.events.emit('toxics');
      this.scheduleFaults();
    });
  }

  /** Every DNS_CACHE_MS while any WorkloadBinding name is watched: resolve them again (a changed answer re-plans). */
  private scheduleBindings(): void {
    const at = this.draining || !this.bindingNames.watching ? undefined : Date.now() + DNS_CACHE_MS;
    this.timers.set('bindings', at, () => {
      this.bindingNames.refresh();
      this.scheduleBindings();
    });
  }

  private async reloadOnce(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const forced = trigger === 'signal' || trigger === 'api';
    const read = await settledRead(this.sources, { seen: this.seenHash, forced, wait: () => delay(SETTLE_MS) });
    if (read === 'unsettled') this.log.debug('config still changing; will read it again');
    if (typeof read === 'string') return read;
    const loaded = await planRead(this.options, read, this.state, this.planInputs());
    // Stopped while validating: shutdown has closed the registry, which must not change any more.
    if (this.draining) return 'unchanged';
    this.seenHash = loaded.hash;
    this.status.lastAttemptAt = Date.now();
    if (loaded.issues.length > 0) {
      this.status.failures++;
      this.status.lastResult = 'failure';
      this.status.lastErrors = loaded.issues.map(formatIssue);
      for (const line of this.status.lastErrors) this.log.error({ trigger }, `invalid config: ${line}`);
      this.log.error({ trigger, problems: loaded.issues.length }, 'config rejected; still serving the last good config');
      this.events.emit('reload', { trigger, result: 'failure', errors: this.status.lastErrors, changes: 0 });
      return 'invalid';
    }
    await this.applyLoaded(loaded, trigger);
    return 'applied';
  }

  private async applyLoaded(loaded: Loaded, trigger: ReloadTrigger): Promise<void> {
    this.seenHash = loaded.hash;
    this.snapshot = loaded.snapshot;
    const changes = await this.applyState(loaded.state, loaded.notes, trigger, loaded.hash);
    // 'applying config' comes before the listeners are bound; this line comes after, for those who wait on the logs.
    if (trigger !== 'start') this.log.info({ trigger, changes, hash: loaded.hash.slice(0, 12), listeners: this.registry.listeners.size }, 'config applied');
    // A name resolved from here on plans again, after this apply (re-plans wait for a running reload, and for the start).
    this.bindingNames.watch([...new Set(loaded.snapshot.bindings.map((b) => b.dnsName).filter((n) => n !== ''))]);
    this.scheduleBindings();
    this.status.successes++;
    this.status.lastResult = 'success';
    this.status.lastErrors = [];
    this.status.lastSuccessAt = this.status.lastAttemptAt = this.status.appliedAt = Date.now();
    this.status.appliedHash = loaded.hash;
    this.events.emit('reload', { trigger, result: 'success', errors: [], changes });
  }

  /**
   * Makes the running proxy match `state`: the planned changes, Faults,
   * probes, names, and the timers. Shared by reloads and re-plans.
   */
  private async applyState(state: DesiredState, notes: readonly ConfigNote[], trigger: ReloadTrigger | 'pods', hash = ''): Promise<number> {
    // A re-plan repeats the notes of the config it plans again; only reloads log them, and only those the last one had not.
    if (trigger !== 'pods') this.loggedNotes = logNewNotes(this.log, this.loggedNotes, notes);
    const changes = planChanges(this.state, state);
    if (trigger !== 'pods') this.log.info({ trigger, changes: changes.length, hash: hash.slice(0, 12) }, 'applying config');
    else if (changes.length > 0) this.log.info({ changes: changes.length }, 'applying Pod changes');
    for (const change of changes) this.log.info({ change: describeChange(change) }, 'change');
    logServedAddresses(this.log, this.state.services, state.services);
    const podsChanged = logPods(this.log, this.state.pods, state.pods);
    this.state = state;
    const failures = await this.registry.apply(changes);
    this.faults.setDeclared(state.faults, Date.now());
    this.faults.retainCounters(new Set([...state.servicePorts.keys()].map(String)));
    this.scheduleFaults();
    this.probes.sync(state.probes);
    this.schedulePodRemoval();
    await this.updateNames(state, trigger);
    for (const failure of failures) this.log.error({ code: failure.code }, failure.message);
    if (podsChanged) this.events.emit('pods');
    return changes.length;
  }

  /** The hosts file: at start-up a path svcproxy cannot write is an error; later, the proxy keeps serving. */
  private async updateNames(state: DesiredState, trigger: ReloadTrigger | 'pods'): Promise<void> {
    try {
      await this.names.update(state.services);
    } catch (err: unknown) {
      if (trigger === 'start') throw new Error(`cannot write the hosts file ${this.options.hostsFile}: ${errorMessage(err)}`, { cause: err });
      this.log.warn({ path: this.options.hostsFile, err: errorMessage(err) }, 'hosts file not updated');
    }
  }

  /**
   * Graceful stop: stop accepting everywhere at once, let established
   * connections finish for up to `drainTimeoutMs`, reset what is left, then
   * close the admin server (which reports draining until then).
   */
  async shutdown(drainTimeoutMs = this.options.drainTimeoutMs): Promise<void> {
    this.draining = true;
    this.loop.close();
    this.timers.stop();
    this.bindingNames.stop();
    for (const source of this.sources) source.stop();
    this.probes.stopAll();
    this.registry.closeListeners();
    await this.names.stop();
    const open = this.registry.tracker.active;
    this.log.info({ connections: open, drainTimeoutMs }, 'draining');
    const idle = drainTimeoutMs > 0 ? await this.registry.tracker.waitForIdle(drainTimeoutMs) : open === 0;
    if (!idle) {
      this.log.warn({ connections: this.registry.tracker.active }, 'drain timeout; resetting the remaining connections');
      this.registry.tracker.resetAll();
    }
    await this.portForwarder?.close();
    await this.toxiproxy?.close();
    await this.admin?.close();
    this.log.info('stopped');
  }

  /** Stops at once: for a second signal, and for tests. */
  async stop(): Promise<void> {
    await this.shutdown(0);
  }
}
