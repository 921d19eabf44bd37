/**
 * The admin HTTP server: health, readiness, Prometheus metrics, a JSON API,
 * a WebSocket feed and the dashboard. Read-only: every route reads a
 * snapshot of the proxy's state (an AdminModel: this process's, or with
 * --workers the sum of every worker's) at request time and nothing here
 * changes it (anything but GET/HEAD is 405). It binds loopback by default; elsewhere it warns, since
 * anyone who reaches it can read the config and traffic counters.
 *
 *   GET /healthz      200 while the process runs
 *   GET /readyz       200 when ready, 503 with the reason otherwise (JSON on Accept: application/json)
 *   GET /metrics      Prometheus text format (metrics.ts, docs/metrics.md)
 *   GET /api/services one entry per Service port, and each Service's addresses and names (view.ts)
 *   GET /api/pods     every Pod: workload, address, ports, readiness probe, live readiness
 *   GET /api/config   the snapshot being served and the last reload
 *   GET /api/cluster  with --cluster: context, server, namespaces, every watch (404 without)
 *   GET /api/events   WebSocket feed (events.ts)
 *   GET /             the dashboard (dashboard/page.ts; its script is dashboard/client/)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorCode, errorMessage } from '../errors.js';
import { isLoopback } from '../loopback.js';
import type { Logger } from '../log.js';
import { version } from '../version.js';
import { dashboardHtml } from './dashboard/page.js';
import { EventFeed, FEED_DEFAULTS, type EventFeedOptions } from './events.js';
import { CONTENT_TYPE as METRICS_CONTENT_TYPE } from './exposition.js';
import { renderMetrics } from './metrics.js';
import type { AdminModel, AdminSnapshot, WorkerView } from './model.js';
import type { ServicePortView, ServiceView } from './view.js';

/**
 * Limits that keep misbehaving admin clients from holding resources, in the
 * spirit of HAProxy's `timeout http-request` and Envoy's connection limits;
 * none of them touches the data path.
 */
export const ADMIN_LIMITS = {
  /** All request headers must arrive within this (slowloris): 408, then the socket is closed. */
  headersTimeoutMs: 5000,
  /** The whole request must arrive within this. */
  requestTimeoutMs: 10_000,
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: 5000,
  /** How often node:http checks the two timeouts above (its default, 30 s, would let them run 30 s late). */
  checkIntervalMs: 1000,
  /** Larger request headers get 431 (node:http's default size, made explicit). */
  maxHeaderBytes: 16 * 1024,
  /** Admin connections at once, WebSocket feed clients included; more are closed at accept. */
  maxConnections: 256,
} as const;

export type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

const EVENTS_PATH = '/api/events';

function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  res.end(body);
}

function text(res: ServerResponse, status: number, body: string): void {
  send(res, status, 'text/plain; charset=utf-8', body);
}

function json(res: ServerResponse, body: unknown): void {
  send(res, 200, 'application/json; charset=utf-8', `${JSON.stringify(body, null, 2)}\n`);
}

/** The dashboard talks only to this server: no CDN, no third-party anything. */
const DASHBOARD_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; frame-ancestors 'none'";

/** node:http's own answer to a bad request, written out because a 'clientError' listener replaces it. */
function answerClientError(err: Error, socket: Duplex): void {
  const code = errorCode(err);
  if (socket.writable && code !== 'ECONNRESET') {
    const status =
      code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  }
  // A client that never reads or closes must not keep the socket after the answer.
  setTimeout(() => socket.destroy(), 1000).unref();
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}

/** GET /api/services: every Service port's view, each Service's addresses and names and, with --workers, the workers. */
function servicesView(snapshot: AdminSnapshot): { servicePorts: ServicePortView[]; services: readonly ServiceView[]; workers?: readonly WorkerView[] } {
  const servicePorts = snapshot.servicePorts.map((s) => s.view);
  return snapshot.workers === undefined
    ? { servicePorts, services: snapshot.services }
    : { servicePorts, services: snapshot.services, workers: snapshot.workers };
}

/**
 * GET /readyz: 200 when ready, 503 with the reason otherwise. An API server
 * out of reach is not a failure (the last state seen is served): it is said
 * in a line of its own, and in the `cluster` field of the JSON answer
 * (`Accept: application/json` or `?format=json`).
 */
function readyz(req: IncomingMessage, res: ServerResponse, snapshot: AdminSnapshot): void {
  const { ready, reason } = snapshot.config;
  const { cluster } = snapshot;
  const status = ready ? 200 : 503;
  const wantsJson = (req.headers.accept ?? '').includes('application/json') || /[?&]format=json(&|$)/.test(req.url ?? '');
  const apiServer = cluster === undefined ? undefined : { server: cluster.server, reachable: cluster.reachable, unreachableSince: cluster.unreachableSince };
  if (wantsJson) {
    send(res, status, 'application/json; charset=utf-8', `${JSON.stringify({ ready, reason, ...(apiServer === undefined ? {} : { cluster: apiServer }) })}\n`);
    return;
  }
  const outage =
    apiServer !== undefined && !apiServer.reachable
      ? `cluster: the API server ${apiServer.server} is out of reach since ${apiServer.unreachableSince}; serving the last state seen\n`
      : '';
  text(res, status, `${ready ? 'ready' : `not ready: ${reason}`}\n${outage}`);
}

export class AdminServer {
  readonly feed: EventFeed;
  private readonly server: Server;
  private readonly routes: Readonly<Record<string, Route>>;

  constructor(
    private readonly model: AdminModel,
    private readonly log: Logger,
    feedOptions: EventFeedOptions = FEED_DEFAULTS,
  ) {
    this.feed = new EventFeed(model, log, version(), feedOptions);
    this.routes = {
      '/healthz': (_req, res) => text(res, 200, 'ok\n'),
      '/readyz': async (req, res) => readyz(req, res, await this.model.snapshot('view')),
      '/metrics': async (_req, res) => {
        const snapshot = await this.model.snapshot('metrics');
        send(res, 200, METRICS_CONTENT_TYPE, renderMetrics({ snapshot, feed: this.feed, version: version() }));
      },
      '/api/services': async (_req, res) => json(res, servicesView(await this.model.snapshot('view'))),
      '/api/pods': async (_req, res) => json(res, { pods: (await this.model.snapshot('view')).pods }),
      '/api/config': async (_req, res) => json(res, (await this.model.snapshot('view')).config),
      '/api/cluster': async (_req, res) => {
        const { cluster, portForward } = await this.model.snapshot('view');
        if (cluster === undefined) text(res, 404, 'no cluster is followed (start with --cluster)\n');
        else json(res, portForward === undefined ? cluster : { ...cluster, portForward });
      },
      [EVENTS_PATH]: (_req, res) =>
        send(res, 426, 'text/plain; charset=utf-8', 'this is a WebSocket endpoint: connect with Upgrade: websocket\n', { upgrade: 'websocket' }),
      '/': async (_req, res) => {
        const snapshot = await this.model.snapshot('view');
        const cluster = snapshot.cluster === undefined ? {} : { cluster: snapshot.cluster };
        const html = await dashboardHtml({ services: servicesView(snapshot), config: snapshot.config, pods: snapshot.pods, ...cluster });
        send(res, 200, 'text/html; charset=utf-8', html, { 'content-security-policy': DASHBOARD_CSP });
      },
    };
    this.server = createServer(
      {
        headersTimeout: ADMIN_LIMITS.headersTimeoutMs,
        requestTimeout: ADMIN_LIMITS.requestTimeoutMs,
        keepAliveTimeout: ADMIN_LIMITS.keepAliveTimeoutMs,
        connectionsCheckingInterval: ADMIN_LIMITS.checkIntervalMs,
        maxHeaderSize: ADMIN_LIMITS.maxHeaderBytes,
      },
      (req, res) => this.route(req, res),
    );
    this.server.maxConnections = ADMIN_LIMITS.maxConnections;
    // A client that sends garbage, too much or too slowly gets a status line, then the socket goes; never an unhandled 'error'.
    this.server.on('clientError', (err, socket) => answerClientError(err, socket));
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const handler = this.routes[pathOf(req)];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed: the admin API is read-only\n', { allow: 'GET, HEAD' });
      return;
    }
    if (handler === undefined) {
      text(res, 404, 'not found\n');
      return;
    }
    try {
      const done = handler(req, res);
      if (done !== undefined) done.catch((err: unknown) => this.failed(res, err));
    } catch (err: unknown) {
      this.failed(res, err);
    }
  }

  /** The one place an admin error becomes an HTTP answer: a bug in a read, reported and survived. */
  private failed(res: ServerResponse, err: unknown): void {
    this.log.error({ code: errorCode(err), err: errorMessage(err) }, 'admin request failed');
    if (res.headersSent) res.destroy();
    else text(res, 500, `internal error: ${errorMessage(err)}\n`);
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (pathOf(req) !== EVENTS_PATH || req.method !== 'GET') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    this.feed.handleUpgrade(req, socket, head);
  }

  /** Binds; rejects with a one-line reason (a fatal start-up error for the caller). */
  listen(host: string, port: number): Promise<number> {
    if (!isLoopback(host)) {
      this.log.warn(
        { address: `${host}:${port}` },
        'admin server bound to a non-loopback address: anyone who reaches it can read the config and traffic counters',
      );
    }
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`admin server cannot listen on ${host}:${port}: ${errorCode(err)} ${errorMessage(err)}`));
      this.server.once('error', onError);
      this.server.listen({ host, port }, () => {
        this.server.removeListener('error', onError);
        this.server.on('error', () => undefined); // after bind, errors concern single clients
        const address = this.server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  /** Closes the feed's WebSockets (upgraded sockets are not the HTTP server's to close) and every HTTP connection. */
  close(): Promise<void> {
    this.feed.close();
    this.model.close?.();
    return new Promise((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
