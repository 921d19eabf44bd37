/**
 * The port-forward carrier's pool (proxy/forwarded.ts PortForwarder): per
 * Pod a few upgraded connections (pod-session.ts), each carrying many
 * forwarded connections, so that a new client connection costs two stream
 * opens on a session already up, not a TLS handshake and an upgrade.
 *
 *   open(pod, port) -> a session of that Pod with a free slot
 *                      (else a new one, up to sessionsPerPod and maxSessions)
 *                   -> error + data streams -> SYN_REPLY -> ForwardedStream
 *
 * - A session is full at streamsPerSession connections; the next open
 *   starts another session for the Pod.
 * - A session with no connection for idleSessionMs is closed; every
 *   pingIntervalMs each session is PINGed, and one that does not answer
 *   within pingTimeoutMs is closed (a dead TCP path no read reveals).
 * - An upgrade the API server refuses (403, 404, 400 for a Pod not Running)
 *   makes the Pod skipped for refusedSkipMs: its opens fail at once with the
 *   same reason (failed dials: the balancer moves on, passive health counts
 *   them), said once in the log until an upgrade to it works again.
 * - A session that drops resets its own streams (their clients see RST) and
 *   nothing else; the next open makes a new one (a reconnect).
 */
import type { ClusterAccess } from '../kube/types.js';
import { UpgradeRefused } from '../kube/upgrade.js';
import type { Logger } from '../log.js';
import type { ForwardDone, PortForwarder, PortForwardSession, PortForwardStats } from '../proxy/forwarded.js';
import { PortForwardDialer } from './dialer.js';
import { PortForwardError, type ForwardedStream } from './forwarded-stream.js';
import { PodSession } from './pod-session.js';
import { webSocketDial } from './websocket-dial.js';

export interface PortForwardTuning {
  /** Forwarded connections one session carries before another is opened (2 streams each). Default 250. */
  readonly streamsPerSession: number;
  /** Sessions per Pod at most. Default 4. */
  readonly sessionsPerPod: number;
  /** Sessions in all at most. Default 256. */
  readonly maxSessions: number;
  /** A session with no connection this long is closed, ms. Default 30 s. */
  readonly idleSessionMs: number;
  /** How often sessions are PINGed, ms. Default 15 s. */
  readonly pingIntervalMs: number;
  /** A PING unanswered this long closes its session, ms. Default 10 s. */
  readonly pingTimeoutMs: number;
  /** How long a Pod whose upgrade was refused is skipped, ms. Default 10 s. */
  readonly refusedSkipMs: number;
  /** The upgrade (TCP, TLS, the answer), per form, ms. Default 10 s. */
  readonly upgradeTimeoutMs: number;
}

const DEFAULT_PORT_FORWARD_TUNING: PortForwardTuning = {
  streamsPerSession: 250,
  sessionsPerPod: 4,
  maxSessions: 256,
  idleSessionMs: 30_000,
  pingIntervalMs: 15_000,
  pingTimeoutMs: 10_000,
  refusedSkipMs: 10_000,
  upgradeTimeoutMs: 10_000,
};

export interface PortForwarderOptions {
  readonly access: ClusterAccess;
  readonly log: Logger;
  readonly tuning?: Partial<PortForwardTuning>;
}

interface PodEntry {
  readonly sessions: PodSession[];
  /** Epoch ms until which opens fail at once (an upgrade refused); 0 = not skipped. */
  skippedUntil: number;
  skipError: Error | undefined;
  /** The refusal was logged; cleared by the next upgrade that works. */
  told: boolean;
}

/** A Pod whose refusal ended this long ago and that has no session is forgotten (and told again if refused again). */
const FORGET_REFUSED_MS = 10 * 60_000;
/** Pods remembered as having had a session (for the reconnect count), at most this many. */
const MAX_REMEMBERED_PODS = 10_000;

type OpenResult = 'ok' | 'refused' | 'error' | 'timeout' | 'failed' | 'full';

/** The result an open's failure is counted under. */
function resultOf(err: Error): OpenResult {
  if (err instanceof UpgradeRefused) return 'refused';
  const code = (err as Error & { code?: unknown }).code;
  if (code === 'E_PORTFORWARD') return 'error';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code === 'E_PORTFORWARD_FULL') return 'full';
  return 'failed';
}

class PodPortForwarder implements PortForwarder {
  private readonly tuning: PortForwardTuning;
  private readonly dialer: PortForwardDialer;
  private readonly pods = new Map<string, PodEntry>();
  /** Pods that had a session: a later one is a reconnect (bounded: forgotten wholesale past MAX_REMEMBERED_PODS). */
  private readonly connected = new Set<string>();
  private readonly abort = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private sessionCount = 0;
  private streamsOpen = 0;
  /** The streams open now, for live byte counts at scrape time. */
  private readonly live = new Set<ForwardedStream>();
  private reconnects = 0;
  private bytesToPods = 0;
  private bytesFromPods = 0;
  private readonly opens: Record<OpenResult, number> = { ok: 0, refused: 0, error: 0, timeout: 0, failed: 0, full: 0 };
  private closed = false;
  private lastPingAt = Date.now();

  constructor(private readonly options: PortForwarderOptions) {
    this.tuning = { ...DEFAULT_PORT_FORWARD_TUNING, ...options.tuning };
    // The WebSocket form first (kubectl >= 1.31's default), the plain SPDY upgrade on refusal.
    this.dialer = new PortForwardDialer(options.access, webSocketDial);
    this.timer = setInterval(() => this.tick(), Math.min(this.tuning.pingIntervalMs, this.tuning.idleSessionMs, 5000));
    this.timer.unref();
  }

  open(pod: string, port: number, timeoutMs: number, done: ForwardDone): void {
    const settle = (err: Error | null, stream?: ForwardedStream): void => {
      if (stream !== undefined) {
        this.opens.ok++;
        done(null, stream);
      } else {
        const why = err ?? new PortForwardError('ECONNRESET', 'no stream');
        this.opens[resultOf(why)]++;
        done(why);
      }
    };
    if (this.closed) {
      settle(new PortForwardError('ECONNRESET', 'the port-forwarder is closed'));
      return;
    }
    const entry = this.entry(pod);
    if (entry.skippedUntil > Date.now() && entry.skipError !== undefined) {
      settle(entry.skipError);
      return;
    }
    const session = this.sessionFor(pod, entry);
    if (session === undefined) {
      settle(new PortForwardError('E_PORTFORWARD_FULL', `every port-forward connection to ${pod} is full`));
      return;
    }
    session.slots++;
    session.idleSince = 0;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null, stream?: ForwardedStream): void => {
      if (finished) {
        if (stream !== undefined) {
          // Too late (the open had timed out): counted as opened so that its end balances the books, then reset.
          this.streamsOpen++;
          this.live.add(stream);
          session.slots++;
          stream.resetAndDestroy();
        }
        return;
      }
      finished = true;
      clearTimeout(timer);
      if (stream === undefined) this.release(session);
      else {
        this.streamsOpen++;
        this.live.add(stream);
      }
      settle(err, stream);
    };
    // The dial timeout is the stream open's (a TCP connect's counterpart). A session still being upgraded is
    // waited for within its own upgradeTimeoutMs: a cold Pod's first connection costs a TLS handshake and an
    // upgrade, longer than kube-proxy's first 250 ms, and moving on would only start another cold upgrade.
    session.whenReady((err) => {
      if (finished) return;
      if (err !== undefined) {
        finish(err);
        return;
      }
      const { cancel } = session.openStreams(port, finish);
      if (!finished) timer = setTimeout(cancel, timeoutMs);
    });
  }

  private entry(pod: string): PodEntry {
    let entry = this.pods.get(pod);
    if (entry === undefined) {
      entry = { sessions: [], skippedUntil: 0, skipError: undefined, told: false };
      this.pods.set(pod, entry);
    }
    return entry;
  }

  /** A session of `pod` with a free slot, or a new one; undefined when the Pod's or the pool's bound is reached. */
  private sessionFor(pod: string, entry: PodEntry): PodSession | undefined {
    const { streamsPerSession, sessionsPerPod, maxSessions } = this.tuning;
    for (const s of entry.sessions) if (!s.closed && s.slots < streamsPerSession) return s;
    if (entry.sessions.length >= sessionsPerPod || this.sessionCount >= maxSessions) return undefined;
    const session = new PodSession(
      pod,
      (stream) => this.streamEnded(session, stream),
      (s, err) => this.sessionClosed(pod, s, err),
    );
    entry.sessions.push(session);
    this.sessionCount++;
    if (this.connected.has(pod)) this.reconnects++;
    else {
      if (this.connected.size >= MAX_REMEMBERED_PODS) this.connected.clear();
      this.connected.add(pod);
    }
    this.dialer.connect(pod, this.abort.signal, this.tuning.upgradeTimeoutMs).then(
      ({ transport, protocol }) => {
        if (entry.told) this.options.log.info({ pod }, 'port-forward to the Pod works again');
        entry.told = false;
        entry.skippedUntil = 0;
        entry.skipError = undefined;
        this.options.log.debug({ pod, protocol }, 'port-forward connection up');
        session.established(transport, protocol, { maxConcurrentStreams: streamsPerSession * 2 + 16 });
      },
      (err: unknown) => session.close(err instanceof Error ? this.refused(pod, entry, err) : new Error(String(err))),
    );
    return session;
  }

  /** A refused upgrade skips the Pod for a while, said once. */
  private refused(pod: string, entry: PodEntry, err: Error): Error {
    if (!(err instanceof UpgradeRefused)) return err;
    entry.skippedUntil = Date.now() + this.tuning.refusedSkipMs;
    entry.skipError = err;
    if (!entry.told) {
      entry.told = true;
      this.options.log.warn(
        { pod, status: err.status, err: err.message, skipMs: this.tuning.refusedSkipMs },
        'port-forward to the Pod refused; skipping it for a while',
      );
    }
    return err;
  }

  private release(session: PodSession): void {
    session.slots = Math.max(0, session.slots - 1);
    if (session.slots === 0) session.idleSince = Date.now();
  }

  private streamEnded(session: PodSession, stream: ForwardedStream): void {
    this.streamsOpen--;
    this.live.delete(stream);
    this.bytesToPods += stream.bytesWritten;
    this.bytesFromPods += stream.bytesRead;
    this.release(session);
  }

  private sessionClosed(pod: string, session: PodSession, err: Error | undefined): void {
    const entry = this.pods.get(pod);
    if (entry === undefined) return;
    const i = entry.sessions.indexOf(session);
    if (i >= 0) {
      entry.sessions.splice(i, 1);
      this.sessionCount--;
    }
    if (session.protocol !== '') this.options.log.debug({ pod, err: err?.message }, 'port-forward connection closed');
    if (entry.sessions.length === 0 && entry.skippedUntil <= Date.now() && !entry.told) this.pods.delete(pod);
  }

  /** Idle sessions close; the others are PINGed. */
  private tick(): void {
    const now = Date.now();
    const ping = now - this.lastPingAt >= this.tuning.pingIntervalMs;
    if (ping) this.lastPingAt = now;
    for (const [pod, entry] of this.pods) {
      // A Pod refused long ago and not asked for since (deleted in a rollout, say) is forgotten: the map stays bounded.
      if (entry.sessions.length === 0 && entry.skippedUntil + FORGET_REFUSED_MS < now) this.pods.delete(pod);
      for (const s of [...entry.sessions]) {
        if (!s.open) continue;
        if (s.slots === 0 && s.idleSince > 0 && now - s.idleSince >= this.tuning.idleSessionMs) s.shut();
        else if (ping) s.ping(this.tuning.pingTimeoutMs);
      }
    }
  }

  stats(): PortForwardStats {
    const sessions: PortForwardSession[] = [];
    for (const [pod, entry] of this.pods) {
      for (const s of entry.sessions) if (s.open) sessions.push({ pod, protocol: s.protocol, streams: s.slots });
    }
    let bytesToPods = this.bytesToPods;
    let bytesFromPods = this.bytesFromPods;
    for (const s of this.live) {
      bytesToPods += s.bytesWritten;
      bytesFromPods += s.bytesRead;
    }
    return { streamsOpen: this.streamsOpen, opens: { ...this.opens }, sessions, reconnects: this.reconnects, bytesToPods, bytesFromPods };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.abort.abort();
    for (const entry of this.pods.values()) for (const s of [...entry.sessions]) s.shut();
    this.pods.clear();
  }
}

/** The port-forwarder of one API server (--pod-network portforward). */
export function createPortForwarder(options: PortForwarderOptions): PortForwarder {
  return new PodPortForwarder(options);
}
