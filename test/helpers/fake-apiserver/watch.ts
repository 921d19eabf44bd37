/**
 * Watch streams (`?watch=true`): newline-delimited JSON events over one chunked response. A watch from
 * a resourceVersion replays the store's history after it, then follows live changes; from '' or '0'
 * it starts with an ADDED event per current object. A change that makes an object match or stop
 * matching the selectors arrives as ADDED or DELETED, as from the real watch cache. The hub keeps every
 * open watch, so a test can drop them, expire them (ERROR 410) or send bookmarks.
 */
import type { ServerResponse } from 'node:http';
import type { ResourceInfo } from './resources.js';
import { apiVersionOf } from './resources.js';
import type { Matcher } from './selectors.js';
import { StatusError, badRequest, expired, type StatusBody } from './status.js';
import type { Store, StoreEvent } from './store.js';
import { toTable, type IncludeObject } from './table.js';
import type { KubeObject } from './types.js';

export interface WatchRequest {
  readonly info: ResourceInfo;
  /** Undefined: every namespace. */
  readonly namespace: string | undefined;
  readonly matches: Matcher;
  readonly resourceVersion: string;
  readonly timeoutSeconds: number | undefined;
  readonly bookmarks: boolean;
  /** Set when the client asked for Tables (kubectl get -w): each event then carries a one-row Table. */
  readonly table: IncludeObject | undefined;
}

export interface WatchHubOptions {
  /** How often a watch that allows bookmarks gets one (default 1000 ms; 0: only on {@link WatchHub.bookmark}). */
  readonly bookmarkIntervalMs?: number;
  /** The server ends every watch after this long, as kube-apiserver does after 30-60 min (default 1800 s). */
  readonly maxWatchSeconds?: number;
}

/** A watcher that lets this much pile up unread is closed, as the real server drops slow watchers. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

class OpenWatch {
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribe: () => void = () => undefined;
  private ended = false;

  constructor(
    readonly req: WatchRequest,
    readonly res: ServerResponse,
    private readonly onEnd: (w: OpenWatch) => void,
  ) {}

  start(store: Store, initial: readonly StoreEvent[] | 'all', options: Required<WatchHubOptions>): void {
    this.res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    this.res.flushHeaders();
    this.res.on('close', () => this.end());
    if (initial === 'all') for (const object of store.list(this.req.info.kind, this.req.namespace)) this.send('ADDED', object, object);
    else for (const event of initial) this.offer(event);
    this.unsubscribe = store.subscribe((event) => this.offer(event));
    const asked = this.req.timeoutSeconds;
    const seconds = asked !== undefined && Number.isFinite(asked) && asked > 0 ? Math.min(asked, options.maxWatchSeconds) : options.maxWatchSeconds;
    this.timers.push(setTimeout(() => this.end(), seconds * 1000));
    if (this.req.bookmarks && options.bookmarkIntervalMs > 0)
      this.timers.push(setInterval(() => this.bookmark(store.resourceVersion), options.bookmarkIntervalMs));
  }

  /** Turns a store change into this watcher's event, if any. */
  offer(event: StoreEvent): void {
    const { info, namespace, matches } = this.req;
    if (event.object.kind !== info.kind || (namespace !== undefined && event.object.metadata.namespace !== namespace)) return;
    const now = matches(event.object);
    const before = event.previous !== undefined && matches(event.previous);
    if (event.type === 'ADDED' && now) this.send('ADDED', event.object, event.object);
    else if (event.type === 'DELETED' && (now || before)) this.send('DELETED', event.object, event.object);
    else if (event.type === 'MODIFIED') {
      if (now && before) this.send('MODIFIED', event.object, event.object);
      else if (now) this.send('ADDED', event.object, event.object);
      // As the watch cache: the object as it was (the one that matched), at the change's resourceVersion.
      else if (before && event.previous !== undefined) {
        const gone = { ...event.previous, metadata: { ...event.previous.metadata, resourceVersion: event.object.metadata.resourceVersion } };
        this.send('DELETED', gone, gone);
      }
    }
  }

  /** Writes `text` as is: no framing, no newline (a test's malformed or truncated line). */
  raw(text: string): void {
    if (!this.ended) this.res.write(text);
  }

  bookmark(resourceVersion: string): void {
    if (!this.req.bookmarks) return;
    this.send('BOOKMARK', { kind: this.req.info.kind, apiVersion: apiVersionOf(this.req.info), metadata: { resourceVersion } }, undefined);
  }

  /** Sends an ERROR event (the object is a Status) and ends the watch, as the server does. */
  fail(body: StatusBody): void {
    this.send('ERROR', body, undefined);
    this.end();
  }

  /** Ends the watch: cleanly (the last chunk) or, `abrupt`, by cutting the connection. */
  end(abrupt = false): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe();
    for (const timer of this.timers) clearTimeout(timer);
    if (abrupt) this.res.socket?.destroy();
    else this.res.end();
    this.onEnd(this);
  }

  private send(type: EventType, object: unknown, stored: KubeObject | undefined): void {
    if (this.ended) return;
    const body =
      stored !== undefined && this.req.table !== undefined ? toTable(this.req.info.kind, [stored], stored.metadata.resourceVersion, this.req.table) : object;
    this.res.write(`${JSON.stringify({ type, object: body })}\n`);
    if (this.res.writableLength > MAX_BUFFERED_BYTES) this.end(true);
  }
}

export class WatchHub {
  private readonly open = new Set<OpenWatch>();
  private readonly options: Required<WatchHubOptions>;
  /** How a watch from below the compaction floor is refused: HTTP 410, or 200 and an ERROR event. */
  tooOld: 'http' | 'event' = 'http';

  constructor(
    private readonly store: Store,
    options: WatchHubOptions = {},
  ) {
    this.options = { bookmarkIntervalMs: options.bookmarkIntervalMs ?? 1000, maxWatchSeconds: options.maxWatchSeconds ?? 1800 };
  }

  /** Open watches right now. */
  get count(): number {
    return this.open.size;
  }

  /** Starts a watch; throws a StatusError (answered before any byte is streamed) when it cannot. */
  serve(req: WatchRequest, res: ServerResponse): void {
    const rv = req.resourceVersion;
    const watch = new OpenWatch(req, res, (w) => this.open.delete(w));
    if (rv === '' || rv === '0') {
      this.open.add(watch);
      watch.start(this.store, 'all', this.options);
      return;
    }
    const asked = Number(rv);
    if (!Number.isSafeInteger(asked) || asked < 0) throw new StatusError(badRequest(`invalid resource version: ${rv}`));
    const events = this.store.since(asked);
    if (events !== undefined) {
      this.open.add(watch);
      watch.start(this.store, events, this.options);
    } else if (this.tooOld === 'http') throw new StatusError(expired(asked, this.store.floor));
    else {
      // The watch cache's way: the watch opens, says its version is gone, and ends.
      watch.start(this.store, [], this.options);
      watch.fail(expired(asked, this.store.floor));
    }
  }

  /** Ends every open watch (cleanly, or `abrupt`ly by resetting the connection); returns how many. */
  drop(abrupt = false): number {
    const all = [...this.open];
    for (const w of all) w.end(abrupt);
    return all.length;
  }

  /** Sends every open watch an ERROR event with a 410 Expired Status and ends it. */
  expire(): number {
    const all = [...this.open];
    for (const w of all) w.fail(expired(this.store.floor - 1, this.store.floor));
    return all.length;
  }

  /** Writes `text` verbatim to every open watch; returns how many. */
  inject(text: string): number {
    for (const w of this.open) w.raw(text);
    return this.open.size;
  }

  /** A BOOKMARK now to every watch that allows them. */
  bookmark(): void {
    for (const w of this.open) w.bookmark(this.store.resourceVersion);
  }
}
