/**
 * A forward created through the toxiproxy-compatible API (`POST /proxies`):
 * one listener, one upstream `host:port`, like a toxiproxy proxy. It is a
 * ServicePortProxy with a one-endpoint plan behind a ServiceListener, so it
 * gets the same pump, dial retries and toxics as a Service port; its key
 * (`toxiproxy:<name>`) cannot collide with a Service port's
 * (`namespace/name[:port]`). Its connections are tracked on their own, so
 * turning it off or deleting it can reset them, as toxiproxy does.
 */
import type { Logger } from '../log.js';
import { DEFAULT_POLICY, hostPort, listenerKey, type ServicePortKey, type ServicePortPlan } from '../state/types.js';
import { ConnectionTracker } from './connection-tracker.js';
import { ServiceListener } from './listener.js';
import { ServicePortProxy, type ServicePortContext, type ServicePortOptions } from './service-port-proxy.js';

/** The FaultTable / ServicePortProxy key of an API-created forward. */
function adHocKey(name: string): ServicePortKey {
  return `toxiproxy:${name}` as ServicePortKey;
}

/** What an API-created forward is made of: toxiproxy's `name`, `listen` and `upstream`, and the process's shared parts. */
export interface AdHocForwardSpec {
  readonly name: string;
  readonly listenHost: string;
  readonly listenPort: number;
  readonly upstreamHost: string;
  readonly upstreamPort: number;
  readonly options: ServicePortOptions;
  readonly context: ServicePortContext;
  readonly log: Logger;
}

export class AdHocForward {
  readonly key: ServicePortKey;
  readonly name: string;
  readonly listenHost: string;
  readonly listenPort: number;
  readonly upstreamHost: string;
  readonly upstreamPort: number;
  private readonly options: ServicePortOptions;
  private readonly context: ServicePortContext;
  private readonly log: Logger;
  private readonly tracker = new ConnectionTracker();
  private listener: ServiceListener | undefined;
  private proxy: ServicePortProxy | undefined;

  constructor(spec: AdHocForwardSpec) {
    this.name = spec.name;
    this.listenHost = spec.listenHost;
    this.listenPort = spec.listenPort;
    this.upstreamHost = spec.upstreamHost;
    this.upstreamPort = spec.upstreamPort;
    this.options = spec.options;
    this.context = spec.context;
    this.log = spec.log;
    this.key = adHocKey(spec.name);
  }

  /** `host:port` as bound (the real port once listening), as toxiproxy reports `listen`. */
  get listen(): string {
    return hostPort(this.listenHost, this.listener?.port ?? this.listenPort);
  }

  get upstream(): string {
    return hostPort(this.upstreamHost, this.upstreamPort);
  }

  get enabled(): boolean {
    return this.listener !== undefined;
  }

  /** Binds; on failure rejects with the bind error and leaves nothing listening or retrying. */
  async start(): Promise<void> {
    if (this.listener !== undefined) return;
    const plan: ServicePortPlan = {
      key: this.key,
      namespace: '',
      service: this.name,
      portName: '',
      port: this.listenPort,
      protocol: 'TCP',
      targetPort: String(this.upstreamPort),
      endpoints: [
        {
          host: this.upstreamHost,
          port: this.upstreamPort,
          ready: true,
          serving: true,
          terminating: false,
          source: 'Endpoints',
          pod: '',
          probed: false,
          hostname: '',
        },
      ],
      publishNotReadyAddresses: false,
      nodePort: 0,
      policy: DEFAULT_POLICY,
    };
    this.proxy = new ServicePortProxy(plan, this.options, { ...this.context, tracker: this.tracker }, this.log);
    const role = 'bindAddress' as const;
    const listener = new ServiceListener(
      {
        key: listenerKey('TCP', this.listenHost, this.listenPort),
        servicePort: this.key,
        protocol: 'TCP',
        address: this.listenHost,
        port: this.listenPort,
        role,
      },
      this.proxy,
      this.log,
    );
    try {
      await listener.start();
    } catch (err: unknown) {
      listener.close(); // no retrying in the background: the API call fails instead
      throw err;
    }
    this.listener = listener;
  }

  /** Stops listening and resets the forward's connections (toxiproxy drops them too). */
  stop(): void {
    this.listener?.close();
    this.listener = undefined;
    this.tracker.resetAll();
  }

  /** Connections open now (for tests and the API's view). */
  get active(): number {
    return this.tracker.active;
  }
}
