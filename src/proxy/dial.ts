import { connect, type Socket, type TcpNetConnectOpts } from 'node:net';
import { ProxyError } from '../errors.js';
import { SOCKET_HIGH_WATER_MARK } from './pump.js';

export type DialCallback = (err: Error | undefined, socket: Socket | undefined) => void;

function ignore(): void {
  // A socket we gave up on may still report an error; it has nobody to tell.
}

/**
 * Opens a TCP connection to host:port, or fails after `timeoutMs` (which
 * includes any DNS lookup). Callback style rather than a Promise: this runs
 * once per proxied connection, and the callback is called exactly once.
 *
 * On success the socket has no 'error' listener: the caller must attach one
 * in the same tick. `allowHalfOpen` lets a FIN from the upstream be passed
 * on as a FIN instead of closing both directions. `keepAliveMs` > 0 turns on
 * TCP keepalive with that idle time (libuv then probes every second, ten
 * times), so an endpoint that vanished is noticed on an idle connection.
 */
export function dial(host: string, port: number, timeoutMs: number, keepAliveMs: number, callback: DialCallback): void {
  // net.Socket passes these options on to stream.Duplex, which reads highWaterMark;
  // @types/node's connect options do not list it, hence the wider declared type.
  const options: TcpNetConnectOpts & { readonly highWaterMark: number } = {
    host,
    port,
    allowHalfOpen: true,
    noDelay: true,
    highWaterMark: SOCKET_HIGH_WATER_MARK,
    keepAlive: keepAliveMs > 0,
    keepAliveInitialDelay: keepAliveMs,
  };
  const socket = connect(options);
  const timer = setTimeout(onTimeout, timeoutMs);

  function onConnect(): void {
    clearTimeout(timer);
    socket.removeListener('error', onError);
    callback(undefined, socket);
  }
  function onError(err: Error): void {
    clearTimeout(timer);
    socket.removeListener('connect', onConnect);
    socket.destroy();
    callback(err, undefined);
  }
  function onTimeout(): void {
    socket.removeListener('connect', onConnect);
    socket.removeListener('error', onError);
    socket.on('error', ignore);
    socket.destroy();
    callback(new ProxyError('E_DIAL_TIMEOUT', `connect timed out after ${timeoutMs} ms`), undefined);
  }
  socket.once('connect', onConnect);
  socket.once('error', onError);
}
