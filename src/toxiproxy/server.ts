/**
 * The toxiproxy-compatible HTTP API (`--toxiproxy-address`), a server of its
 * own: the admin server stays read-only. Routes, JSON, status codes and
 * error bodies as toxiproxy's `api.go` (Shopify/toxiproxy), so its clients
 * (toxiproxy-cli, toxiproxy-node-client, the Go and Ruby clients) drive
 * svcproxy unchanged. docs/faults.md lists what differs.
 *
 *   GET    /version                      {"version": ...}
 *   GET    /proxies                      {name: Proxy}
 *   POST   /proxies                      201 Proxy (an ad-hoc forward)
 *   POST   /populate                     201 {"proxies": [Proxy]}
 *   GET    /proxies/{p}                  Proxy
 *   POST|PATCH /proxies/{p}              Proxy
 *   DELETE /proxies/{p}                  204
 *   GET    /proxies/{p}/toxics           [Toxic]
 *   POST   /proxies/{p}/toxics           200 Toxic
 *   GET    /proxies/{p}/toxics/{t}       Toxic
 *   POST|PATCH /proxies/{p}/toxics/{t}   Toxic
 *   DELETE /proxies/{p}/toxics/{t}       204
 *   POST   /reset                        204
 *
 * Errors: `{"error": "...", "status": N}` and a newline, as Go's http.Error
 * writes it (text/plain). Every response carries X-Toxiproxy-Request-Id.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { describeError, errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { version } from '../version.js';
import { ApiError } from './api-error.js';
import { parseBody, readBody } from './json-body.js';
import type { ProxyCollection } from './proxy-collection.js';

/** The toxiproxy release whose API this one follows; svcproxy's own version rides along as build metadata. */
const TOXIPROXY_API_VERSION = '2.12.0';

type Handler = (params: readonly string[], body: unknown) => Promise<{ status: number; body?: unknown }> | { status: number; body?: unknown };

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly handler: Handler;
  /** Reads a JSON body (POST/PATCH routes). */
  readonly body: boolean;
}

function send(res: ServerResponse, status: number, contentType: string | undefined, body: string): void {
  const headers: Record<string, string> = { 'x-toxiproxy-request-id': randomBytes(8).toString('hex') };
  if (contentType !== undefined) headers['content-type'] = contentType;
  res.writeHead(status, headers);
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (body === undefined) {
    send(res, status, undefined, '');
    return;
  }
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
}

/** Go's http.Error: the JSON text with a newline, as text/plain. */
function sendError(res: ServerResponse, err: ApiError): void {
  // A body too large to read whole was not read to its end: the connection cannot carry another request.
  if (err.status === 413 && !res.req.complete) res.setHeader('connection', 'close');
  send(res, err.status, 'text/plain; charset=utf-8', `${JSON.stringify({ error: err.message, status: err.status, ...err.extra })}\n`);
}

export class ToxiproxyServer {
  private readonly server: Server;
  private readonly routes: readonly Route[];

  constructor(
    private readonly proxies: ProxyCollection,
    private readonly log: Logger,
  ) {
    const P = '([^/]+)';
    const route = (method: string, path: string, handler: Handler, body = false): Route => ({ method, pattern: new RegExp(`^${path}$`), handler, body });
    const name = (params: readonly string[], i = 0): string => {
      try {
        return decodeURIComponent(params[i] ?? '');
      } catch {
        throw new ApiError(i === 0 ? 'proxy not found' : 'toxic not found', 404); // not even a valid escape
      }
    };
    this.routes = [
      route('GET', '/version', () => ({ status: 200, body: { version: `${TOXIPROXY_API_VERSION}+svcproxy.${version()}` } })),
      route('POST', '/reset', async () => {
        await this.proxies.reset();
        return { status: 204 };
      }),
      route('GET', '/proxies', () => ({ status: 200, body: this.proxies.list() })),
      route('POST', '/proxies', async (_p, body) => ({ status: 201, body: await this.proxies.create(body) }), true),
      route('POST', '/populate', async (_p, body) => ({ status: 201, body: await this.proxies.populate(body) }), true),
      route('GET', `/proxies/${P}`, (p) => ({ status: 200, body: this.proxies.get(name(p)) })),
      route('POST', `/proxies/${P}`, async (p, body) => ({ status: 200, body: await this.proxies.update(name(p), body) }), true),
      route('PATCH', `/proxies/${P}`, async (p, body) => ({ status: 200, body: await this.proxies.update(name(p), body) }), true),
      route('DELETE', `/proxies/${P}`, (p) => {
        this.proxies.remove(name(p));
        return { status: 204 };
      }),
      route('GET', `/proxies/${P}/toxics`, (p) => ({ status: 200, body: this.proxies.toxics(name(p)) })),
      route('POST', `/proxies/${P}/toxics`, (p, body) => ({ status: 200, body: this.proxies.addToxic(name(p), body) }), true),
      route('GET', `/proxies/${P}/toxics/${P}`, (p) => ({ status: 200, body: this.proxies.getToxic(name(p), name(p, 1)) })),
      route('POST', `/proxies/${P}/toxics/${P}`, (p, body) => ({ status: 200, body: this.proxies.updateToxic(name(p), name(p, 1), body) }), true),
      route('PATCH', `/proxies/${P}/toxics/${P}`, (p, body) => ({ status: 200, body: this.proxies.updateToxic(name(p), name(p, 1), body) }), true),
      route('DELETE', `/proxies/${P}/toxics/${P}`, (p) => {
        this.proxies.removeToxic(name(p), name(p, 1));
        return { status: 204 };
      }),
    ];
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      // toxiproxy refuses browsers, so that a web page cannot drive it (a CSRF guard).
      if ((req.headers['user-agent'] ?? '').startsWith('Mozilla/')) {
        send(res, 403, 'text/plain; charset=utf-8', 'User agent not allowed\n');
        return;
      }
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const matches = this.routes.map((r) => ({ r, m: r.pattern.exec(path) })).filter((x) => x.m !== null);
      if (matches.length === 0) {
        send(res, 404, 'text/plain; charset=utf-8', '404 page not found\n');
        return;
      }
      const found = matches.find((x) => x.r.method === req.method);
      if (found === undefined || found.m === null) {
        send(res, 405, undefined, '');
        return;
      }
      let body: unknown;
      if (found.r.body) body = parseBody(await readBody(req));
      const out = await found.r.handler(found.m.slice(1), body);
      sendJson(res, out.status, out.body);
    } catch (err: unknown) {
      if (err instanceof ApiError) {
        sendError(res, err);
        return;
      }
      // The one place an unexpected error becomes an answer: reported, survived.
      this.log.error({ code: errorCode(err), err: errorMessage(err) }, 'toxiproxy API request failed');
      if (!res.headersSent) sendError(res, new ApiError(errorMessage(err), 500));
      else res.destroy();
    }
  }

  /** Binds; rejects with a one-line reason (a fatal start-up error, as the admin server's). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`toxiproxy API cannot listen on ${host}:${port}: ${describeError(err)}`));
      this.server.once('error', onError);
      this.server.listen({ host, port }, () => {
        this.server.removeListener('error', onError);
        this.server.on('error', () => undefined);
        const address = this.server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  close(): Promise<void> {
    this.proxies.close();
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
