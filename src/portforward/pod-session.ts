/**
 * One upgraded connection to a Pod's portforward and the SPDY session on
 * it: many forwarded connections, each a pair of streams (kubectl's
 * protocol, apimachinery portforward.go):
 *
 *   SYN_STREAM {streamtype: error, port: N, requestid: K}  (our side ended at once: we never write on it)
 *   SYN_STREAM {streamtype: data,  port: N, requestid: K}  -> SYN_REPLY = connected
 *
 * While the upgrade is under way, opens wait for it (each with its own
 * deadline); when the session closes (the API server or the kubelet dropped
 * it, or it broke the protocol), every stream on it is reset by the session
 * and nothing else is touched.
 */
import type { Duplex } from 'node:stream';
import { SpdySession } from '../spdy/session.js';
import type { SpdyStream } from '../spdy/stream.js';
import { ForwardedStream, PortForwardError } from './forwarded-stream.js';
import type { PortForwardProtocol } from './dialer.js';

/** Header names as they go on the wire (SPDY/3 names are lower case; Go canonicalizes them on reading). */
const STREAM_TYPE = 'streamtype';
const PORT = 'port';
const REQUEST_ID = 'requestid';

/** Told when a forwarded stream opened on this session ends, with its byte counts. */
export type StreamEnded = (stream: ForwardedStream) => void;

export class PodSession {
  /** Forwarded connections open, or promised to a waiting open. */
  slots = 0;
  /** Epoch ms the last forwarded connection ended (idle since), 0 while one is open. */
  idleSince = 0;
  private session: SpdySession | undefined;
  private protocolValue: PortForwardProtocol | '' = '';
  private nextRequestId = 0;
  private closedValue = false;
  private readonly ready: Array<(err: Error | undefined) => void> = [];
  private pinging = false;

  constructor(
    readonly pod: string,
    private readonly onStreamEnd: StreamEnded,
    /** Told once, when the session is gone (or never came): the pool forgets it. */
    private readonly onClose: (session: PodSession, err: Error | undefined) => void,
  ) {}

  get protocol(): PortForwardProtocol | '' {
    return this.protocolValue;
  }

  get open(): boolean {
    return this.session !== undefined && !this.closedValue;
  }

  get closed(): boolean {
    return this.closedValue;
  }

  /** The upgrade succeeded: SPDY on `transport` from now on; the waiting opens go ahead. */
  established(transport: Duplex, protocol: PortForwardProtocol, limits: { readonly maxConcurrentStreams: number }): void {
    if (this.closedValue) {
      transport.destroy();
      return;
    }
    this.protocolValue = protocol;
    const session = new SpdySession({ role: 'client', transport, limits });
    this.session = session;
    session.on('close', (err: Error | undefined) => this.close(err));
    // A server may open streams to us: portforward never does; refuse them.
    session.on('stream', (stream: SpdyStream) => stream.reset());
    for (const go of this.ready.splice(0)) go(undefined);
  }

  /** The upgrade failed, or the session is gone: every waiting open fails, the pool forgets this session. */
  close(err: Error | undefined): void {
    if (this.closedValue) return;
    this.closedValue = true;
    const why = err ?? new PortForwardError('ECONNRESET', `the port-forward connection to ${this.pod} closed`);
    for (const go of this.ready.splice(0)) go(why);
    if (this.session !== undefined && !this.session.closed) this.session.destroy(err);
    this.onClose(this, err);
  }

  /** Calls `then` once the session is up (at once when it is), or with why it never will be. */
  whenReady(then: (err: Error | undefined) => void): void {
    if (this.open) then(undefined);
    else if (this.closedValue) then(new PortForwardError('ECONNRESET', `the port-forward connection to ${this.pod} closed`));
    else this.ready.push(then);
  }

  /**
   * Opens the two streams of one forwarded connection to `port`; `done`
   * once, with the adapter at the data stream's SYN_REPLY, or with why not
   * (text on the error stream first, a reset, the session's end).
   */
  openStreams(port: number, done: (err: Error | null, stream?: ForwardedStream) => void): { cancel: () => void } {
    const session = this.session;
    if (session === undefined || this.closedValue) {
      done(new PortForwardError('ECONNRESET', `the port-forward connection to ${this.pod} closed`));
      return { cancel: () => undefined };
    }
    const requestId = String(this.nextRequestId++);
    const headers = { [PORT]: String(port), [REQUEST_ID]: requestId };
    // The client never writes on the error stream: its side is closed at once (kubectl does the same).
    const errorStream = session.openStream({ [STREAM_TYPE]: 'error', ...headers }, { fin: true });
    const data = session.openStream({ [STREAM_TYPE]: 'data', ...headers });
    let settled = false;
    let errorText = '';
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      cleanup();
      if (!data.destroyed) data.reset();
      if (!errorStream.destroyed) errorStream.reset();
      done(err);
    };
    const onErrorText = (chunk: Buffer): void => {
      if (errorText.length < 1024) errorText += chunk.toString('utf8', 0, Math.min(chunk.length, 1024));
    };
    const onErrorEnd = (): void =>
      fail(new PortForwardError('E_PORTFORWARD', errorText === '' ? `the kubelet closed the forward to ${this.pod}:${port}` : errorText));
    const onStreamError = (err: Error): void =>
      fail(
        errorText === '' ? new PortForwardError('ECONNRESET', `port-forward stream refused: ${err.message}`) : new PortForwardError('E_PORTFORWARD', errorText),
      );
    const onReply = (): void => {
      if (settled) return;
      settled = true;
      cleanup();
      const stream = new ForwardedStream(data, errorStream, this.onStreamEnd);
      // Text the kubelet wrote before the reply reached us still counts: the adapter fails with it.
      if (errorText !== '') stream.destroy(new PortForwardError('E_PORTFORWARD', errorText));
      done(null, stream);
    };
    const cleanup = (): void => {
      data.removeListener('reply', onReply);
      data.removeListener('error', onStreamError);
      errorStream.removeListener('data', onErrorText);
      errorStream.removeListener('end', onErrorEnd);
      errorStream.removeListener('error', onStreamError);
    };
    data.on('reply', onReply);
    data.on('error', onStreamError);
    errorStream.on('data', onErrorText);
    errorStream.on('end', onErrorEnd);
    errorStream.on('error', onStreamError);
    return { cancel: () => fail(new PortForwardError('ETIMEDOUT', `no port-forward stream to ${this.pod}:${port} in time`)) };
  }

  /** A PING; the session is closed when none comes back within `timeoutMs` (a dead connection no read would reveal). */
  ping(timeoutMs: number): void {
    const session = this.session;
    if (session === undefined || this.closedValue || this.pinging) return;
    this.pinging = true;
    const timer = setTimeout(() => this.close(new PortForwardError('ETIMEDOUT', `no PING answer from ${this.pod} within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    session.ping().then(
      () => {
        this.pinging = false;
        clearTimeout(timer);
      },
      () => {
        this.pinging = false;
        clearTimeout(timer);
      },
    );
  }

  /** No new streams; the session closes now (an idle one, or at the forwarder's close). */
  shut(): void {
    this.close(undefined);
  }
}
