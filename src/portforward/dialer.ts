/**
 * The upgraded connection to one Pod's pods/{name}/portforward, as kubectl
 * (>= 1.31) makes it: first SPDY/3.1 over a WebSocket (subprotocol
 * `SPDY/3.1+portforward.k8s.io`, apimachinery's tunneling dialer); on any
 * answer but 101, the plain `POST` + `Upgrade: SPDY/3.1` +
 * `X-Stream-Protocol-Version: portforward.k8s.io` (kubectl's "fallback to
 * secondary dialer"). One dialer per API server: once the WebSocket form was
 * refused and the plain one worked, the WebSocket form is not asked again
 * (a server that refuses it refuses it for every Pod); one that worked is
 * asked first from then on.
 */
import type { Duplex } from 'node:stream';
import { UpgradeRefused } from '../kube/upgrade.js';
import type { ClusterAccess } from '../kube/types.js';

/** How SPDY reaches the API server: inside a WebSocket, or on the upgraded socket itself. */
export type PortForwardProtocol = 'websocket' | 'spdy';

/** SPDY bytes to and from one Pod's portforward, and which form carries them. */
export interface PodTransport {
  readonly transport: Duplex;
  readonly protocol: PortForwardProtocol;
}

/**
 * The WebSocket form (websocket-dial.ts): SPDY bytes inside a WebSocket upgraded on `path`, or an
 * UpgradeRefused for any answer but a 101 that holds.
 */
export type WebSocketDial = (access: ClusterAccess, path: string, signal: AbortSignal, timeoutMs: number) => Promise<Duplex>;

const SPDY_HEADERS = { Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'portforward.k8s.io' };

/** `namespace/name` -> the portforward subresource's path. */
function portForwardPath(pod: string): string {
  const slash = pod.indexOf('/');
  const namespace = pod.slice(0, slash);
  const name = pod.slice(slash + 1);
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/portforward`;
}

export class PortForwardDialer {
  /** What this API server was last seen to accept; undefined until one upgrade worked. */
  private preferred: PortForwardProtocol | undefined;

  constructor(
    private readonly access: ClusterAccess,
    /** The WebSocket form; undefined: the plain SPDY upgrade only. */
    private readonly webSocket: WebSocketDial | undefined,
  ) {}

  /**
   * An upgraded connection to `pod`'s portforward within `timeoutMs` each
   * form; rejects with the plain form's refusal (UpgradeRefused: 403, 404,
   * 400 for a Pod not Running...) or the network's error.
   */
  async connect(pod: string, signal: AbortSignal, timeoutMs: number): Promise<PodTransport> {
    const path = portForwardPath(pod);
    if (this.preferred !== 'spdy' && this.webSocket !== undefined) {
      try {
        const transport = await this.webSocket(this.access, path, signal, timeoutMs);
        this.preferred = 'websocket';
        return { transport, protocol: 'websocket' };
      } catch (err) {
        // Only a refusal falls back, as kubectl's fallback dialer: a network error is the same either way.
        if (!(err instanceof UpgradeRefused)) throw err;
      }
    }
    const up = await this.access.upgrade(path, { method: 'POST', headers: SPDY_HEADERS, signal, timeoutMs });
    if (up.head.length > 0) up.socket.unshift(up.head);
    this.preferred = 'spdy';
    return { transport: up.socket, protocol: 'spdy' };
  }
}
