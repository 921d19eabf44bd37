/**
 * One bound TCP socket (address, port) feeding one ServicePortProxy. The
 * target can be swapped without rebinding; closing stops accepting and
 * leaves established connections to run to their end, as kube-proxy did.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { errorCode, errorMessage, ProxyError } from '../errors.js';
import type { Logger } from '../log.js';
import { hostPort, type ListenerPlan } from '../state/types.js';
import type { ServicePortProxy } from './service-port-proxy.js';

export type ListenerState = 'binding' | 'listening' | 'failed' | 'closed';

export class ServiceListener {
  private readonly server: Server;
  private readonly log: Logger;
  state: ListenerState = 'binding';
  /** The last bind error, for the logs and the admin view. */
  lastError = '';

  constructor(
    readonly plan: ListenerPlan,
    private target: ServicePortProxy,
    log: Logger,
  ) {
    this.log = log.child({ listener: plan.key, servicePort: plan.servicePort });
    // pauseOnConnect: no client byte is read before an upstream exists to take it.
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket: Socket) => {
      this.target.accept(socket);
    });
    this.server.on('error', (err) => this.onServerError(err));
  }

  /** The bound port (differs from plan.port only when the plan asked for port 0, as tests do). */
  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : this.plan.port;
  }

  /** Binds; rejects with E_LISTEN_FAILED naming the Service port and address. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        this.state = 'failed';
        this.lastError = `${errorCode(err) || 'error'}: ${errorMessage(err)}`;
        reject(
          new ProxyError(
            'E_LISTEN_FAILED',
            `${this.plan.servicePort}: cannot listen on ${hostPort(this.plan.address, this.plan.port)}/${this.plan.protocol}: ${this.lastError}`,
            { cause: err },
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen({ host: this.plan.address, port: this.plan.port, exclusive: true }, () => {
        this.server.removeListener('error', onError);
        this.state = 'listening';
        this.lastError = '';
        this.log.info({ port: this.port }, 'listening');
        resolve();
      });
    });
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
    if (wasListening) this.server.close();
    this.log.info('listener closed');
  }

  /** After a successful bind the server reports accept errors (EMFILE, ...) here; they must not crash the process. */
  private onServerError(err: Error): void {
    if (this.state !== 'listening') return; // bind errors are handled by listen()
    this.log.error({ code: errorCode(err), err: errorMessage(err) }, 'listener error');
  }
}
