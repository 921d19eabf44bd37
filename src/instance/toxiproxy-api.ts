/**
 * The toxiproxy-compatible API (`--toxiproxy-address`): a server of its own
 * over the instance's registry and fault table, built and bound here so the
 * instance only composes it.
 */
import type { FaultTable } from '../faults/fault-table.js';
import type { Logger } from '../log.js';
import type { Registry } from '../proxy/registry.js';
import { ProxyCollection } from '../toxiproxy/proxy-collection.js';
import { ToxiproxyServer } from '../toxiproxy/server.js';
import { isLoopbackHost } from '../loopback.js';
import type { InstanceConfig } from './config.js';

/** The API when the config asks for one. */
export function toxiproxyApi(config: InstanceConfig, registry: Registry, faults: FaultTable, log: Logger): ToxiproxyServer | undefined {
  if (config.toxiproxy === undefined) return undefined;
  const api = log.child({ component: 'toxiproxy-api' });
  const collection = new ProxyCollection({
    source: registry,
    faults,
    forwardOptions: registry.options,
    context: registry.context,
    log: api,
    allowRemote: config.toxiproxyAllowRemote === true,
  });
  return new ToxiproxyServer(collection, api);
}

/** Binds the API (a fatal error when it cannot); warns when anyone beyond this machine can reach it. Returns the bound port. */
export async function listenToxiproxy(server: ToxiproxyServer, config: InstanceConfig, log: Logger): Promise<number> {
  if (config.toxiproxy === undefined) return 0;
  const { host, port } = config.toxiproxy;
  const bound = await server.listen(host, port);
  if (!isLoopbackHost(host))
    log.warn({ address: `${host}:${bound}` }, 'toxiproxy API on a non-loopback address: anyone who reaches it can add faults to traffic');
  log.info({ address: `${host}:${bound}` }, 'toxiproxy API listening');
  return bound;
}
