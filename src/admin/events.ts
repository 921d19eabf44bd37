/**
 * GET /api/events: a WebSocket feed of what happens in svcproxy, as JSON
 * text messages (shapes in FeedMessage; documented in docs/metrics.md):
 *
 *   hello      once, on connect, with the rates of the last minute's ticks
 *              (`recent`), so that a page paints its figures and sparklines
 *              at once rather than after its first ticks
 *   reload     every reload attempt, with its errors
 *   listener   a listener bound, failed to bind, or closed
 *   readiness  a probed Pod turned ready or not ready
 *   toxics     the toxics in force changed (a Fault applied, started or
 *              ended; a toxiproxy-API toxic added or removed)
 *   pods       Pods were added, removed or changed (re-read /api/pods)
 *   stats      every tick (1 s) while anyone listens, and for a minute after
 *              the last client left (a reloaded page finds its history): per
 *              Service port, active connections and per-second rates from deltas
 *
 * With --workers the primary serves the feed: reload, listener and readiness
 * events come from each worker and say which (`worker`); stats are the sums.
 *
 * The proxy never waits for a client. Each message is serialized once and
 * handed to every client whose unsent backlog (`bufferedAmount`: Node's
 * write buffer plus ws's queue, beyond what the kernel took) is within
 * `maxBufferedBytes`; a client over it has stopped reading and is
 * terminated. So memory per client is bounded and a stalled dashboard
 * costs the data path nothing.
 *
 * A client that stops reading altogether would not show up there for a long
 * time (the kernel's socket buffers take the small messages first), so every
 * `heartbeatMs` each client is pinged; one that has not answered the
 * previous ping (its WebSocket library answers as soon as it reads) is
 * terminated. A stalled client is gone within two heartbeats.
 */
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../log.js';
import type { FeedEvent } from './dashboard/contract.js';
import type { AdminEvents, AdminModel } from './model.js';
import { portLabel, type ServicePortSnapshot } from './view.js';

export interface EventFeedOptions {
  /** Stats tick period, ms. Default 1000. */
  readonly tickMs: number;
  /** A client whose unsent backlog exceeds this many bytes is dropped. Default 1 MiB. */
  readonly maxBufferedBytes: number;
  /** Ping period, ms; a client that has not answered the previous ping is dropped. Default 2000. */
  readonly heartbeatMs: number;
}

export const FEED_DEFAULTS: EventFeedOptions = { tickMs: 1000, maxBufferedBytes: 1024 * 1024, heartbeatMs: 2000 };

interface ServicePortTick {
  readonly key: string;
  readonly namespace: string;
  readonly service: string;
  /** The Service port's name, or its number when unnamed (the metrics' `port` label). */
  readonly port: string;
  readonly activeConnections: number;
  readonly connectionsPerSecond: number;
  readonly downstreamRxBytesPerSecond: number;
  readonly upstreamRxBytesPerSecond: number;
  /** Totals since the Service port was created, as in /api/services. */
  readonly connections: number;
  readonly bytesFromDownstream: number;
  readonly bytesFromUpstream: number;
  /** Connections reset instead of forwarded, every reason together. */
  readonly rejectedConnections: number;
  readonly connectFailures: number;
  /** Open connections per endpoint (`host:port`), for every declared endpoint. */
  readonly upstreams: Readonly<Record<string, number>>;
  /** Connections per endpoint (`host:port`) since the Service port was created, for every declared endpoint. */
  readonly upstreamConnections: Readonly<Record<string, number>>;
  /** Toxics in force on the port, `source:owner/name` (active ones only), port-wide and per endpoint together. */
  readonly toxics: readonly string[];
}

type ReloadEvent = AdminEvents['reload'][0];
type ListenerEvent = AdminEvents['listener'][0];
type ReadinessEvent = AdminEvents['readiness'][0];
/** With --workers: the worker an event happened in. */
type FromWorker = { readonly worker?: number };

/** One past tick's rates: Service port key -> [connections/s, bytes/s from clients, bytes/s from endpoints]. */
interface RecentTick {
  readonly time: number;
  readonly rates: Readonly<Record<string, readonly [number, number, number]>>;
}

/** Ticks kept for `hello`: a minute at the default tick, the sparkline's width. */
const RECENT_TICKS = 60;
/** Ticking goes on this long after the last client left, so that a page reload keeps the history. */
const LINGER_MS = 60_000;

export type FeedMessage =
  | { readonly type: 'hello'; readonly time: number; readonly version: string; readonly tickMs: number; readonly recent: readonly RecentTick[] }
  | ({ readonly type: 'reload'; readonly time: number } & ReloadEvent)
  | ({
      readonly type: 'listener';
      readonly time: number;
      readonly listener: string;
      readonly servicePort: string;
      readonly state: string;
      readonly error: string;
    } & FromWorker)
  | ({
      readonly type: 'readiness';
      readonly time: number;
      readonly pod: string;
      readonly ready: boolean;
      readonly reason: string;
      readonly services: readonly string[];
    } & FromWorker)
  | ({ readonly type: 'toxics'; readonly time: number } & FromWorker)
  | ({ readonly type: 'pods'; readonly time: number } & FromWorker)
  | { readonly type: 'stats'; readonly time: number; readonly intervalSeconds: number; readonly servicePorts: readonly ServicePortTick[] };

interface Totals {
  readonly connections: number;
  readonly downstreamRx: number;
  readonly upstreamRx: number;
}

const NO_TOTALS: Totals = { connections: 0, downstreamRx: 0, upstreamRx: 0 };

/** A message as sent. `satisfies FeedEvent`: every message is one the dashboard (dashboard/contract.ts) can read. */
function encode(message: FeedMessage): Buffer {
  return Buffer.from(JSON.stringify(message satisfies FeedEvent));
}

function worker(e: { readonly worker?: number }): FromWorker {
  return e.worker === undefined ? {} : { worker: e.worker };
}

export class EventFeed {
  /** Clients dropped for reading too slowly, since start. */
  dropped = 0;
  private readonly wss: WebSocketServer;
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Clients that answered the last ping (or connected since it was sent). */
  private readonly answered = new WeakSet<WebSocket>();
  private previous = new Map<string, Totals>();
  private previousAt = 0;
  /** A tick whose snapshot is still on its way (with --workers it is asked of every worker): the next one waits. */
  private ticking = false;
  /** The last RECENT_TICKS ticks' rates, oldest first (bounded: RECENT_TICKS x Service ports). */
  private recent: RecentTick[] = [];
  private linger: NodeJS.Timeout | undefined;

  private readonly onReload = (e: ReloadEvent): void => this.broadcast({ type: 'reload', time: Date.now(), ...e, errors: [...e.errors] });
  private readonly onListener = (e: ListenerEvent): void =>
    this.broadcast({ type: 'listener', time: Date.now(), listener: e.key, servicePort: e.servicePort, state: e.state, error: e.error, ...worker(e) });
  private readonly onReadiness = (e: ReadinessEvent): void =>
    this.broadcast({ type: 'readiness', time: Date.now(), pod: e.pod, ready: e.ready, reason: e.reason, services: [...e.services], ...worker(e) });
  private readonly onToxics = (e: AdminEvents['toxics'][0]): void => this.broadcast({ type: 'toxics', time: Date.now(), ...worker(e) });
  private readonly onPods = (e: AdminEvents['pods'][0]): void => this.broadcast({ type: 'pods', time: Date.now(), ...worker(e) });

  /** @param model where ticks read their snapshots (the same as /metrics, so byte counts agree) and events come from. */
  constructor(
    private readonly model: AdminModel,
    private readonly log: Logger,
    private readonly version: string,
    readonly options: EventFeedOptions = FEED_DEFAULTS,
  ) {
    // Clients send nothing; a large frame is a misbehaving client, not data to buffer.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false });
    model.events.on('reload', this.onReload);
    model.events.on('listener', this.onListener);
    model.events.on('readiness', this.onReadiness);
    model.events.on('toxics', this.onToxics);
    model.events.on('pods', this.onPods);
  }

  /** WebSocket clients connected now. */
  get clients(): number {
    return this.wss.clients.size;
  }

  /** Takes over an HTTP upgrade request for /api/events. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(ws: WebSocket): void {
    ws.on('error', () => ws.terminate()); // a protocol error or reset: that client alone goes
    ws.on('close', () => {
      if (this.wss.clients.size > 0) return;
      clearTimeout(this.linger);
      this.linger = setTimeout(() => {
        if (this.wss.clients.size === 0) this.stopTicking();
      }, LINGER_MS);
      this.linger.unref();
    });
    this.answered.add(ws);
    ws.on('pong', () => this.answered.add(ws));
    this.send(ws, encode({ type: 'hello', time: Date.now(), version: this.version, tickMs: this.options.tickMs, recent: this.recent }));
    clearTimeout(this.linger);
    if (this.timer === undefined) this.startTicking();
  }

  private startTicking(): void {
    this.previous = new Map();
    this.previousAt = performance.now();
    this.timer = setInterval(() => void this.tick(), this.options.tickMs);
    this.timer.unref();
    this.heartbeat = setInterval(() => this.ping(), this.options.heartbeatMs);
    this.heartbeat.unref();
    void this.tick(true);
  }

  private stopTicking(): void {
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    clearTimeout(this.linger);
    this.timer = undefined;
    this.heartbeat = undefined;
    this.recent = [];
  }

  /** Drops every client that did not answer the previous ping, and pings the rest. */
  private ping(): void {
    for (const ws of this.wss.clients) {
      if (!this.answered.has(ws)) {
        this.drop(ws, 'admin feed client did not answer a ping; disconnected');
        continue;
      }
      this.answered.delete(ws);
      ws.ping();
    }
  }

  private drop(ws: WebSocket, msg: string): void {
    this.dropped++;
    this.log.warn({ bufferedBytes: ws.bufferedAmount, limitBytes: this.options.maxBufferedBytes }, msg);
    ws.terminate();
  }

  private totals(snapshots: readonly ServicePortSnapshot[]): Map<string, Totals> {
    return new Map(
      snapshots.map((s) => [
        s.view.key,
        { connections: s.view.totals.connections, downstreamRx: s.view.totals.bytesFromDownstream, upstreamRx: s.view.totals.bytesFromUpstream },
      ]),
    );
  }

  /**
   * One stats message: rates are deltas since the previous tick over the time
   * that really passed. The first (`baseline`) only records the totals.
   */
  private async tick(baseline = false): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    let snapshots: readonly ServicePortSnapshot[];
    try {
      snapshots = (await this.model.snapshot('view')).servicePorts;
    } catch (err: unknown) {
      this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'admin feed: snapshot failed');
      return;
    } finally {
      this.ticking = false;
    }
    const now = performance.now();
    const seconds = Math.max(0.001, (now - this.previousAt) / 1000);
    const current = this.totals(snapshots);
    if (baseline || this.timer === undefined) {
      this.previous = current;
      this.previousAt = now;
      return;
    }
    const rate = (value: number, before: number): number => Math.max(0, Math.round(((value - before) / seconds) * 100) / 100);
    const servicePorts = snapshots.map((s): ServicePortTick => {
      const { totals } = s.view;
      const before = this.previous.get(s.view.key) ?? NO_TOTALS;
      return {
        key: s.view.key,
        namespace: s.view.namespace,
        service: s.view.service,
        port: portLabel(s.view),
        activeConnections: totals.activeConnections,
        connectionsPerSecond: rate(totals.connections, before.connections),
        downstreamRxBytesPerSecond: rate(totals.bytesFromDownstream, before.downstreamRx),
        upstreamRxBytesPerSecond: rate(totals.bytesFromUpstream, before.upstreamRx),
        connections: totals.connections,
        bytesFromDownstream: totals.bytesFromDownstream,
        bytesFromUpstream: totals.bytesFromUpstream,
        rejectedConnections: Object.values(totals.rejected).reduce((a, b) => a + b, 0),
        connectFailures: totals.connectFailures,
        upstreams: Object.fromEntries(s.view.endpoints.map((e) => [e.id, e.activeConnections])),
        upstreamConnections: Object.fromEntries(s.view.endpoints.map((e) => [e.id, e.connections])),
        toxics: [
          ...new Set([...s.view.toxics, ...s.view.endpoints.flatMap((e) => e.toxics)].filter((x) => x.active).map((x) => `${x.source}:${x.owner}/${x.name}`)),
        ],
      };
    });
    this.previous = current;
    this.previousAt = now;
    const time = Date.now();
    this.remember(time, servicePorts);
    this.broadcast({ type: 'stats', time, intervalSeconds: Math.round(seconds * 1000) / 1000, servicePorts });
  }

  private remember(time: number, ports: readonly ServicePortTick[]): void {
    const rates: Record<string, readonly [number, number, number]> = {};
    for (const p of ports) rates[p.key] = [p.connectionsPerSecond, p.downstreamRxBytesPerSecond, p.upstreamRxBytesPerSecond];
    this.recent = [...this.recent.slice(-(RECENT_TICKS - 1)), { time, rates }];
  }

  private broadcast(message: FeedMessage): void {
    if (this.wss.clients.size === 0) return;
    const data = encode(message); // serialized once for every client
    for (const ws of this.wss.clients) this.send(ws, data);
  }

  private send(ws: WebSocket, data: Buffer): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > this.options.maxBufferedBytes) {
      this.drop(ws, 'admin feed client too slow; disconnected');
      return;
    }
    ws.send(data, { binary: false });
  }

  /** Disconnects every client and stops listening to the proxy's events. */
  close(): void {
    this.stopTicking();
    this.model.events.off('reload', this.onReload);
    this.model.events.off('listener', this.onListener);
    this.model.events.off('readiness', this.onReadiness);
    this.model.events.off('toxics', this.onToxics);
    this.model.events.off('pods', this.onPods);
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}
