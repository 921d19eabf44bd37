/**
 * `pods/{name}/portforward` on the fake API server, in the three forms a real one offers (KEP-4006):
 * (1) a WebSocket with the subprotocol `SPDY/3.1+portforward.k8s.io` (SPDY tunnelled in binary messages, kubectl's
 * default since 1.31), (2) `Upgrade: SPDY/3.1` with `X-Stream-Protocol-Version: portforward.k8s.io` (SPDY on the
 * socket, kubectl's fallback), (3) a WebSocket with `v4.channel.k8s.io` and `?ports=` (the kubelet's channel protocol,
 * client-node's PortForward). Each forwarded connection dials the Pod's IP (a loopback address a test listens on)
 * on the asked port, as the kubelet would inside the Pod's network namespace.
 *
 * The server hands every authenticated upgrade request on a portforward path to {@link FakePortForward.handle};
 * refusals are answered as kube-apiserver and the kubelet word them. Knobs and counters for tests are the public
 * fields below (see the README).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { SPDY_WEBSOCKET_PROTOCOL, WebSocketTunnel, webSocketAccept } from '../../../src/kube/websocket-tunnel.js';
import { ChannelForwarder, V4_CHANNEL_PROTOCOL } from './portforward-channel.js';
import {
  answerRaw,
  answerStatus,
  type ForwardContext,
  type OpenedStream,
  type PortForwardProtocol,
  type PortForwardRefusal,
  type PortForwardSession,
} from './portforward-common.js';
import { serveSpdy } from './portforward-spdy.js';
import { resourceByPath } from './resources.js';
import type { AccessPolicy } from './rest.js';
import { badRequest, notFound, status, type StatusBody } from './status.js';
import type { Store } from './store.js';
import type { PodObject } from './types.js';

const PORTFORWARD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/;
const PODS = resourceByPath('', 'v1', 'pods');

/** True for a path this module serves (the server sends it here even without an upgrade). */
export function isPortForwardPath(path: string): boolean {
  return PORTFORWARD_PATH.test(path);
}

export class FakePortForward {
  /** True: both WebSocket forms answer 400, as an API server without them (kubectl falls back to plain SPDY). */
  refuseWebSocket = false;
  /** Per Pod (`ns/name`): its upgrades answer this code (403 Forbidden, 404 the kubelet's "pod does not exist", 500). */
  readonly refuse = new Map<string, PortForwardRefusal>();
  /** Upgrades answered 101, by protocol. */
  readonly upgrades: Record<PortForwardProtocol, number> = { spdy: 0, 'spdy-websocket': 0, 'v4.channel': 0 };
  /** Upgrade requests per Pod (`ns/name`), answered or refused. */
  readonly requestsByPod = new Map<string, number>();
  /** Forwarded connections per Pod (`ns/name`): stream pairs (SPDY) or ports (v4.channel), dialed or not. */
  readonly forwardsByPod = new Map<string, number>();
  /** Upgrades refused (any answer but 101), by code. */
  readonly refusals = new Map<number, number>();
  /** The streams clients opened (SPDY forms), oldest first; the last 2000 are kept. */
  readonly streamLog: OpenedStream[] = [];
  private readonly sessions = new Set<PortForwardSession>();
  private readonly channels = new ChannelForwarder();

  get sessionsOpen(): number {
    return this.sessions.size;
  }

  get streamsOpen(): number {
    let n = 0;
    for (const s of this.sessions) n += s.streams();
    return n;
  }

  /** Open sessions, by protocol (for "the carrier used the WebSocket form"). */
  openSessions(): PortForwardSession[] {
    return [...this.sessions];
  }

  /** Resets every upgraded connection, or those of one Pod (`ns/name`); returns how many. */
  kill(pod?: string): number {
    let n = 0;
    for (const s of [...this.sessions]) {
      if (pod !== undefined && s.pod !== pod) continue;
      s.kill();
      n++;
    }
    return n;
  }

  /** Writes raw bytes into every open SPDY session (malformed frames); returns how many took them. */
  injectFrames(bytes: Buffer): number {
    let n = 0;
    for (const s of this.sessions) if (s.inject(bytes)) n++;
    return n;
  }

  /** Closes every session (the server's close). */
  close(): void {
    this.kill();
    this.channels.close();
  }

  /** An authenticated upgrade request on a portforward path; returns the status it was answered with. */
  handle(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: { readonly store: Store; readonly policy: AccessPolicy; readonly user: string }): number {
    const url = new URL(req.url ?? '/', 'https://fake-apiserver');
    const match = PORTFORWARD_PATH.exec(url.pathname);
    const [namespace, name] = [decodeURIComponent(match?.[1] ?? ''), decodeURIComponent(match?.[2] ?? '')];
    const key = `${namespace}/${name}`;
    const websocket = (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    const refusal = this.refusal(ctx, { namespace, name, key, websocket, method: req.method ?? 'GET' });
    if (refusal !== undefined) {
      this.refusals.set(refusal.code, (this.refusals.get(refusal.code) ?? 0) + 1);
      if (refusal.code === 404 && this.refuse.get(key) === 404) answerRaw(socket, 404, 'pod does not exist', 'text/plain; charset=utf-8');
      else answerStatus(socket, refusal);
      return refusal.code;
    }
    const pod = ctx.store.get('Pod', namespace, name) as PodObject;
    const forward: ForwardContext = {
      pod: key,
      podIp: pod.status.podIP ?? '127.0.0.1',
      sandbox: createHash('sha256').update(pod.metadata.uid).digest('hex'),
      counted: () => this.forwardsByPod.set(key, (this.forwardsByPod.get(key) ?? 0) + 1),
      opened: (stream) => {
        this.streamLog.push(stream);
        if (this.streamLog.length > 2000) this.streamLog.splice(0, this.streamLog.length - 2000);
      },
    };
    return websocket ? this.upgradeWebSocket(req, socket, head, forward) : this.upgradeSpdy(req, socket, head, forward);
  }

  private refusal(
    ctx: { readonly store: Store; readonly policy: AccessPolicy; readonly user: string },
    r: { readonly namespace: string; readonly name: string; readonly key: string; readonly websocket: boolean; readonly method: string },
  ): StatusBody | undefined {
    if (PODS === undefined) return status(500, 'InternalError', 'fake API server: no pods resource');
    const verb = r.method === 'POST' ? 'create' : 'get';
    if (ctx.policy.forbiddenNamespaces.has(r.namespace)) return forbidPortForward(ctx.user, r.name, r.namespace, verb);
    const pod = ctx.store.get('Pod', r.namespace, r.name) as PodObject | undefined;
    if (pod === undefined) return notFound(PODS, r.name);
    this.requestsByPod.set(r.key, (this.requestsByPod.get(r.key) ?? 0) + 1);
    const refused = this.refuse.get(r.key);
    if (refused === 403) return forbidPortForward(ctx.user, r.name, r.namespace, verb);
    if (refused === 404) return status(404, 'NotFound', 'pod does not exist');
    if (refused === 500) return status(500, 'InternalError', `error dialing backend: dial tcp ${pod.status.podIP ?? ''}:10250: connect: connection refused`);
    if (pod.status.phase !== 'Running') return badRequest('unable to upgrade connection: pod does not exist');
    if (r.websocket && this.refuseWebSocket)
      return badRequest('unable to upgrade connection: websocket requests are not served here (fake API server: refuseWebSocket)');
    return undefined;
  }

  private upgradeWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, forward: ForwardContext): number {
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const key = req.headers['sec-websocket-key'];
    if (req.method !== 'GET' || typeof key !== 'string' || req.headers['sec-websocket-version'] !== '13') {
      answerStatus(socket, badRequest('unable to upgrade connection: not a valid WebSocket handshake'));
      return 400;
    }
    if (offered.includes(SPDY_WEBSOCKET_PROTOCOL)) {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${webSocketAccept(key)}\r\nSec-WebSocket-Protocol: ${SPDY_WEBSOCKET_PROTOCOL}\r\n\r\n`,
      );
      this.upgrades['spdy-websocket']++;
      const tunnel = new WebSocketTunnel(socket, { role: 'server', head });
      tunnel.on('error', () => undefined);
      this.track(serveSpdy({ transport: tunnel, raw: socket, protocol: 'spdy-websocket', forward }));
      return 101;
    }
    if (offered.includes(V4_CHANNEL_PROTOCOL)) {
      const session = this.channels.upgrade(req, socket, head, forward);
      if (session === undefined) return 400;
      this.upgrades['v4.channel']++;
      this.track(session);
      return 101;
    }
    answerStatus(socket, badRequest(`unable to upgrade websocket connection: none of the requested protocols [${offered.join(' ')}] is supported`));
    return 400;
  }

  private upgradeSpdy(req: IncomingMessage, socket: Duplex, head: Buffer, forward: ForwardContext): number {
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'spdy/3.1') {
      answerStatus(socket, badRequest('unable to upgrade: missing upgrade headers in request'));
      return 400;
    }
    // apimachinery's httpstream.Handshake: no header at all is an old client (accepted); otherwise one must match.
    const asked = req.headers['x-stream-protocol-version'];
    const versions = (Array.isArray(asked) ? asked.join(',') : (asked ?? ''))
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
    if (versions.length > 0 && !versions.includes('portforward.k8s.io')) {
      answerStatus(
        socket,
        status(
          403,
          'Forbidden',
          `unable to upgrade: unable to negotiate protocol: client supports [${versions.join(' ')}], server supports [portforward.k8s.io]`,
        ),
      );
      return 403;
    }
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n${versions.length > 0 ? 'X-Stream-Protocol-Version: portforward.k8s.io\r\n' : ''}\r\n`,
    );
    this.upgrades.spdy++;
    if (head.length > 0) socket.unshift(head);
    this.track(serveSpdy({ transport: socket, raw: socket, protocol: 'spdy', forward }));
    return 101;
  }

  private track(session: PortForwardSession & { readonly closed: Promise<void> }): void {
    this.sessions.add(session);
    void session.closed.then(() => this.sessions.delete(session));
  }
}

function forbidPortForward(user: string, name: string, namespace: string, verb: string): StatusBody {
  return status(
    403,
    'Forbidden',
    `pods "${name}" is forbidden: User "${user}" cannot ${verb} resource "pods/portforward" in API group "" in the namespace "${namespace}"`,
    { name, kind: 'pods' },
  );
}
