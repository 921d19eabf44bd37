/** What the three port-forward forms of the fake share: the session shape, raw HTTP answers, the kubelet's error text. */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { StatusBody } from './status.js';

export type PortForwardProtocol = 'spdy' | 'spdy-websocket' | 'v4.channel';

/** How a refused Pod's upgrade is answered. */
export type PortForwardRefusal = 403 | 404 | 500;

/** One upgraded connection, whatever its protocol. */
export interface PortForwardSession {
  readonly pod: string;
  readonly protocol: PortForwardProtocol;
  /** Forwarded connections open on it. */
  streams(): number;
  /** Resets the upgraded connection. */
  kill(): void;
  /** Writes raw bytes into it (SPDY: below the session, as frames); false where that means nothing. */
  inject(bytes: Buffer): boolean;
}

/** What the sessions need from the fake: where Pods are, and the counters to bump. */
export interface ForwardContext {
  /** `ns/name` of the Pod. */
  readonly pod: string;
  readonly podIp: string;
  /** The kubelet's name for the Pod in error texts: its sandbox id (the CRI streaming server knows no more). */
  readonly sandbox: string;
  /** Called once per forwarded connection before it dials. */
  readonly counted: () => void;
  /** Called for every stream a client opens (SPDY forms). */
  readonly opened: (stream: OpenedStream) => void;
}

/** A SPDY stream a client opened, as the fake saw it (`FakePortForward.streamLog`). */
export interface OpenedStream {
  readonly pod: string;
  readonly protocol: PortForwardProtocol;
  readonly id: number;
  readonly headers: Readonly<Record<string, string>>;
}

/** Writes an HTTP answer on a socket that was never upgraded, and ends it. */
export function answerRaw(socket: Duplex, code: number, body: string, contentType = 'application/json'): void {
  const payload = Buffer.from(body);
  socket.end(
    `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'Unknown'}\r\nContent-Type: ${contentType}\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function answerStatus(socket: Duplex, body: StatusBody): void {
  answerRaw(socket, body.code, JSON.stringify(body));
}

/** The kubelet's words for a failed dial inside the Pod (containerd's CRI streaming server). */
export function dialErrorText(sandbox: string, podIp: string, port: number, cause: string): string {
  return (
    `error forwarding port ${port} to pod ${sandbox}, uid : failed to execute portforward in network namespace "/var/run/netns/cni-${sandbox.slice(0, 8)}": ` +
    `failed to connect to localhost:${port} inside namespace "${sandbox}", IPv4: dial tcp4 ${podIp}:${port}: ${cause} IPv6 dial tcp6: address ::1: no suitable address `
  );
}
