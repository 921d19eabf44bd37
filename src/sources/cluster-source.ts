/**
 * A live cluster as a Source: one reflector (list+watch, src/kube/) per
 * resource and followed namespace, Services and EndpointSlices. read() is
 * cheap: a hash of every held object's key and resourceVersion, and of the
 * watches' phases; objects() converts what was held at that read
 * (cluster-objects.ts). When the API server goes away the reflectors keep
 * their last objects, so the last state goes on being served; the source
 * says since when (clusterStatus(), the log) and converges when it returns.
 */
import { createHash } from 'node:crypto';
import type { ClusterAccess, KubeResource, Reflector, ReflectorOptions, ReflectorState, ReflectorTuning } from '../kube/types.js';
import type { Logger } from '../log.js';
import { clusterObjects, clusterOrigin } from './cluster-objects.js';
import type { ClusterStatus, ClusterWatchStatus } from './cluster-status.js';
import type { Source, SourceLog, SourceObjects, SourceRead, SourceTrigger } from './source.js';

/** The resources followed, in this order. */
const RESOURCES: readonly KubeResource[] = ['services', 'endpointslices'];
/** How often the phases are looked at for the log (forbidden, unauthorized, out of reach, back). */
const STATE_CHECK_MS = 1000;
/** A 401 after start is logged at most this often. */
const UNAUTHORIZED_LOG_MS = 60_000;
/**
 * Backoff ceiling after an error: 5 s rather than client-go's 30 s, so that
 * svcproxy converges within seconds of an API server's return (one client
 * on one machine: the load it adds is nothing).
 */
const DEFAULT_TUNING: ReflectorTuning = { backoffMaxMs: 5000 };

type ReflectorFactory = (options: ReflectorOptions) => Reflector;

export interface ClusterSourceOptions {
  readonly access: ClusterAccess;
  /** The namespaces to follow; [''] = all namespaces. */
  readonly namespaces: readonly string[];
  readonly reflector: ReflectorFactory;
  readonly log: Logger;
  readonly now?: () => number;
  /** The reflectors' timings; tests shorten them. */
  readonly tuning?: ReflectorTuning;
}

interface Watch {
  readonly resource: KubeResource;
  readonly namespace: string;
  readonly reflector: Reflector;
}

const iso = (ms: number): string => (ms > 0 ? new Date(ms).toISOString() : '');

/** The reason a start cannot go on: a watch refused for its credentials. */
class ClusterAuthError extends Error {
  override readonly name = 'ClusterAuthError';
}

export class ClusterSource implements Source {
  readonly description: string;
  private readonly watches: Watch[];
  private onChange: (trigger: SourceTrigger) => void = () => {};
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** What was last logged, so each state is told once. */
  private told = { forbidden: new Set<string>(), unreachable: false, unauthorizedAt: 0 };
  /** When the current outage was first seen (epoch ms), 0 while reachable: each retry's error must not move it. */
  private outageSince = 0;
  private started = false;
  /** The notes of the last conversion (see onlyNewNotes). */
  private toldNotes = new Set<string>();

  constructor(private readonly options: ClusterSourceOptions) {
    const { access } = options;
    this.now = options.now ?? Date.now;
    this.description = `cluster ${access.contextName} (${access.server})`;
    this.watches = options.namespaces.flatMap((namespace) =>
      RESOURCES.map((resource) => ({
        resource,
        namespace,
        reflector: options.reflector({
          access,
          resource,
          namespace,
          onChange: () => this.onChange('watch'),
          log: options.log.child({ resource, namespace: namespace || '*' }),
          tuning: { ...DEFAULT_TUNING, ...options.tuning },
        }),
      })),
    );
  }

  /** The kubeconfig context followed (the port-forwarder talks to the same API server with the same credentials). */
  get access(): ClusterAccess {
    return this.options.access;
  }

  /** Starts every watch (once); the states are checked from now on. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const w of this.watches) w.reflector.start();
    this.timer = setInterval(() => this.checkStates(), STATE_CHECK_MS);
    this.timer.unref();
  }

  /**
   * Starts and waits until every watch has listed once (or is refused, or
   * `timeoutMs` passed: then what is there is served and the rest follows).
   * A 401 from every watch is thrown: the credentials are wrong, no use going on.
   */
  async synced(timeoutMs: number): Promise<void> {
    this.start();
    const deadline = this.now() + timeoutMs;
    const settled = (s: ReflectorState): boolean => s.synced || s.phase === 'forbidden' || s.phase === 'unauthorized';
    while (this.now() < deadline && !this.watches.every((w) => settled(w.reflector.state()))) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const states = this.watches.map((w) => w.reflector.state());
    if (states.length > 0 && states.every((s) => s.phase === 'unauthorized')) {
      const { access } = this.options;
      throw new ClusterAuthError(
        `the API server ${access.server} refused the credentials of context ${access.contextName} (401 Unauthorized): ${states[0]?.lastError ?? ''}`.trim(),
      );
    }
    this.checkStates();
  }

  async read(): Promise<SourceRead> {
    this.start();
    const hash = createHash('sha256');
    const held = this.watches.map((w) => {
      const state = w.reflector.state();
      const objects = [...w.reflector.objects().entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      hash.update(`${w.resource} ${w.namespace} ${state.synced} ${state.phase === 'forbidden'}\n`);
      for (const [key, o] of objects) hash.update(`${key} ${o.metadata.resourceVersion ?? ''}\n`);
      return { resource: w.resource, objects: objects.map(([, o]) => o) };
    });
    const pick = (resource: KubeResource): unknown[] => held.filter((h) => h.resource === resource).flatMap((h) => h.objects);
    const origin = clusterOrigin(this.options.access.contextName);
    const services = pick('services');
    const endpointSlices = pick('endpointslices');
    return { version: `cluster:${hash.digest('hex')}`, objects: async () => this.onlyNewNotes(clusterObjects({ origin, services, endpointSlices })) };
  }

  /**
   * A refused object is told once while it stays refused, not on every
   * reload a cluster's changes cause (a rollout makes dozens): the notes
   * already told are left out; one that comes back after a fix is told again.
   */
  private onlyNewNotes(objects: SourceObjects): SourceObjects {
    const keys = objects.notes.map((n) => `${n.object}\0${n.msg}`);
    const fresh = objects.notes.filter((_, i) => !this.toldNotes.has(keys[i] ?? ''));
    this.toldNotes = new Set(keys);
    return fresh.length === objects.notes.length ? objects : { ...objects, notes: fresh };
  }

  watch(onChange: (trigger: SourceTrigger) => void, _log: SourceLog): void {
    this.start();
    this.onChange = onChange;
    // What changed between the first read and now is read at once.
    onChange('watch');
  }

  stop(): void {
    this.onChange = () => {};
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const w of this.watches) w.reflector.stop();
    this.started = false;
  }

  /** The state of the connection to the API server and of every watch, for /api/cluster, /readyz and the metrics. */
  status(): ClusterStatus {
    const { access, namespaces } = this.options;
    const watches = this.watches.map((w): ClusterWatchStatus => {
      const s = w.reflector.state();
      return {
        resource: w.resource,
        namespace: w.namespace,
        phase: s.phase,
        synced: s.synced,
        resourceVersion: s.resourceVersion,
        relists: s.relists,
        watchRestarts: s.watchRestarts,
        objects: w.reflector.objects().size,
        lastError: s.lastError,
        lastErrorAt: iso(s.lastErrorAt),
        lastContactAt: iso(s.lastContactAt),
        since: iso(s.since),
      };
    });
    const requests: Record<string, number> = {};
    let refusedObjects = 0;
    let refusedEvents = 0;
    for (const w of this.watches) {
      const c = w.reflector.counters();
      for (const [key, n] of c.requests) requests[key] = (requests[key] ?? 0) + n;
      refusedObjects += c.refusedObjects;
      refusedEvents += c.refusedEvents;
    }
    const outage = this.unreachableSince();
    return {
      context: access.contextName,
      server: access.server,
      user: access.user,
      namespaces: namespaces.map((ns) => (ns === '' ? '*' : ns)),
      reachable: outage === 0,
      unreachableSince: iso(outage),
      forbiddenNamespaces: [...new Set(watches.filter((w) => w.phase === 'forbidden').map((w) => w.namespace || '*'))],
      unauthorized: watches.some((w) => w.phase === 'unauthorized'),
      watches,
      requests,
      relists: watches.reduce((n, w) => n + w.relists, 0),
      watchRestarts: watches.reduce((n, w) => n + w.watchRestarts, 0),
      refusedObjects,
      refusedEvents,
    };
  }

  /**
   * Since when no watch reaches the API server (epoch ms), 0 while one does.
   * Out of reach: every watch that is not refused for its namespace is
   * backing off, and none has heard from the server since its backoff began.
   */
  private unreachableSince(): number {
    const now = this.outageNow();
    if (now > 0) {
      if (this.outageSince === 0) this.outageSince = now;
      return this.outageSince;
    }
    // Between retries (every watch listing at once, say) the outage goes on until a watch hears from the server.
    const lastContact = Math.max(0, ...this.watches.map((w) => w.reflector.state().lastContactAt));
    if (this.outageSince > 0 && lastContact <= this.outageSince) return this.outageSince;
    this.outageSince = 0;
    return 0;
  }

  /** The outage as the reflectors' states show it now: the earliest of their latest errors, 0 while reachable. */
  private outageNow(): number {
    const states = this.watches.map((w) => w.reflector.state()).filter((s) => s.phase !== 'forbidden' && s.phase !== 'stopped');
    if (states.length === 0 || !states.every((s) => s.phase === 'backoff' || s.phase === 'listing' || s.phase === 'unauthorized')) return 0;
    if (!states.some((s) => s.phase === 'backoff')) return 0;
    const lastContact = Math.max(...states.map((s) => s.lastContactAt));
    const firstError = Math.min(...states.filter((s) => s.lastErrorAt > 0).map((s) => s.lastErrorAt));
    if (!Number.isFinite(firstError) || lastContact > firstError) return 0;
    return firstError;
  }

  /** Logs what changed: a namespace refused (once), a 401 (rate-limited), the API server out of reach and back. */
  private checkStates(): void {
    const { log, access } = this.options;
    for (const w of this.watches) {
      const s = w.reflector.state();
      const ns = w.namespace || '*';
      if (s.phase === 'forbidden' && !this.told.forbidden.has(ns)) {
        this.told.forbidden.add(ns);
        log.warn(
          { namespace: ns, resource: w.resource, err: s.lastError },
          `the credentials may not list ${w.resource} in namespace ${ns} (403 Forbidden); it is not served, the rest is`,
        );
      }
      if (s.phase === 'unauthorized' && this.now() - this.told.unauthorizedAt >= UNAUTHORIZED_LOG_MS) {
        this.told.unauthorizedAt = this.now();
        log.error(
          { context: access.contextName, server: access.server, err: s.lastError },
          'the API server refuses the credentials (401 Unauthorized); serving the last state seen',
        );
      }
    }
    const since = this.unreachableSince();
    if (since > 0 && !this.told.unreachable) {
      this.told.unreachable = true;
      log.warn({ server: access.server, since: iso(since) }, 'the API server is out of reach; serving the last state seen');
    } else if (since === 0 && this.told.unreachable) {
      this.told.unreachable = false;
      log.info({ server: access.server }, 'the API server is reachable again');
    }
  }
}
