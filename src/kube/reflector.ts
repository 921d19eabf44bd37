/**
 * list + watch of one resource (in one namespace, or all), kept in a store keyed `namespace/name`.
 *
 * A list gives the store and a resourceVersion; a watch from it (`allowWatchBookmarks`, `timeoutSeconds`
 * about 5 min with jitter) applies ADDED/MODIFIED/DELETED and moves the version on every event and BOOKMARK.
 * A watch that ends for any reason (its timeout, the server closing it, a reset, a silence longer than its
 * timeout plus a margin) is resumed from the last version, without a list. Too old a version (HTTP 410, or an
 * ERROR event with a 410 Status) relists, and the new list replaces the store by a diff, never emptied in
 * between; onChange fires once after. Errors back off exponentially with full jitter; a 403 is phase
 * `forbidden` (logged once, retried slowly), a 401 `unauthorized` (a rate-limited error). Bad input is refused
 * and counted, never fatal: a malformed line (the stream's framing can no longer be trusted: the watch is
 * resumed, so an event it hid is replayed), an object without metadata.name, a line over the limit.
 */
import type { IncomingMessage } from 'node:http';
import { errorCode, errorMessage } from '../errors.js';
import {
  describeObject,
  KubeStatusError,
  objectKey,
  parseEvent,
  parseList,
  readBody,
  resourcePath,
  resourceVersionOf,
  statusError,
  validObject,
} from './api.js';
import { Backoff } from './backoff.js';
import { readWatch } from './watch-stream.js';
import type { KubeClock, KubeObject, Reflector, ReflectorCounters, ReflectorOptions, ReflectorState, WatchPhase } from './types.js';

const systemClock: KubeClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The resourceVersion is too old (410): relist. */
class Gone extends Error {
  override readonly name = 'Gone';
}

/** A watch line that is not JSON: the rest of the stream cannot be trusted. */
class StreamDamaged extends Error {
  override readonly name = 'StreamDamaged';
}

const MAX_ERROR_BODY = 64 * 1024;
/** A watch that ends sooner than this without an event is not a healthy one (the backoff goes on). */
const HEALTHY_WATCH_MS = 1000;
const WARN_INTERVAL_MS = 30_000;

export function createReflector(options: ReflectorOptions): Reflector {
  return new KubeReflector(options);
}

class KubeReflector implements Reflector {
  private store = new Map<string, KubeObject>();
  private rv = '';
  private needList = true;
  private freshList = false;
  /** The current (or last) watch started from a list rather than resumed. */
  private watchFromList = false;
  private phase: WatchPhase = 'stopped';
  private synced = false;
  private relists = 0;
  private watchRestarts = 0;
  private lastError = '';
  private lastErrorAt = 0;
  private lastContactAt = 0;
  private since: number;
  private readonly requests = new Map<string, number>();
  private refusedObjects = 0;
  private refusedEvents = 0;
  private generation = 0;
  private current: AbortController | undefined;
  private sleeping: { readonly timer: unknown; readonly wake: () => void } | undefined;
  private readonly backoff: Backoff;
  private readonly clock: KubeClock;
  private readonly random: () => number;
  private lastWarnAt = 0;
  private refusalWindowAt = 0;
  private refusalsInWindow = 0;
  private suppressed = 0;
  private readonly path: string;
  private readonly log: ReflectorOptions['log'];

  constructor(private readonly options: ReflectorOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.since = this.clock.now();
    const t = options.tuning ?? {};
    this.backoff = new Backoff({ initialMs: t.backoffInitialMs ?? 250, maxMs: t.backoffMaxMs ?? 30_000, random: this.random });
    this.path = resourcePath(options.resource, options.namespace);
    this.log = options.log.child({ resource: options.resource, namespace: options.namespace === '' ? '*' : options.namespace });
  }

  start(): void {
    if (this.phase !== 'stopped') return;
    const gen = ++this.generation;
    this.setPhase('listing');
    this.run(gen).catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'reflector loop failed'));
  }

  stop(): void {
    if (this.phase === 'stopped') return;
    this.generation++;
    this.current?.abort();
    this.current = undefined;
    this.wakeUp();
    this.setPhase('stopped');
  }

  objects(): ReadonlyMap<string, KubeObject> {
    return this.store;
  }

  state(): ReflectorState {
    const { resource, namespace } = this.options;
    const { phase, synced, rv: resourceVersion, relists, watchRestarts, lastError, lastErrorAt, lastContactAt, since } = this;
    return { resource, namespace, phase, synced, resourceVersion, relists, watchRestarts, lastError, lastErrorAt, lastContactAt, since };
  }

  counters(): ReflectorCounters {
    return { requests: new Map(this.requests), refusedObjects: this.refusedObjects, refusedEvents: this.refusedEvents };
  }

  private active(gen: number): boolean {
    return gen === this.generation;
  }

  private async run(gen: number): Promise<void> {
    while (this.active(gen)) {
      try {
        if (this.needList) await this.list(gen);
        else if (await this.watch(gen)) this.backoff.reset();
        else await this.sleep(this.backoff.next(), gen);
      } catch (err) {
        if (!this.active(gen)) return;
        await this.failed(err, gen);
      }
    }
  }

  private async failed(err: unknown, gen: number): Promise<void> {
    const gone = err instanceof Gone || (err instanceof KubeStatusError && err.code === 410);
    this.noteError(err);
    if (gone) {
      this.log.info({ resourceVersion: this.rv, err: errorMessage(err) }, 'resourceVersion too old; relisting');
      const again = this.watchFromList || this.needList; // a 410 right after a list: do not spin
      this.needList = true;
      if (again) await this.sleep(this.backoff.next(), gen);
      return;
    }
    const code = err instanceof KubeStatusError ? err.code : 0;
    if (code === 403) {
      if (this.phase !== 'forbidden') this.log.warn({ err: errorMessage(err) }, 'forbidden: not following this resource until access is granted');
      this.setPhase('forbidden');
      await this.sleep(this.options.tuning?.forbiddenRetryMs ?? 60_000, gen);
      return;
    }
    if (code === 401) {
      this.limitedLog('error', err, 'the API server refuses the credentials (401 Unauthorized)');
      this.setPhase('unauthorized');
    } else {
      this.limitedLog('warn', err, this.needList ? 'list failed; retrying' : 'watch failed; resuming');
      this.setPhase('backoff');
    }
    await this.sleep(this.backoff.next(), gen);
  }

  private noteError(err: unknown): void {
    this.lastError = errorMessage(err);
    this.lastErrorAt = this.clock.now();
  }

  private limitedLog(level: 'warn' | 'error', err: unknown, msg: string): void {
    const now = this.clock.now();
    if (this.lastWarnAt !== 0 && now - this.lastWarnAt < WARN_INTERVAL_MS) {
      this.suppressed++;
      return;
    }
    this.lastWarnAt = now;
    this.log[level]({ err: errorMessage(err), suppressed: this.suppressed, attempts: this.backoff.attempts + 1 }, msg);
    this.suppressed = 0;
  }

  private setPhase(phase: WatchPhase): void {
    if (phase === this.phase) return;
    const now = this.clock.now();
    if (phase === 'watching' && (this.phase === 'backoff' || this.phase === 'forbidden' || this.phase === 'unauthorized')) {
      this.log.info({ after: this.phase, downMs: now - this.since }, 'watching again');
      this.lastWarnAt = 0;
    }
    this.phase = phase;
    this.since = now;
  }

  private count(verb: string, code: string): void {
    const key = `${verb} ${code}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  /** A GET that answered 200 (counted by verb and code); other answers throw their Status. */
  private async get(verb: 'list' | 'watch', path: string, controller: AbortController): Promise<IncomingMessage> {
    this.current = controller;
    const timeoutMs = this.options.tuning?.requestTimeoutMs ?? 60_000;
    let res: IncomingMessage;
    try {
      res = await this.options.access.request(path, { signal: controller.signal, timeoutMs });
    } catch (err) {
      this.count(verb, errorCode(err) === '' ? 'error' : errorCode(err));
      throw err;
    }
    const code = res.statusCode ?? 0;
    this.count(verb, String(code));
    this.lastContactAt = this.clock.now();
    if (code === 200) return res;
    const body = await readBody(res, MAX_ERROR_BODY).catch(() => '');
    throw statusError(code, body);
  }

  private query(extra: Record<string, string>): string {
    const q = new URLSearchParams(extra);
    if (this.options.labelSelector !== undefined && this.options.labelSelector !== '') q.set('labelSelector', this.options.labelSelector);
    const s = q.toString();
    return s === '' ? this.path : `${this.path}?${s}`;
  }

  private async list(gen: number): Promise<void> {
    if (this.phase === 'watching') this.setPhase('listing');
    const controller = new AbortController();
    const timeoutMs = this.options.tuning?.requestTimeoutMs ?? 60_000;
    const timer = this.clock.setTimeout(() => controller.abort(new Error(`the list took longer than ${timeoutMs} ms`)), timeoutMs);
    let body: string;
    try {
      const res = await this.get('list', this.query({}), controller);
      body = await readBody(res, this.options.tuning?.maxListBytes ?? 512 * 1024 * 1024);
    } finally {
      this.clock.clearTimeout(timer);
    }
    if (!this.active(gen)) return;
    const parsed = parseList(body);
    const next = new Map<string, KubeObject>();
    for (const item of parsed.items) {
      const object = validObject(item, this.options.resource);
      if (typeof object === 'string') this.refuseObject(object, item);
      else {
        // Unchanged objects keep their identity, so a consumer can tell what changed by reference.
        const key = objectKey(object);
        const old = this.store.get(key);
        const same = old !== undefined && object.metadata.resourceVersion !== undefined && old.metadata.resourceVersion === object.metadata.resourceVersion;
        next.set(key, same ? old : object);
      }
    }
    const removed = [...this.store.keys()].filter((key) => !next.has(key)).length;
    if (this.synced) {
      this.relists++;
      this.log.info({ objects: next.size, removed, resourceVersion: parsed.resourceVersion }, 'relisted');
    }
    this.store = next;
    this.rv = parsed.resourceVersion;
    this.needList = false;
    this.freshList = true;
    this.synced = true;
    this.changed();
  }

  /** One watch, until it ends; true when it was a healthy one (it delivered an event or lasted). */
  private async watch(gen: number): Promise<boolean> {
    this.watchFromList = this.freshList;
    this.freshList = false;
    if (!this.watchFromList) this.watchRestarts++;
    const t = this.options.tuning ?? {};
    const timeoutSeconds = Math.max(1, Math.round((t.watchTimeoutSeconds ?? 300) * (0.8 + 0.4 * this.random())));
    const controller = new AbortController();
    const query = { watch: 'true', resourceVersion: this.rv, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) };
    const res = await this.get('watch', this.query(query), controller);
    if (!this.active(gen)) {
      res.destroy();
      return true;
    }
    this.setPhase('watching');
    const started = this.clock.now();
    let delivered = 0;
    const healthy = (): boolean => delivered > 0 || this.clock.now() - started >= HEALTHY_WATCH_MS;
    try {
      await readWatch(res, controller, {
        clock: this.clock,
        silenceMs: timeoutSeconds * 1000 + (t.silenceMarginMs ?? 30_000),
        maxLineBytes: t.maxLineBytes ?? 8 * 1024 * 1024,
        onData: () => (this.lastContactAt = this.clock.now()),
        onLine: (line) => {
          if (this.onLine(line)) delivered++;
        },
        onRefused: (reason, line) => this.refuseEvent(reason, line),
      });
    } catch (err) {
      // A watch that served well and then failed starts the backoff over: its first retry comes soon.
      if (healthy()) this.backoff.reset();
      throw err;
    }
    return healthy();
  }

  /** Applies one watch line; true when it was an event for the store. Throws Gone, a Status, or StreamDamaged. */
  private onLine(line: string): boolean {
    const event = parseEvent(line);
    if (typeof event === 'string') {
      this.refuseEvent(event, line);
      if (event === 'malformed JSON') throw new StreamDamaged('a malformed watch line; resuming the watch');
      return false;
    }
    if (event.type === 'ERROR') {
      const err = statusError(500, event.object);
      throw err.code === 410 ? new Gone(err.message) : err;
    }
    const rv = resourceVersionOf(event.object);
    if (event.type === 'BOOKMARK') {
      if (rv !== '') this.rv = rv;
      return false;
    }
    const object = validObject(event.object, this.options.resource);
    if (rv !== '') this.rv = rv;
    if (typeof object === 'string') {
      this.refuseObject(object, event.object);
      return false;
    }
    const key = objectKey(object);
    if (event.type === 'DELETED') {
      if (!this.store.delete(key)) return true;
    } else this.store.set(key, object);
    this.changed();
    return true;
  }

  private changed(): void {
    try {
      this.options.onChange();
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'onChange failed');
    }
  }

  /** At most 5 refusals a second are logged (a flood of bad objects is counted, not all logged). */
  private refusalLogged(): boolean {
    const now = this.clock.now();
    if (now - this.refusalWindowAt >= 1000) {
      this.refusalWindowAt = now;
      this.refusalsInWindow = 0;
    }
    return ++this.refusalsInWindow <= 5;
  }

  private refuseObject(reason: string, value: unknown): void {
    this.refusedObjects++;
    if (this.refusalLogged()) this.log.warn({ ...describeObject(value, this.options.resource), reason }, 'refused an object from the API server');
  }

  private refuseEvent(reason: string, line: string): void {
    this.refusedEvents++;
    if (this.refusalLogged()) this.log.warn({ reason, line: line.slice(0, 200) }, 'refused a watch event from the API server');
  }

  private sleep(ms: number, gen: number): Promise<void> {
    if (!this.active(gen)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.sleeping = undefined;
        resolve();
      }, ms);
      this.sleeping = { timer, wake: resolve };
    });
  }

  private wakeUp(): void {
    const s = this.sleeping;
    this.sleeping = undefined;
    if (s === undefined) return;
    this.clock.clearTimeout(s.timer);
    s.wake();
  }
}
