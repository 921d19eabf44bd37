/**
 * The kubelet's SPDY side of port-forward (pkg/kubelet/cri/streaming/portforward/httpstream.go), over the upgraded
 * socket or over a WebSocket tunnel: per forwarded connection the client opens two streams with the same
 * `requestID`, `streamType: error` and `streamType: data`, and a `port`; each is answered with an empty SYN_REPLY;
 * once both are there the Pod is dialed and the data stream piped to it, FIN passing as FIN both ways. When both
 * directions are done the kubelet closes (FIN) both streams. A failed dial writes the kubelet's text on the error
 * stream and closes both. A client's RST on the data stream resets the Pod connection.
 */
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { SpdySession } from '../../../src/spdy/session.js';
import type { SpdyStream } from '../../../src/spdy/stream.js';
import { SyncFlushShim } from './portforward-sync-flush.js';
import { dialErrorText, type ForwardContext, type PortForwardProtocol, type PortForwardSession } from './portforward-common.js';

/** How long the kubelet waits for the second stream of a pair (its streamCreationTimeout is 30 s; tests need less). */
const PAIR_TIMEOUT_MS = 30_000;

interface Pair {
  readonly requestId: string;
  error?: SpdyStream;
  data?: SpdyStream;
  timer?: NodeJS.Timeout;
}

/** Header names case-insensitively (spdystream sends them lowercased; be lenient anyway). */
function header(stream: SpdyStream, name: string): string | undefined {
  for (const [k, v] of Object.entries(stream.headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** What the kubelet's httpStreamReceived refuses a stream for; undefined when it is fine. */
function invalid(stream: SpdyStream): string | undefined {
  const port = header(stream, 'port');
  if (port === undefined || port === '') return '"port" header is required';
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return `unable to parse "${port}" as a port`;
  const type = header(stream, 'streamtype');
  if (type === undefined || type === '') return '"streamType" header is required';
  if (type !== 'error' && type !== 'data') return `invalid stream type "${type}"`;
  return undefined;
}

class SpdyForwardSession implements PortForwardSession {
  readonly closed: Promise<void>;
  private readonly session: SpdySession;
  private readonly pairs = new Map<string, Pair>();
  private readonly pods = new Set<Socket>();

  constructor(
    private readonly transport: Duplex,
    private readonly raw: Duplex,
    readonly protocol: PortForwardProtocol,
    private readonly forward: ForwardContext,
  ) {
    this.session = new SpdySession({ role: 'server', transport: new SyncFlushShim(transport) });
    let resolve: () => void = () => undefined;
    this.closed = new Promise((r) => (resolve = r));
    this.session.on('stream', (stream: SpdyStream) => this.onStream(stream));
    this.session.on('close', () => {
      for (const pod of this.pods) pod.destroy();
      for (const pair of this.pairs.values()) clearTimeout(pair.timer);
      this.pairs.clear();
      raw.destroy();
      resolve();
    });
  }

  get pod(): string {
    return this.forward.pod;
  }

  streams(): number {
    return this.pods.size;
  }

  kill(): void {
    const socket = this.raw as Partial<Socket> & Duplex;
    try {
      if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
      else socket.destroy();
    } catch {
      socket.destroy();
    }
    this.session.destroy();
  }

  inject(bytes: Buffer): boolean {
    if (this.session.closed || this.transport.destroyed) return false;
    this.transport.write(bytes);
    return true;
  }

  private onStream(stream: SpdyStream): void {
    stream.on('error', () => undefined);
    this.forward.opened({ pod: this.forward.pod, protocol: this.protocol, id: stream.id, headers: { ...stream.headers } });
    const refused = invalid(stream);
    if (refused !== undefined) {
      stream.reset();
      return;
    }
    stream.reply({});
    // An old client sends no requestID: the kubelet pairs by stream id (error N, data N+2).
    const type = header(stream, 'streamtype');
    const requestId = header(stream, 'requestid') ?? String(type === 'error' ? stream.id : stream.id - 2);
    let pair = this.pairs.get(requestId);
    if (pair === undefined) {
      const fresh: Pair = { requestId };
      fresh.timer = setTimeout(() => this.timedOut(fresh), PAIR_TIMEOUT_MS).unref();
      this.pairs.set(requestId, fresh);
      pair = fresh;
    }
    const slot = type === 'error' ? 'error' : 'data';
    if (pair[slot] !== undefined) {
      pair.error?.write(`error processing stream for request ${requestId}: ${slot} stream already assigned`);
      stream.reset();
      return;
    }
    pair[slot] = stream;
    if (pair.error !== undefined && pair.data !== undefined) {
      clearTimeout(pair.timer);
      this.pairs.delete(requestId);
      this.dial(pair.error, pair.data);
    }
  }

  private timedOut(pair: Pair): void {
    this.pairs.delete(pair.requestId);
    pair.error?.end(`(conn=${this.forward.pod}, request=${pair.requestId}) timed out waiting for streams`);
    pair.data?.end();
  }

  private dial(error: SpdyStream, data: SpdyStream): void {
    this.forward.counted();
    const port = Number(header(data, 'port'));
    const pod = connect({ host: this.forward.podIp, port, allowHalfOpen: true });
    this.pods.add(pod);
    let connected = false;
    pod.on('connect', () => {
      connected = true;
      data.pipe(pod);
      pod.pipe(data);
    });
    pod.on('error', (err: NodeJS.ErrnoException) => {
      const cause = connected ? err.message : err.code === 'ECONNREFUSED' ? 'connect: connection refused' : err.message;
      if (!error.destroyed && !error.writableEnded) error.write(dialErrorText(this.forward.sandbox, this.forward.podIp, port, cause));
    });
    // The client's RST on the data stream (kubectl resets it once the Pod's side has ended): the Pod connection goes.
    data.on('error', () => pod.destroy());
    data.on('close', () => {
      if (!data.readableEnded || !data.writableFinished) pod.destroy();
    });
    pod.on('close', () => {
      this.pods.delete(pod);
      if (!data.destroyed && !data.writableEnded) data.end();
      if (!error.destroyed && !error.writableEnded) error.end();
    });
  }
}

export function serveSpdy(options: {
  readonly transport: Duplex;
  readonly raw: Duplex;
  readonly protocol: PortForwardProtocol;
  readonly forward: ForwardContext;
}): PortForwardSession & { readonly closed: Promise<void> } {
  return new SpdyForwardSession(options.transport, options.raw, options.protocol, options.forward);
}
