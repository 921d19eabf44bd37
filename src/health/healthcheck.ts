/**
 * The client side of `svcproxy healthcheck`: one `GET /healthz` on svcproxy's
 * own admin server over a raw TCP socket (HTTP/1.0, the status line is all it
 * reads), with a hard deadline. It loads nothing but node:net, so a container
 * health check costs one short-lived Node process and no more (no fetch, no
 * undici, none of svcproxy's modules).
 */
import { connect } from 'node:net';

export interface HealthzResult {
  readonly ok: boolean;
  /** `http 200`, `http 503`, `ECONNREFUSED`, `timeout after 2000 ms`... */
  readonly reason: string;
}

/** Asks `host:port` for /healthz; ok on a 200 status line. Always resolves, once. */
export function checkHealthz(host: string, port: number, timeoutMs: number): Promise<HealthzResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let head = '';
    const finish = (result: HealthzResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, reason: `timeout after ${timeoutMs} ms` }), timeoutMs);
    socket.setEncoding('latin1');
    socket.once('connect', () =>
      socket.write(`GET /healthz HTTP/1.0\r\nHost: ${host.includes(':') ? `[${host}]` : host}:${port}\r\nUser-Agent: svcproxy-healthcheck\r\n\r\n`),
    );
    socket.on('data', (chunk: string) => {
      head += chunk;
      const end = head.indexOf('\r\n');
      if (end < 0 && head.length < 1024) return;
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.slice(0, end < 0 ? head.length : end))?.[1];
      finish(status === undefined ? { ok: false, reason: 'not an HTTP answer' } : { ok: status === '200', reason: `http ${status}` });
    });
    socket.once('end', () => finish({ ok: false, reason: 'connection closed before a status line' }));
    socket.once('error', (err: NodeJS.ErrnoException) => finish({ ok: false, reason: err.code ?? err.message }));
  });
}
