/**
 * The floor of node:net: the barest TCP proxy Node can run, for the bench's
 * `node-pipe` target. Each accepted connection dials its backend and the two
 * sockets are joined with pipe() both ways (half-close passed on, errors end
 * both). No policy, no counters, no balancing: what any JS pump costs at
 * least, so svcproxy's JS pump is measured against it.
 *
 *   node node-pipe-proxy.js HOST LISTEN_DISCARD LISTEN_ECHO BACKEND_DISCARD BACKEND_ECHO
 */
import { connect, createServer, type Socket } from 'node:net';
import { assertLoopback } from './loopback.js';

const [host = '127.0.0.1', ...ports] = process.argv.slice(2);
assertLoopback(host, 'node-pipe-proxy');
const [listenDiscard, listenEcho, backendDiscard, backendEcho] = ports.map(Number);

function proxy(listenPort: number | undefined, backendPort: number | undefined): void {
  if (listenPort === undefined || backendPort === undefined)
    throw new Error('usage: node-pipe-proxy HOST LISTEN_DISCARD LISTEN_ECHO BACKEND_DISCARD BACKEND_ECHO');
  createServer({ allowHalfOpen: true, noDelay: true }, (client: Socket) => {
    const backend = connect({ host, port: backendPort, allowHalfOpen: true, noDelay: true });
    const fail = (): void => {
      client.destroy();
      backend.destroy();
    };
    client.on('error', fail);
    backend.on('error', fail);
    client.pipe(backend).pipe(client);
  }).listen(listenPort, host);
}

proxy(listenDiscard, backendDiscard);
proxy(listenEcho, backendEcho);
