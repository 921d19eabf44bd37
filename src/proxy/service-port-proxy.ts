/**
 * One Service port as the registry and its listeners hold it: its policy
 * (ServicePort: admission, picker, ledger; what UDP flows use too) plus its
 * TCP forwarder (TcpForwarder: dial with retries, then a carrier). A TCP
 * listener hands it accepted sockets; a UDP listener uses only the policy.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { ServicePortPlan } from '../state/types.js';
import { ServicePort, type ServicePortContext, type ServicePortOptions } from './service-port.js';
import { TcpForwarder } from './tcp-forwarder.js';

export type { ServicePortContext, ServicePortOptions } from './service-port.js';
export { DIAL_TIMEOUTS_MS } from './tcp-forwarder.js';

export class ServicePortProxy extends ServicePort {
  private readonly tcp: TcpForwarder;

  constructor(plan: ServicePortPlan, options: ServicePortOptions, context: ServicePortContext, log: Logger) {
    super(plan, options, context, log);
    this.tcp = new TcpForwarder(this);
  }

  /** Takes an accepted (paused) client socket from a listener. */
  accept(downstream: Socket): void {
    this.tcp.accept(downstream);
  }
}
