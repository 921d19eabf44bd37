/**
 * The admin HTTP server. Read-only: it reports on the proxy and never
 * changes it. For now it answers health checks; metrics, the JSON API and
 * the dashboard come with the admin surface.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { errorCode, errorMessage } from '../errors.js';

export type Route = (req: IncomingMessage, res: ServerResponse) => void;

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

const ROUTES: Readonly<Record<string, Route>> = {
  '/healthz': (_req, res) => text(res, 200, 'ok\n'),
  '/': (_req, res) => text(res, 200, 'svcproxy admin\n\nGET /healthz  liveness: 200 while the process runs\n'),
};

export class AdminServer {
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => this.route(req, res));
    // A client that sends garbage gets a 400 from node:http; it must never reach 'error' unhandled.
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const handler = ROUTES[path];
    if (req.method !== 'GET' && req.method !== 'HEAD') text(res, 405, 'method not allowed: the admin API is read-only\n');
    else if (handler === undefined) text(res, 404, 'not found\n');
    else handler(req, res);
  }

  /** Binds; rejects with a one-line reason (a fatal start-up error for the caller). */
  listen(host: string, port: number): Promise<number> {
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

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
