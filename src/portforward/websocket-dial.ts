/**
 * The WebSocket form of pods/{name}/portforward (kubectl >= 1.31's first
 * choice, apimachinery's tunneling dialer): a WebSocket GET with the
 * subprotocol `SPDY/3.1+portforward.k8s.io`, whose binary messages carry the
 * SPDY bytes (message boundaries mean nothing). A 101 whose handshake does
 * not hold (the accept key, the subprotocol) counts as a refusal of the form,
 * so the dialer falls back to the plain SPDY upgrade.
 */
import type { Duplex } from 'node:stream';
import type { ClusterAccess } from '../kube/types.js';
import { UpgradeRefused } from '../kube/upgrade.js';
import { newWebSocketKey, SPDY_WEBSOCKET_PROTOCOL, WebSocketTunnel, webSocketAccept } from '../kube/websocket-tunnel.js';
import type { WebSocketDial } from './dialer.js';

/** The largest WebSocket message taken from the server (a SPDY DATA frame is capped at 1 MiB by the session). */
const MAX_WEBSOCKET_MESSAGE_BYTES = 2 * 1024 * 1024;

export const webSocketDial: WebSocketDial = async (access: ClusterAccess, path: string, signal: AbortSignal, timeoutMs: number): Promise<Duplex> => {
  const key = newWebSocketKey();
  const headers = {
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Protocol': SPDY_WEBSOCKET_PROTOCOL,
  };
  const up = await access.upgrade(path, { method: 'GET', headers, signal, timeoutMs });
  const accept = up.headers['sec-websocket-accept'];
  const protocol = up.headers['sec-websocket-protocol'];
  if (accept !== webSocketAccept(key) || protocol !== SPDY_WEBSOCKET_PROTOCOL) {
    up.socket.destroy();
    throw new UpgradeRefused(101, `the WebSocket handshake did not hold (subprotocol ${String(protocol)})`);
  }
  return new WebSocketTunnel(up.socket, { role: 'client', head: up.head, maxMessageBytes: MAX_WEBSOCKET_MESSAGE_BYTES });
};
