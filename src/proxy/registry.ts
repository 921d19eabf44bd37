/**
 * The proxier: owns every live ServicePortProxy and ServiceListener and
 * applies a planned list of changes to them. One failing change (a port that
 * cannot be bound) never stops the others; its error is returned.
 */
import { assertNever, ProxyError } from '../errors.js';
import type { FaultTable } from '../faults/fault-table.js';
import type { Logger } from '../log.js';
import type { Change } from '../state/plan.js';
import type { ListenerKey, ServicePortKey } from '../state/types.js';
import { ConnectionTracker } from './connection-tracker.js';
import type { LeaseObserver } from './port-ledger.js';
import { ServiceListener } from './listener.js';
import { Resolver } from './resolver.js';
import { UdpListener } from './udp-listener.js';
import { ServicePortProxy, type ServicePortContext, type ServicePortOptions } from './service-port-proxy.js';

/** What the instance wires into the registry. */
export interface RegistryHooks {
  /** Live readiness of probed Pods (ProbeManager.isReady); default: none is ready. */
  readonly podReady?: (pod: string) => boolean;
  /** Host-name lookups for FQDN endpoints; default: the system resolver with a cache. */
  readonly resolver?: Resolver;
  /** Told of every connection or flow that ends (the access log). */
  readonly onLeaseEnd?: LeaseObserver | undefined;
  /** The toxics in force (faults/fault-table.ts); none when absent. */
  readonly faults?: FaultTable | undefined;
}

/** A bound socket of either protocol: TCP listeners accept connections, UDP ones relay flows. */
export type Listener = ServiceListener | UdpListener;

export class Registry {
  readonly servicePorts = new Map<ServicePortKey, ServicePortProxy>();
  readonly listeners = new Map<ListenerKey, Listener>();
  /** Every live proxied connection, including those of removed Service ports still running. */
  readonly tracker = new ConnectionTracker();
  /** Set by closeListeners (shutdown): a reload or re-plan still applying stops there. */
  private closed = false;

  /** What every ServicePortProxy shares; ad-hoc forwards (toxiproxy API) use it too. */
  readonly context: ServicePortContext;
  /** Called on every listener state change (bound, failed, closed); the admin feed subscribes. */
  onListenerState: (listener: Listener) => void = () => undefined;

  /** @param hooks what the instance wires in; each has a default (tests pass their own). */
  constructor(
    readonly options: ServicePortOptions,
    private readonly log: Logger,
    hooks: RegistryHooks = {},
  ) {
    const { podReady = () => false, resolver = new Resolver(), onLeaseEnd, faults } = hooks;
    this.context = {
      tracker: this.tracker,
      podReady,
      resolver,
      ...(onLeaseEnd === undefined ? {} : { onLeaseEnd }),
      ...(faults === undefined ? {} : { faults }),
    };
  }

  /** A Pod turned ready or not: the Service ports it backs recompute their usable endpoints. */
  podReadinessChanged(pod: string): void {
    for (const proxy of this.servicePorts.values()) if (proxy.uses(pod)) proxy.refresh();
  }

  /** A probe of `pod` succeeded: passive health stops skipping its endpoints. */
  podProbeSucceeded(pod: string): void {
    for (const proxy of this.servicePorts.values()) if (proxy.uses(pod)) proxy.clearEjections(pod);
  }

  /**
   * Applies changes in order; returns the listeners that failed to bind
   * (they keep retrying on their own until bound or closed).
   */
  async apply(changes: readonly Change[]): Promise<ProxyError[]> {
    const failures: ProxyError[] = [];
    for (const change of changes) {
      if (this.closed) break; // shut down while an earlier change was binding: nothing may open or change now
      try {
        await this.applyOne(change);
      } catch (err: unknown) {
        if (!(err instanceof ProxyError)) throw err; // a broken invariant: crash, tests must see it
        failures.push(err);
      }
    }
    return failures;
  }

  private async applyOne(change: Change): Promise<void> {
    switch (change.op) {
      case 'add-service-port':
        this.servicePorts.set(change.plan.key, new ServicePortProxy(change.plan, this.options, this.context, this.log));
        return;
      case 'update-service-port':
        this.servicePort(change.plan.key).update(change.plan);
        return;
      case 'remove-service-port':
        // Its established connections hold their own references and run to their end.
        this.servicePorts.delete(change.key);
        return;
      case 'open-listener': {
        const target = this.servicePort(change.plan.servicePort);
        const notify = (l: Listener): void => this.onListenerState(l);
        const listener =
          change.plan.protocol === 'UDP' ? new UdpListener(change.plan, target, this.log, notify) : new ServiceListener(change.plan, target, this.log, notify);
        this.listeners.set(change.plan.key, listener);
        await listener.start();
        return;
      }
      case 'retarget-listener':
        this.listener(change.plan.key).retarget(this.servicePort(change.plan.servicePort));
        return;
      case 'close-listener':
        this.listener(change.key).close();
        this.listeners.delete(change.key);
        return;
      default:
        assertNever(change);
    }
  }

  /** A plan that names a Service port we do not have is our bug, not the user's: fail loudly. */
  private servicePort(key: ServicePortKey): ServicePortProxy {
    const found = this.servicePorts.get(key);
    if (found === undefined) throw new Error(`invariant: unknown Service port ${key}`);
    return found;
  }

  private listener(key: ListenerKey): Listener {
    const found = this.listeners.get(key);
    if (found === undefined) throw new Error(`invariant: unknown listener ${key}`);
    return found;
  }

  /** Stops accepting everywhere at once; established connections are left running. */
  closeListeners(): void {
    this.closed = true;
    for (const listener of this.listeners.values()) listener.close();
    this.listeners.clear();
  }

  /** Listeners that are not bound right now (failed and retrying). */
  failedListeners(): Listener[] {
    return [...this.listeners.values()].filter((l) => l.state === 'failed' || l.state === 'binding');
  }
}
