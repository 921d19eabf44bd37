/**
 * A running svcproxy: the reconcile loop (config -> desired state -> plan ->
 * registry), the config watcher, the admin server and the drain. main()
 * starts one; tests start them in-process.
 *
 *   watch/poll/SIGHUP -> reload(): read + validate the whole snapshot
 *        invalid -> keep the last good one, log every problem, count it
 *        valid   -> planChanges(current, desired) -> registry.apply()
 */
import { EventEmitter } from 'node:events';
import type { Options } from './cli/options.js';
import { readConfig, STDIN_PATH, validateRead, type PathKind, type ReadOptions, type ReadResult } from './config/load.js';
import { formatIssue, type ConfigIssue, type ConfigNote, type ConfigSnapshot } from './config/types.js';
import { ConfigWatcher } from './config/watch.js';
import { NameService } from './dns/name-service.js';
import { ProbeManager, type ReadinessChange } from './health/probe-manager.js';
import type { AdminHandle, ReloadStatus, ReloadTrigger, SvcproxyEvents } from './instance-types.js';
import { errorMessage } from './errors.js';
import { FaultTable } from './faults/fault-table.js';
import type { Logger } from './log.js';
import { AddressWatch } from './proxy/address-watch.js';
import { isLocalAddress } from './proxy/local-addresses.js';
import type { NativePump } from './proxy/native-pump.js';
import { selectPump } from './proxy/pump-choice.js';
import { Registry } from './proxy/registry.js';
import type { LeaseObserver } from './proxy/port-ledger.js';
import { Resolver, type LookupFn } from './proxy/resolver.js';
import { DIAL_TIMEOUTS_MS } from './proxy/service-port-proxy.js';
import { parseLoopbackRange } from './state/address-allocator.js';
import { desiredState, type ListenEnvironment } from './state/desired.js';
import { describeChange, planChanges } from './state/plan.js';
import { EMPTY_STATE, type DesiredState, type PodInfo, type ServiceInfo } from './state/types.js';
import { nextRemoval } from './state/workload-pods.js';
import { describeServicePort } from './cli/describe.js';
import { describePod } from './cli/pods-table.js';
import { ProxyCollection } from './toxiproxy/proxy-collection.js';
import { ToxiproxyServer } from './toxiproxy/server.js';
import { adminAddresses, workerIndex } from './workers.js';

/** Quiet time after the last file event before a reload. */
const WATCH_DEBOUNCE_MS = 150;
/**
 * A watched change is applied only if the snapshot reads the same twice this
 * far apart, so a file still being written (a YAML document cut mid-way that
 * happens to parse) is not applied.
 */
const SETTLE_MS = 100;
/** A re-plan that could not be applied is tried again after this long. */
const REPLAN_RETRY_MS = 5000;

/** What changes between two plans of the same config: what binding names resolve to, and the time (Pods terminate). */
interface PlanInputs {
  readonly resolved: ReadonlyMap<string, readonly string[]>;
  readonly now: number;
}

function listenEnvironment(options: Options, running: DesiredState | undefined, inputs: PlanInputs): ListenEnvironment {
  const range = parseLoopbackRange(options.serviceCidr);
  const podRange = parseLoopbackRange(options.podCidr);
  return {
    bindAddress: options.bindAddress,
    nodeAddress: options.nodeAddress,
    isLocalAddress,
    reserved: [
      ...adminAddresses(options),
      ...(options.toxiproxy === undefined ? [] : [{ address: options.toxiproxy.host, port: options.toxiproxy.port, what: 'toxiproxy API' }]),
    ],
    udp: workerIndex() <= 1,
    ...(typeof range === 'string' ? {} : { serviceRange: range }),
    ...(typeof podRange === 'string' ? {} : { podRange }),
    ...(running === undefined ? {} : { previousNodePorts: running.nodePorts, previousAddresses: running.serviceAddresses, previousOwnedPods: running.ownedPods }),
    resolved: inputs.resolved,
    now: inputs.now,
  };
}

export interface Loaded {
  readonly state: DesiredState;
  readonly issues: readonly ConfigIssue[];
  readonly notes: readonly ConfigNote[];
  readonly hash: string;
  /** What each config path was (a reload expects the same). */
  readonly kinds: readonly (PathKind | undefined)[];
  readonly services: number;
  /** Objects of kinds svcproxy does not read, by `apiVersion kind`. */
  readonly ignored: Readonly<Record<string, number>>;
  /** Standard input as read for `--config -` (a reload reads the same bytes again). */
  readonly stdin: Uint8Array | undefined;
  /** The validated config: planned again, without reading, when binding names resolve anew or removed Pods end. */
  readonly snapshot: ConfigSnapshot;
}

/**
 * Reads, validates (in a child process) and plans the whole config; any issue
 * means the snapshot must not be applied. `running` passes the nodePorts
 * allocated so far, so an allocation survives reloads.
 */
export async function loadDesired(options: Options, input: ReadOptions = {}, running?: DesiredState): Promise<Loaded> {
  return planRead(options, await readConfig(options.config, input), input, running, { resolved: new Map(), now: Date.now() });
}

async function planRead(options: Options, read: ReadResult, input: ReadOptions, running: DesiredState | undefined, inputs: PlanInputs): Promise<Loaded> {
  const loaded = await validateRead(read, options.config);
  const desired = desiredState(loaded.snapshot, listenEnvironment(options, running, inputs));
  return {
    state: desired.state,
    issues: [...loaded.issues, ...desired.issues],
    notes: [...loaded.notes, ...desired.notes],
    hash: loaded.hash,
    kinds: loaded.kinds,
    services: loaded.snapshot.services.length,
    ignored: loaded.ignored,
    stdin: input.stdin,
    snapshot: loaded.snapshot,
  };
}

export type ReloadOutcome = 'applied' | 'invalid' | 'unchanged' | 'unsettled';

function pumpOf(native: NativePump | undefined): { nativePump?: NativePump } {
  return native === undefined ? {} : { nativePump: native };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What the composer of the process (app.ts, or a test) gives an instance. */
export interface SvcproxyParts<A extends AdminHandle> {
  /** Builds this instance's admin server (health, metrics, API); none when absent. */
  readonly admin?: (instance: Svcproxy<A>) => A;
  /** Host-name resolution for FQDN endpoints (the system resolver unless a test passes its own). */
  readonly lookup?: LookupFn;
  /** Told of every connection or flow that ends (the access log). */
  readonly onLeaseEnd?: LeaseObserver;
  /** Read every client's address even when no policy needs it (the access log records it). */
  readonly readClientAddresses?: boolean;
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
  draining = false;
  adminPort = 0;
  toxiproxyPort = 0;
  private faultTimer: NodeJS.Timeout | undefined;
  private state: DesiredState = EMPTY_STATE;
  private watchers: ConfigWatcher[] = [];
  private input: ReadOptions = {};
  private seenHash = '';
  private running: Promise<ReloadOutcome> | undefined;
  private queued: ReloadTrigger | undefined;
  /** The applied config, planned again when binding names resolve anew or a removed Pod's grace period ends. */
  private snapshot: ConfigSnapshot | undefined;
  private replanQueued = false;
  /** The problems of the last re-plan that could not be applied ('' after one that could), logged once. */
  private replanProblems = '';
  /** Set once start() is done: re-plans wait for it. */
  private started = false;
  private replanning: Promise<unknown> | undefined;
  private podTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly options: Options,
    readonly log: Logger,
    parts: SvcproxyParts<A> = {},
  ) {
    this.probes = new ProbeManager(
      {
        onChange: (change) => this.onReadinessChange(change),
        onSuccess: (pod) => this.registry.podProbeSucceeded(pod),
      },
      log,
    );
    // --pump: the native pump when chosen and built; the choice is logged once, here.
    this.nativePump = selectPump(options.pump, log);
    this.registry = new Registry(
      {
        halfCloseTimeoutMs: options.halfCloseTimeoutMs,
        dialTimeoutsMs: DIAL_TIMEOUTS_MS,
        keepAliveMs: options.tcpKeepAliveMs,
        ...pumpOf(this.nativePump),
        ...(parts.readClientAddresses === true ? { readClientAddresses: true } : {}),
      },
      log,
      (pod) => this.probes.isReady(pod),
      new Resolver(parts.lookup),
      parts.onLeaseEnd,
      this.faults,
    );
    this.faults.onChange = () => this.events.emit('toxics');
    this.bindingNames = new AddressWatch(() => this.replan(), log, parts.lookup);
    this.names = new NameService(options, log, (pod) => this.probes.isReady(pod), workerIndex() <= 1);
    this.registry.onListenerState = (l) =>
      this.events.emit('listener', { key: l.plan.key, servicePort: l.plan.servicePort, state: l.state, error: l.lastError });
    this.admin = parts.admin?.(this);
    const api = log.child({ component: 'toxiproxy-api' });
    this.toxiproxy =
      options.toxiproxy === undefined
        ? undefined
        : new ToxiproxyServer(
            new ProxyCollection(this.registry, this.faults, this.registry.options, this.registry.context, api, options.toxiproxyAllowRemote === true),
            api,
          );
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
   * a --workers worker has none: the primary serves the admin address), applies
   * the first snapshot, starts watching.
   */
  async start(first: Loaded): Promise<void> {
    if (this.admin !== undefined) {
      this.adminPort = await this.admin.listen(this.options.admin.host, this.options.admin.port);
      this.log.info({ address: `${this.options.admin.host}:${this.adminPort}` }, 'admin server listening');
    }
    if (this.toxiproxy !== undefined && this.options.toxiproxy !== undefined) {
      const { host, port } = this.options.toxiproxy;
      this.toxiproxyPort = await this.toxiproxy.listen(host, port);
      const loopback = host.startsWith('127.') || host === '::1';
      if (!loopback) this.log.warn({ address: `${host}:${this.toxiproxyPort}` }, 'toxiproxy API on a non-loopback address: anyone who reaches it can add faults to traffic');
      this.log.info({ address: `${host}:${this.toxiproxyPort}` }, 'toxiproxy API listening');
    }
    this.input = { expect: first.kinds, ...(first.stdin === undefined ? {} : { stdin: first.stdin }) };
    await this.applyLoaded(first, 'start');
    await this.names.start();
    // Standard input cannot change: only the paths are watched (and polled, once for all).
    this.watchers = this.options.config
      .filter((path) => path !== STDIN_PATH)
      .map(
        (path, i) =>
          new ConfigWatcher(
            path,
            { debounceMs: WATCH_DEBOUNCE_MS, pollIntervalMs: i === 0 ? this.options.configPollIntervalMs : 0, watch: this.options.watch },
            (trigger) => void this.reload(trigger),
            this.log,
          ),
      );
    for (const watcher of this.watchers) watcher.start();
    this.log.info({ config: this.options.config, services: first.services, listeners: this.registry.listeners.size, pods: this.state.pods.size }, 'started');
    this.started = true;
    if (this.replanQueued) this.replan();
  }

  /**
   * Re-reads the config and applies it if it is valid and changed. Reloads
   * run one at a time; triggers that arrive meanwhile collapse into one more.
   */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    // A re-plan in progress is not a reload: this one runs after it, and its caller hears its own outcome.
    if (this.replanning !== undefined) return this.replanning.then(() => this.reload(trigger));
    if (this.running !== undefined) {
      if (this.queued !== 'signal') this.queued = trigger; // a forced reload is never downgraded
      return this.running;
    }
    const run = this.reloadOnce(trigger).finally(() => this.next());
    this.running = run;
    return run;
  }

  /** After a reload or a re-plan: the queued reload, else a queued re-plan. */
  private next(): void {
    this.running = undefined;
    const next = this.queued;
    this.queued = undefined;
    if (this.draining) return;
    if (next !== undefined) void this.reload(next);
    else if (this.replanQueued) this.replan();
  }

  /**
   * Plans the applied config again, without reading it: a binding name
   * resolved to other addresses, or a removed Pod's grace period ended.
   * Runs in turn with reloads (one change of the registry at a time).
   */
  private replan(): void {
    if (this.draining || this.snapshot === undefined) return;
    if (this.running !== undefined || !this.started) {
      this.replanQueued = true;
      return;
    }
    this.replanQueued = false;
    const snapshot = this.snapshot;
    const run = (async (): Promise<ReloadOutcome> => {
      const desired = desiredState(snapshot, listenEnvironment(this.options, this.state, this.planInputs()));
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
    })().finally(() => {
      this.replanning = undefined;
      this.next();
    });
    this.running = run;
    this.replanning = run;
  }

  private planInputs(): PlanInputs {
    return { resolved: this.bindingNames.resolved, now: Date.now() };
  }

  /** Wakes up when the next removed Pod's grace period ends (not sooner than `minMs`), to remove it. */
  private schedulePodRemoval(minMs = 0): void {
    clearTimeout(this.podTimer);
    const next = nextRemoval(this.state.ownedPods);
    if (next === undefined || this.draining) return;
    this.podTimer = setTimeout(() => this.replan(), Math.min(2 ** 31 - 1, Math.max(minMs, next - Date.now()) + 1));
    this.podTimer.unref();
  }

  private async reloadOnce(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const forced = trigger === 'signal' || trigger === 'api';
    // Reading is cheap and decides whether anything changed; only a changed snapshot is parsed (in a child process).
    let read = await readConfig(this.options.config, this.input);
    if (!forced && read.hash === this.seenHash) return 'unchanged';
    if (!forced) {
      await delay(SETTLE_MS);
      const again = await readConfig(this.options.config, this.input);
      if (again.hash !== read.hash) {
        this.log.debug('config still changing; will read it again');
        this.queued ??= 'watch';
        return 'unsettled';
      }
      read = again;
    }
    const loaded = await planRead(this.options, read, this.input, this.state, this.planInputs());
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
    this.status.successes++;
    this.status.lastResult = 'success';
    this.status.lastErrors = [];
    this.status.lastSuccessAt = this.status.lastAttemptAt = this.status.appliedAt = Date.now();
    this.status.appliedHash = loaded.hash;
    this.events.emit('reload', { trigger, result: 'success', errors: [], changes });
  }

  /**
   * Makes the running proxy match `state`: the planned changes, Faults,
   * probes, names, and the timer that ends removed Pods. Shared by reloads
   * and re-plans.
   */
  private async applyState(state: DesiredState, notes: readonly ConfigNote[], trigger: ReloadTrigger | 'pods', hash = ''): Promise<number> {
    // A re-plan repeats the notes of the config it plans again; only reloads log them.
    if (trigger !== 'pods') for (const note of notes) this.log[note.level]({ where: note.where, object: note.object }, note.msg);
    const changes = planChanges(this.state, state);
    if (trigger !== 'pods') this.log.info({ trigger, changes: changes.length, hash: hash.slice(0, 12) }, 'applying config');
    else if (changes.length > 0) this.log.info({ changes: changes.length }, 'applying Pod changes');
    for (const change of changes) this.log.info({ change: describeChange(change) }, 'change');
    this.logServedAddresses(this.state.services, state.services);
    const podsChanged = this.logPods(this.state.pods, state.pods);
    this.state = state;
    const failures = await this.registry.apply(changes);
    this.faults.setDeclared(state.faults, Date.now());
    this.faults.retainCounters(new Set([...state.servicePorts.keys()].map(String)));
    this.scheduleFaults();
    this.probes.sync(state.probes);
    this.schedulePodRemoval();
    try {
      await this.names.update(state.services);
    } catch (err: unknown) {
      // The hosts file: at start-up a path svcproxy cannot write is an error; later, the proxy keeps serving.
      if (trigger === 'start') throw new Error(`cannot write the hosts file ${this.options.hostsFile}: ${errorMessage(err)}`, { cause: err });
      this.log.warn({ path: this.options.hostsFile, err: errorMessage(err) }, 'hosts file not updated');
    }
    for (const failure of failures) this.log.error({ code: failure.code }, failure.message);
    if (podsChanged) this.events.emit('pods');
    return changes.length;
  }

  /** One log line per Pod that is new, changed or gone: where to start its process. Returns whether any changed. */
  private logPods(before: ReadonlyMap<string, PodInfo>, after: ReadonlyMap<string, PodInfo>): boolean {
    let changed = false;
    for (const [key, pod] of after) {
      const was = before.get(key);
      if (was !== undefined && JSON.stringify(was) === JSON.stringify(pod)) continue;
      changed = true;
      if (pod.terminating) this.log.info({ pod: key, until: new Date(pod.removeAt).toISOString() }, `Pod ${key} terminating (removed from the config; gone after its grace period)`);
      else this.log.info({ pod: key, address: pod.address }, describePod(pod));
    }
    for (const key of before.keys()) {
      if (after.has(key)) continue;
      changed = true;
      this.log.info({ pod: key }, `Pod ${key} gone`);
    }
    return changed;
  }

  /** Wakes up when a Fault's `after` or `for` runs out: the feed hears of it and expired toxics release their connections. */
  private scheduleFaults(): void {
    clearTimeout(this.faultTimer);
    const next = this.faults.nextScheduleChange(Date.now());
    if (next === undefined || this.draining) return;
    // setTimeout holds at most 2^31-1 ms; a longer wait just wakes up early and re-arms.
    this.faultTimer = setTimeout(() => {
      this.faults.expire(Date.now());
      this.events.emit('toxics');
      this.scheduleFaults();
    }, Math.min(2 ** 31 - 1, Math.max(0, next - Date.now()) + 1));
    this.faultTimer.unref();
  }

  /** One log line per Service port whose addresses are new or changed: every address it is served on. */
  private logServedAddresses(before: ReadonlyMap<string, ServiceInfo>, after: ReadonlyMap<string, ServiceInfo>): void {
    for (const [key, service] of after) {
      const was = before.get(key);
      service.ports.forEach((port, i) => {
        if (was !== undefined && JSON.stringify(was.ports[i]) === JSON.stringify(port) && JSON.stringify(was.addresses) === JSON.stringify(service.addresses)) return;
        this.log.info({ service: key, port: port.name || port.port, addresses: port.servedOn.map((a) => a.address) }, describeServicePort(service, port));
      });
    }
  }

  /**
   * Graceful stop: stop accepting everywhere at once, let established
   * connections finish for up to `drainTimeoutMs`, reset what is left, then
   * close the admin server (which reports draining until then).
   */
  async shutdown(drainTimeoutMs = this.options.drainTimeoutMs): Promise<void> {
    this.draining = true;
    clearTimeout(this.faultTimer);
    clearTimeout(this.podTimer);
    this.bindingNames.stop();
    for (const watcher of this.watchers) watcher.stop();
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
    await this.toxiproxy?.close();
    await this.admin?.close();
    this.log.info('stopped');
  }

  /** Stops at once: for a second signal, and for tests. */
  async stop(): Promise<void> {
    await this.shutdown(0);
  }
}
