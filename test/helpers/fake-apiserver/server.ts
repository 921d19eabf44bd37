/**
 * The fake kube-apiserver: HTTPS on 127.0.0.1 (port 0 at first, the same port after an outage) with
 * the test PKI, bearer-token and client-certificate authentication (401 Status otherwise), discovery,
 * and get/list/watch over the {@link FakeCluster}'s store. A test starts it with
 * {@link startFakeApiServer}, writes objects through `server.cluster`, writes a kubeconfig with
 * `server.kubeconfig(t, ...)` and injects faults: dropped or expired watches, compaction, 403s, outages.
 * Upgrade requests (port-forward) go to {@link FakePortForward} (`server.portForward`, its knobs and counters).
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { Test } from 'tap';
import { CLIENT_CERT_USER, fakePki, type FakePki } from './certs.js';
import { FakeCluster, type ClusterOptions } from './cluster.js';
import { discovery } from './discovery.js';
import { FakePortForward, isPortForwardPath } from './portforward.js';
import { answerRaw, answerStatus } from './portforward-common.js';
import { writeKubeconfig, type KubeconfigAuth } from './kubeconfig.js';
import { sendJson, serveResource, type AccessPolicy } from './rest.js';
import { StatusError, status, unauthorized } from './status.js';
import { WatchHub, type WatchHubOptions } from './watch.js';

export interface FakeApiServerOptions extends ClusterOptions, WatchHubOptions {
  /** Accepted bearer tokens, token -> user name (default: {@link DEFAULT_TOKEN} for "fake-token-user"). */
  readonly tokens?: Readonly<Record<string, string>>;
}

export const DEFAULT_TOKEN = 'fake-token';

/** What a test answers a request with instead of the fake (malformed JSON, a 500, a 429 ...). */
interface InterceptedAnswer {
  readonly code: number;
  readonly body: string;
  /** Default application/json. */
  readonly contentType?: string;
}

/** Sees every authenticated request first; undefined lets the fake answer it. */
export type Interceptor = (req: { readonly method: string; readonly path: string; readonly query: URLSearchParams }) => InterceptedAnswer | undefined;

/** One request as the server saw it (the log keeps the last 10,000). */
export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly accept: string;
  readonly userAgent: string;
  user: string | undefined;
  /** The response status; 0 until the headers are sent. */
  code: number;
}

/**
 * What an outage looks like from a client: `refuse` closes the listening socket (connection refused),
 * `reset` accepts and resets every connection, `hang` accepts and never answers (a blackholed server).
 */
export type OutageMode = 'refuse' | 'reset' | 'hang';

const HEALTH = new Set(['/healthz', '/livez', '/readyz']);
const MAX_RECORDS = 10_000;

export class FakeApiServer {
  readonly cluster: FakeCluster;
  readonly requests: RequestRecord[] = [];
  readonly policy: AccessPolicy = { forbiddenNamespaces: new Set(), forbidClusterScope: false };
  /** `pods/{name}/portforward`: knobs (refuseWebSocket, refuse per Pod) and counters; see portforward.ts. */
  readonly portForward = new FakePortForward();
  private readonly hub: WatchHub;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly tokens: Readonly<Record<string, string>>;
  /** Set by a test to answer some requests itself; see {@link Interceptor}. */
  interceptor: Interceptor | undefined;
  private outageMode: OutageMode | undefined;
  private boundPort = 0;

  private constructor(
    readonly pki: FakePki,
    options: FakeApiServerOptions,
  ) {
    this.cluster = new FakeCluster(options);
    this.hub = new WatchHub(this.cluster.store, options);
    this.tokens = options.tokens ?? { [DEFAULT_TOKEN]: 'fake-token-user' };
    this.server = createServer({ key: pki.serverKey, cert: pki.serverCert, ca: [pki.caCert], requestCert: true, rejectUnauthorized: false }, (req, res) =>
      this.handle(req, res),
    );
    // Longer than any pause in a test: a keep-alive connection closed by the server just as a client reuses it
    // is a client-side error (undici's "other side closed"), and a flaky test.
    this.server.keepAliveTimeout = 60_000;
    this.server.headersTimeout = 65_000;
    this.server.on('connection', (socket: Socket) => this.onConnection(socket));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.server.on('tlsClientError', () => undefined); // a client that gives up mid-handshake is not our failure
  }

  /** Use {@link startFakeApiServer} in tests; this is for a caller that manages the lifetime itself. */
  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const server = new FakeApiServer(await fakePki(), options);
    await server.listen(0);
    return server;
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `https://127.0.0.1:${this.boundPort}`;
  }

  /** Watches open right now. */
  get openWatches(): number {
    return this.hub.count;
  }

  /** How a watch from below the compaction floor is refused: HTTP 410 (default) or 200 with an ERROR event. */
  set tooOldWatch(mode: 'http' | 'event') {
    this.hub.tooOld = mode;
  }

  /** Ends every open watch; `abrupt` resets the connection instead of ending the response. Returns how many. */
  dropWatches(options: { readonly abrupt?: boolean } = {}): number {
    return this.hub.drop(options.abrupt === true);
  }

  /**
   * Compacts the store to now: every open watch gets an ERROR event (Status 410 Expired) and ends, and
   * every resume from an older resourceVersion is refused with 410 until the client relists.
   */
  expireWatches(): number {
    this.cluster.store.compact();
    return this.hub.expire();
  }

  /** Moves the compaction floor only (open watches go on; resuming from before it answers 410). */
  compact(rv?: number): void {
    this.cluster.store.compact(rv);
  }

  /** Writes `text` verbatim into every open watch stream (a malformed or truncated line); returns how many. */
  writeToWatches(text: string): number {
    return this.hub.inject(text);
  }

  /** A BOOKMARK event now, to every watch that allowed them. */
  bookmark(): void {
    this.hub.bookmark();
  }

  /** Resets every upgraded port-forward connection, or those of one Pod (`ns/name`); returns how many. */
  killPortForwards(pod?: string): number {
    return this.portForward.kill(pod);
  }

  /** Takes the server down (every connection closed) until {@link recover}. */
  async outage(mode: OutageMode = 'refuse'): Promise<void> {
    if (this.outageMode !== undefined) throw new Error('the fake API server is already down');
    this.outageMode = mode;
    this.hub.drop(true);
    this.portForward.kill();
    for (const socket of this.sockets) socket.destroy();
    if (mode === 'refuse') await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Back up on the same port; open watches were lost, as after a real restart (history is kept). */
  async recover(): Promise<void> {
    const mode = this.outageMode;
    if (mode === undefined) return;
    this.outageMode = undefined;
    for (const socket of this.sockets) socket.destroy(); // hung connections end with the outage
    if (mode === 'refuse') await this.listen(this.boundPort);
  }

  /** A kubeconfig for this server: the default token, the client certificate, or a given token. */
  kubeconfig(
    t: Test,
    options: { readonly auth?: 'token' | 'cert' | KubeconfigAuth; readonly namespace?: string; readonly context?: string } = {},
  ): Promise<string> {
    const auth = options.auth ?? 'token';
    const resolved: KubeconfigAuth =
      auth === 'token' ? { token: DEFAULT_TOKEN } : auth === 'cert' ? { clientCert: this.pki.clientCert, clientKey: this.pki.clientKey } : auth;
    return writeKubeconfig(t, {
      server: this.url,
      caCert: this.pki.caCert,
      auth: resolved,
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      ...(options.context === undefined ? {} : { context: options.context }),
    });
  }

  /** Closes everything; safe to call twice. */
  async close(): Promise<void> {
    this.cluster.stop();
    this.hub.drop(true);
    this.portForward.close();
    for (const socket of this.sockets) socket.destroy();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async listen(port: number): Promise<void> {
    // The port was ours a moment ago; should another process grab it meanwhile, retry for a while.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        this.server.listen(port, '127.0.0.1');
        await once(this.server, 'listening');
        const address = this.server.address();
        if (address === null || typeof address === 'string') throw new Error('the fake API server is not on TCP');
        this.boundPort = address.port;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  private onConnection(socket: Socket): void {
    socket.on('error', () => undefined);
    if (this.outageMode === 'reset') {
      socket.resetAndDestroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private authenticate(req: IncomingMessage): string | undefined {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') === true ? header.slice('Bearer '.length).trim() : undefined;
    const byToken = token === undefined ? undefined : this.tokens[token];
    if (byToken !== undefined) return byToken;
    // As kube-apiserver's union authenticator: a bad token does not fail a request a valid certificate carries.
    if (req.socket instanceof TLSSocket && req.socket.authorized) {
      const cn: unknown = req.socket.getPeerCertificate().subject.CN;
      return typeof cn === 'string' ? cn : CLIENT_CERT_USER;
    }
    return undefined;
  }

  private record(req: IncomingMessage, url: URL): RequestRecord {
    const record: RequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      accept: req.headers.accept ?? '',
      userAgent: req.headers['user-agent'] ?? '',
      user: undefined,
      code: 0,
    };
    this.requests.push(record);
    if (this.requests.length > MAX_RECORDS) this.requests.splice(0, this.requests.length - MAX_RECORDS);
    return record;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://fake-apiserver');
    const record = this.record(req, url);
    if (this.outageMode === 'hang') return; // never answered; the connection is cut at recover() or close()
    res.on('close', () => (record.code = res.statusCode));
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    try {
      this.route(req, res, url, record);
    } catch (err) {
      const body = err instanceof StatusError ? err.body : status(500, 'InternalError', `fake API server: ${String(err)}`);
      if (!res.headersSent) sendJson(res, body.code, body);
      else res.destroy();
    }
    record.code = res.headersSent ? res.statusCode : 0;
  }

  /** An HTTP upgrade (port-forward): the same log, outage, auth and interceptor as any request, then the Pod's forward. */
  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'https://fake-apiserver');
    const record = this.record(req, url);
    if (this.outageMode === 'hang') return;
    const user = this.authenticate(req);
    const answer = user === undefined ? undefined : this.interceptor?.({ method: record.method, path: record.path, query: record.query });
    record.user = user;
    if (user === undefined) {
      record.code = 401;
      answerStatus(socket, unauthorized());
    } else if (answer !== undefined) {
      record.code = answer.code;
      answerRaw(socket, answer.code, answer.body, answer.contentType);
    } else if (!isPortForwardPath(url.pathname)) {
      record.code = 404;
      answerRaw(socket, 404, '404 page not found\n', 'text/plain; charset=utf-8');
    } else {
      record.code = this.portForward.handle(req, socket, head, { store: this.cluster.store, policy: this.policy, user });
    }
  }

  private route(req: IncomingMessage, res: ServerResponse, url: URL, record: RequestRecord): void {
    if (HEALTH.has(url.pathname)) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('ok');
      return;
    }
    const user = this.authenticate(req);
    if (user === undefined) throw new StatusError(unauthorized());
    record.user = user;
    const answer = this.interceptor?.({ method: record.method, path: record.path, query: record.query });
    if (answer !== undefined) {
      res.writeHead(answer.code, { 'Content-Type': answer.contentType ?? 'application/json' }).end(answer.body);
      return;
    }
    if (isPortForwardPath(url.pathname)) throw new StatusError(status(400, 'BadRequest', 'Upgrade request required'));
    if (req.method !== 'GET') throw new StatusError(status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
    const doc = discovery(url.pathname, `127.0.0.1:${this.boundPort}`);
    if (doc !== undefined) {
      sendJson(res, 200, doc);
      return;
    }
    const ctx = { store: this.cluster.store, hub: this.hub, policy: this.policy, user };
    if (!serveResource(ctx, url, req.headers.accept ?? '', res))
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
  }
}

/** Starts a fake API server for the test; it is closed at the test's teardown. */
export async function startFakeApiServer(t: Test, options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const server = await FakeApiServer.start(options);
  t.teardown(() => server.close());
  return server;
}
