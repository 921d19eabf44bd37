/** One endpoint as the data path dials it, built from a plan's endpoint by its Service port. */
export interface Upstream {
  /** `host:port`, the identity the balancer keys on. */
  readonly id: string;
  /** An IP address, or a host name resolved when dialled. */
  readonly host: string;
  readonly port: number;
  /** `namespace/name` of its Pod, '' when hand-written. */
  readonly pod: string;
  /** `host` is an IP literal: no lookup needed. */
  readonly literal: boolean;
  /** Reached through the port-forwarder (a cluster Pod, --pod-network portforward), not dialled. */
  readonly portForward?: boolean;
}
