/**
 * One bound TCP socket (address, port) feeding one ServicePortProxy. The
 * target can be swapped without rebinding; closing stops accepting and
 * leaves established connections to run to their end, as kube-proxy did.
 * A bind that fails (EADDRINUSE, EACCES, EADDRNOTAVAIL) is retried with a
 * growing delay until it succeeds or the listener is closed.
 *
 * Out of file descriptors, libuv drains the accept backlog with a reserved
 * descriptor (its "EMFILE trick"). If another thread takes that descriptor
 * the moment libuv lets go of it (the native pump's thread making a pipe),
 * libuv's accept loop retries EMFILE without ever returning to the event
 * loop: the process spins and serves nothing until some descriptor is freed,
 * which then never happens. AcceptStormGuard notices that (many accept
 * errors in one turn of the loop) and closes the listening socket, which ends
 * libuv's loop; the listener then reopens it after a growing delay, as for a
 * failed bind. Connections waiting in the backlog are reset: there were no
 * descriptors for them anyway.
 */
import cluster from 'node:cluster';
import { createServer, type Server, type Socket } from 'node:net';
import { describeError, errorCode, errorMessage, ProxyError } from '../errors.js';
import { RateLimitedWarning, type Logger } from '../log.js';
import { hostPort, type ListenerPlan } from '../state/types.js';
import { SOCKET_HIGH_WATER_MARK } from './pump.js';
import type { ServicePortProxy } from './service-port-proxy.js';

export type ListenerState = 'binding' | 'listening' | 'failed' | 'closed';

/** Accept errors (EMFILE, ENFILE) in one turn of the event loop that mean libuv is spinning on them. */
const ACCEPT_ERRORS_PER_TURN = 64;

/**
 * Counts a server's accept errors per turn of the event loop and calls
 * `onStorm` once they reach ACCEPT_ERRORS_PER_TURN (see the header). The
 * count is reset by setImmediate, which cannot run while libuv is stuck in
 * its accept loop: only a real storm reaches the limit.
 */
export class AcceptStormGuard {
  private errors = 0;

  constructor(private readonly onStorm: (code: string) => void) {}

  /** Call from the server's 'error' listener; true when the error was an accept failure for want of descriptors. */
  acceptError(err: unknown): boolean {
    const code = errorCode(err);
    if (code !== 'EMFILE' && code !== 'ENFILE') return false;
    if (this.errors++ === 0) setImmediate(() => (this.errors = 0));
    if (this.errors === ACCEPT_ERRORS_PER_TURN) this.onStorm(code);
    return true;
  }
}

/** Delays between bind attempts: doubling from 250 ms, capped at 10 s. */
export function bindRetryDelayMs(failures: number): number {
  return Math.min(10_000, 250 * 2 ** Math.max(0, failures - 1));
}

export class ServiceListener {
  private readonly server: Server;
  private readonly log: Logger;
  state: ListenerState = 'binding';
  /** The last bind error, for the logs and the admin view. */
  lastError = '';
  /** Failed bind attempts since the last success. */
  bindFailures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly acceptErrors: RateLimitedWarning;
  private readonly storms = new AcceptStormGuard((code) => this.pauseAccepting(code));

  /**
   * @param onState called after every state change (bound, failed, closed),
   *   so the admin surface can report it; never on the data path.
   */
  constructor(
    readonly plan: ListenerPlan,
    private target: ServicePortProxy,
    log: Logger,
    private readonly onState: (listener: ServiceListener) => void = () => undefined,
  ) {
    this.log = log.child({ listener: plan.key, servicePort: plan.servicePort });
    this.acceptErrors = new RateLimitedWarning(this.log);
    // pauseOnConnect: no client byte is read before an upstream exists to take it.
    // keepAlive: a client that vanished while its connection was idle is noticed (see pump.ts for the paused case).
    const keepAliveMs = target.keepAliveMs;
    this.server = createServer(
      {
        allowHalfOpen: true,
        pauseOnConnect: true,
        noDelay: true,
        highWaterMark: SOCKET_HIGH_WATER_MARK,
        keepAlive: keepAliveMs > 0,
        keepAliveInitialDelay: keepAliveMs,
      },
      (socket: Socket) => {
        this.target.accept(socket);
      },
    );
    this.server.on('error', (err) => this.onServerError(err));
  }

  /** The bound port (differs from plan.port only when the plan asked for port 0, as tests do). */
  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : this.plan.port;
  }

  /**
   * Binds. On failure rejects with E_LISTEN_FAILED naming the Service port
   * and address, and keeps retrying in the background (see bindRetryDelayMs)
   * until a bind succeeds or close() is called.
   */
  start(): Promise<void> {
    return new Promise((resolve, reject) => this.attempt(resolve, reject));
  }

  private attempt(resolve: () => void, reject: (err: ProxyError) => void, port = this.plan.port): void {
    const onError = (err: Error): void => {
      this.server.removeListener('listening', onListening);
      if (this.state === 'closed') return;
      this.state = 'failed';
      this.bindFailures++;
      this.lastError = describeError(err);
      const delayMs = bindRetryDelayMs(this.bindFailures);
      const failure = new ProxyError(
        'E_LISTEN_FAILED',
        `${this.plan.servicePort}: cannot listen on ${hostPort(this.plan.address, this.plan.port)}/${this.plan.protocol}: ${this.lastError}; retrying in ${delayMs} ms`,
        { cause: err },
      );
      if (this.bindFailures > 1) this.log.warn({ code: errorCode(err), retryInMs: delayMs, attempts: this.bindFailures }, 'bind failed again');
      this.retryLater(port, delayMs);
      this.onState(this);
      reject(failure);
    };
    const onListening = (): void => {
      this.server.removeListener('error', onError);
      if (this.state === 'closed') {
        this.server.close(); // closed while the bind was in flight
        return;
      }
      this.state = 'listening';
      this.lastError = '';
      this.log.info({ port: this.port, attempts: this.bindFailures + 1 }, 'listening');
      this.bindFailures = 0;
      this.onState(this);
      resolve();
    };
    this.server.once('error', onError);
    this.server.once('listening', onListening);
    // `::` is bound IPv6-only, so that `0.0.0.0` on the same port (a dual-stack Service) can coexist.
    // In a --workers set each worker binds its own socket (exclusive: not through the primary) with
    // SO_REUSEPORT, so each has its own accept queue and the kernel spreads new connections over them
    // (bench/README.md measures it against node:cluster's shared socket). A single process does not set
    // it, so that a second svcproxy on the same port fails with EADDRINUSE instead of sharing it.
    this.server.listen({ host: this.plan.address, port, exclusive: true, reusePort: cluster.isWorker, ipv6Only: this.plan.address === '::' });
  }

  /** Points new connections at another Service port; established ones are untouched. */
  retarget(target: ServicePortProxy): void {
    this.target = target;
  }

  /** Stops accepting. Does not wait for established connections (server.close() would). */
  close(): void {
    if (this.state === 'closed') return;
    const wasListening = this.state === 'listening';
    this.state = 'closed';
    clearTimeout(this.retryTimer);
    if (wasListening) this.server.close();
    this.log.info('listener closed');
    this.onState(this);
  }

  /** After a successful bind the server reports accept errors (EMFILE, ...) here; they must not crash the process. */
  private onServerError(err: Error): void {
    if (this.state !== 'listening') return; // bind errors are handled by listen()
    if (this.storms.acceptError(err)) this.acceptErrors.warn({ code: errorCode(err) }, 'accept failed: out of file descriptors');
    else this.log.error({ code: errorCode(err), err: errorMessage(err) }, 'listener error');
  }

  /** libuv is spinning on accept errors: close the listening socket (which ends its loop) and reopen it later. */
  private pauseAccepting(code: string): void {
    const port = this.port; // the bound port, also when the plan asked for port 0
    this.server.close();
    this.state = 'failed';
    this.bindFailures++;
    this.lastError = `${code}: out of file descriptors; accepting paused`;
    const delayMs = bindRetryDelayMs(this.bindFailures);
    this.log.warn({ code, retryInMs: delayMs }, 'out of file descriptors: accepting paused, the waiting connections reset');
    this.retryLater(port, delayMs);
    this.onState(this);
  }

  /** Binds again after `delayMs` (a bind that failed, or accepting paused at the fd limit). */
  private retryLater(port: number, delayMs: number): void {
    this.retryTimer = setTimeout(
      () =>
        this.attempt(
          () => undefined,
          () => undefined,
          port,
        ),
      delayMs,
    );
  }
}
