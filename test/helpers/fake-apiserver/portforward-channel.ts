/**
 * The kubelet's own WebSocket form of port-forward (`v4.channel.k8s.io`, pkg/kubelet/cri/streaming/portforward/
 * websocket.go), as client-node's PortForward speaks it: `?ports=N[,M]` (the API server's name; it calls it `port`
 * towards the kubelet), one WebSocket per forwarded connection, channel 2i carries port i's data and 2i+1 its errors,
 * every message starts with its channel byte, and the server first sends the port as a little-endian uint16 on both
 * channels. No half-close: the Pod's end of a connection ends the WebSocket (once every port is done), the client's
 * close ends the connections.
 */
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { answerRaw, dialErrorText, type ForwardContext, type PortForwardSession } from './portforward-common.js';
import { badRequest } from './status.js';

export const V4_CHANNEL_PROTOCOL = 'v4.channel.k8s.io';

/** Bytes sent to the WebSocket and not yet written out, per connection, before the Pod's socket is paused. */
const MAX_PENDING = 1024 * 1024;

function parsePorts(url: URL): number[] | string {
  const raw = [...url.searchParams.getAll('ports'), ...url.searchParams.getAll('port')];
  if (raw.length === 0) return 'query parameter "port" is required';
  const ports: number[] = [];
  for (const value of raw) {
    for (const p of value.split(',')) {
      const port = /^\d{1,5}$/.test(p) ? Number(p) : Number.NaN;
      if (!(port >= 1 && port <= 65535)) return `unable to parse "${value}" as a port`;
      ports.push(port);
    }
  }
  return ports;
}

class ChannelSession implements PortForwardSession {
  readonly protocol = 'v4.channel' as const;
  readonly closed: Promise<void>;
  private ws: WebSocket | undefined;
  private readonly sockets: Array<Socket | undefined> = [];
  private done = 0;
  private pending = 0;
  private resolveClosed: () => void = () => undefined;

  constructor(
    private readonly forward: ForwardContext,
    private readonly ports: readonly number[],
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  get pod(): string {
    return this.forward.pod;
  }

  streams(): number {
    return this.sockets.filter((s) => s !== undefined && !s.destroyed).length;
  }

  kill(): void {
    if (this.ws === undefined) this.resolveClosed();
    else this.ws.terminate();
  }

  inject(): boolean {
    return false;
  }

  start(ws: WebSocket): void {
    this.ws = ws;
    ws.on('error', () => undefined);
    ws.on('close', () => {
      for (const s of this.sockets) s?.destroy();
      this.resolveClosed();
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    this.ports.forEach((port, i) => this.open(ws, port, i));
  }

  private open(ws: WebSocket, port: number, i: number): void {
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port, 0);
    ws.send(Buffer.concat([Buffer.from([2 * i]), portBytes]));
    ws.send(Buffer.concat([Buffer.from([2 * i + 1]), portBytes]));
    this.forward.counted();
    const socket = connect({ host: this.forward.podIp, port });
    this.sockets[i] = socket;
    let failed = false;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (socket.remoteAddress !== undefined || failed) return;
      failed = true;
      const cause = err.code === 'ECONNREFUSED' ? 'connect: connection refused' : err.message;
      ws.send(Buffer.concat([Buffer.from([2 * i + 1]), Buffer.from(dialErrorText(this.forward.sandbox, this.forward.podIp, port, cause))]));
    });
    socket.on('data', (chunk: Buffer) => {
      this.pending += chunk.length + 1;
      if (this.pending > MAX_PENDING) socket.pause();
      ws.send(Buffer.concat([Buffer.from([2 * i]), chunk]), () => {
        this.pending -= chunk.length + 1;
        if (this.pending <= MAX_PENDING) for (const s of this.sockets) s?.resume();
      });
    });
    socket.on('close', () => {
      if (++this.done === this.ports.length) ws.close(1000);
    });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary || data.length < 2) return;
    const channel = data[0] ?? 0;
    const socket = channel % 2 === 0 ? this.sockets[channel / 2] : undefined;
    if (socket === undefined || socket.destroyed) return;
    if (!socket.write(data.subarray(1))) {
      this.ws?.pause();
      socket.once('drain', () => this.ws?.resume());
    }
  }
}

/** The `ws` server (no HTTP server of its own) that takes the v4.channel upgrades. */
export class ChannelForwarder {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: 4 * 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has(V4_CHANNEL_PROTOCOL) ? V4_CHANNEL_PROTOCOL : false),
  });

  /** Upgrades the request; undefined (and a 400 answered) when its ports are missing or bad. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, forward: ForwardContext): ChannelSession | undefined {
    const ports = parsePorts(new URL(req.url ?? '/', 'https://fake-apiserver'));
    if (typeof ports === 'string') {
      answerRaw(socket, 400, JSON.stringify(badRequest(ports)));
      return undefined;
    }
    const session = new ChannelSession(forward, ports);
    this.wss.handleUpgrade(req, socket, head, (ws) => session.start(ws));
    return session;
  }

  close(): void {
    this.wss.close();
  }
}
