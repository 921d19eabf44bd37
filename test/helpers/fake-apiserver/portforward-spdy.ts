/** Placeholder until the SPDY session (src/spdy/) is merged. */
import type { Duplex } from 'node:stream';
import type { ForwardContext, PortForwardProtocol, PortForwardSession } from './portforward-common.js';

export function serveSpdy(options: {
  readonly transport: Duplex;
  readonly raw: Duplex;
  readonly protocol: PortForwardProtocol;
  readonly forward: ForwardContext;
}): PortForwardSession & { readonly closed: Promise<void> } {
  options.raw.destroy();
  return { pod: options.forward.pod, protocol: options.protocol, streams: () => 0, kill: () => undefined, inject: () => false, closed: Promise.resolve() };
}
