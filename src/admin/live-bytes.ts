/**
 * Byte counts per Service port that include connections still open.
 *
 * The data path adds a connection's bytes to its Service port's stats once,
 * when it closes (no per-byte work). A load test on long-lived connections
 * would then show no throughput until they end. So at scrape or tick time,
 * and only then, this reads the counters Node keeps on every open
 * downstream socket anyway (`bytesRead`, `bytesWritten`) and adds them:
 *
 *   bytes received from clients   = stats.bytesFromDownstream + Σ open downstream.bytesRead
 *   bytes received from endpoints = stats.bytesFromUpstream   + Σ open downstream.bytesWritten
 *
 * (what the pump writes to a client is exactly what it read from the
 * endpoint). A downstream socket is told from an upstream one by its local
 * port: it is a bound listener port, which the kernel never hands out as an
 * ephemeral port for an outgoing connection. When a connection closes, its
 * bytes move from the open sum into the stats total; the result is kept
 * monotonic per Service port in case a retargeted listener moves a
 * connection's bytes between ports.
 */
import type { RegistryReadable, ServicePortReadable } from './view.js';

export interface ByteCounts {
  /** Received from clients (and sent to endpoints). */
  readonly downstreamRx: number;
  /** Received from endpoints (and sent to clients). */
  readonly upstreamRx: number;
}

/** `::ffff:127.0.0.1` (an IPv4 client on a dual-stack socket) is 127.0.0.1. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export class ByteMeter {
  /** The last counts reported per Service port; a WeakMap, so removed ports are forgotten. */
  private readonly reported = new WeakMap<ServicePortReadable, ByteCounts>();

  /** Counts for every current Service port, in-flight bytes included. */
  read(registry: RegistryReadable): Map<ServicePortReadable, ByteCounts> {
    const open = openBytes(registry);
    const result = new Map<ServicePortReadable, ByteCounts>();
    for (const [key, proxy] of registry.servicePorts) {
      const live = open.get(key);
      const last = this.reported.get(proxy);
      const counts: ByteCounts = {
        downstreamRx: Math.max(last?.downstreamRx ?? 0, proxy.stats.bytesFromDownstream + (live?.downstreamRx ?? 0)),
        upstreamRx: Math.max(last?.upstreamRx ?? 0, proxy.stats.bytesFromUpstream + (live?.upstreamRx ?? 0)),
      };
      this.reported.set(proxy, counts);
      result.set(proxy, counts);
    }
    return result;
  }
}

/** Bytes of open connections per Service port key, from their downstream sockets. */
function openBytes(registry: RegistryReadable): Map<string, ByteCounts> {
  const byPort = new Map<number, Array<{ address: string; servicePort: string }>>();
  for (const l of registry.listeners.values()) {
    if (l.state !== 'listening') continue;
    const list = byPort.get(l.port) ?? [];
    list.push({ address: l.plan.address, servicePort: l.plan.servicePort });
    byPort.set(l.port, list);
  }
  const totals = new Map<string, { downstreamRx: number; upstreamRx: number }>();
  if (byPort.size === 0) return totals;
  for (const socket of registry.tracker.sockets) {
    const candidates = socket.localPort === undefined ? undefined : byPort.get(socket.localPort);
    if (candidates === undefined) continue; // an upstream socket (or one already closed)
    // Listeners share a port only on distinct specific addresses (a wildcard bind takes the port on every address).
    const local = plainAddress(socket.localAddress ?? '');
    const listener = candidates.length === 1 ? candidates[0] : candidates.find((c) => c.address === local);
    if (listener === undefined) continue;
    const sum = totals.get(listener.servicePort) ?? { downstreamRx: 0, upstreamRx: 0 };
    sum.downstreamRx += socket.bytesRead;
    sum.upstreamRx += socket.bytesWritten;
    totals.set(listener.servicePort, sum);
  }
  return totals;
}
