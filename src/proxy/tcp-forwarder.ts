/**
 * The TCP forwarder of one Service port: takes an accepted (paused) client
 * socket from a listener, has the port admit it (a Lease), dials an endpoint
 * the port picks (on failure the next one, with a longer timeout:
 * kube-proxy's 250/500/1000/2000 ms), writes a PROXY header if the policy
 * asks, and hands the pair to a carrier (carrier.ts), which ends the lease
 * through the one done-handler here.
 *
 *   accept -> admit -> pick -> resolve -> dial --(fail: next endpoint)--> handOff -> carrier -> carried -> lease.end
 *
 * A cluster endpoint with --pod-network portforward is not dialled: the
 * port's PortForwarder (forwarded.ts, src/portforward/) opens a stream to
 * its Pod through the API server, within the same per-attempt timeout; a
 * stream that cannot be opened is a failed dial (the next endpoint, passive
 * health), and the stream then stands where the endpoint's socket would.
 *
 * Which carrier, decided once per connection when the endpoint is known:
 * the toxic pump when the connection met toxics (or the toxiproxy API may
 * add some), else the native pump when there is one, the endpoint is a
 * dialled socket and it takes the pair, else the JS pump.
 *
 * Per connection the work is fixed and small: one pick, at most four dials,
 * a few listeners, one closure for the carrier's end, counters added once at
 * close. Nothing here waits in a way that blocks accepting.
 */
import type { Socket } from 'node:net';
import type { ConnectionChain } from '../faults/types.js';
import type { CarrierDone, CarrierResult } from './carrier.js';
import { dial } from './dial.js';
import type { UpstreamSocket } from './forwarded.js';
import type { Lease, RejectReason } from './lease.js';
import { proxyHeaderV1, proxyHeaderV2 } from './proxy-protocol.js';
import { pump } from './pump.js';
import { clientIp, type ServicePort } from './service-port.js';
import { toxicPump } from './toxic-pump.js';
import type { Upstream } from './upstream.js';

/** kube-proxy's EndpointDialTimeouts: one endpoint per attempt, worst case 3.75 s. */
export const DIAL_TIMEOUTS_MS: readonly number[] = [250, 500, 1000, 2000];

/** The endpoint's side of a connection: a dialled socket (`socket` too), or a port-forward stream (`socket` undefined). */
interface Reached {
  readonly upstream: UpstreamSocket;
  readonly socket: Socket | undefined;
}

function ignoreEarlyError(): void {
  // Before a carrier takes over, a client error only means the client is gone;
  // the dial callback sees `destroyed` and drops the upstream.
}

export class TcpForwarder {
  constructor(private readonly port: ServicePort) {}

  /** Takes an accepted (paused) client socket from a listener. */
  accept(downstream: Socket): void {
    downstream.on('error', ignoreEarlyError);
    const port = this.port;
    if (port.faults?.isDown(port.key) === true) {
      downstream.resetAndDestroy(); // a proxy turned off through the toxiproxy API: as if nothing listened
      return;
    }
    const ip = port.needsClientIp ? clientIp(downstream.remoteAddress) : '';
    const lease = port.admit('TCP', ip, ip === '' ? 0 : (downstream.remotePort ?? 0));
    if (!lease.admitted) {
      downstream.resetAndDestroy();
      return;
    }
    lease.dialling(downstream);
    this.attempt(lease, downstream, 0);
  }

  private attempt(lease: Lease, downstream: Socket, attempt: number): void {
    const port = this.port;
    const upstream = port.pick(lease.clientAddress, attempt > 0);
    if (upstream === undefined) {
      this.refuseAfterAdmission(lease, downstream, 'no_endpoints');
      return;
    }
    const dialStarted = performance.now();
    const timeouts = port.dialTimeoutsMs;
    const failed = (err: unknown): void => {
      port.dialFailed(upstream, attempt, err);
      if (downstream.destroyed) this.clientLeft(lease);
      else if (attempt + 1 < timeouts.length) this.attempt(lease, downstream, attempt + 1);
      else this.refuseAfterAdmission(lease, downstream, 'dial_failed');
    };
    const timeoutMs = timeouts[attempt] ?? 1000;
    const forwarder = port.portForwarder;
    if (upstream.portForward === true && forwarder !== undefined) {
      forwarder.open(upstream.pod, upstream.port, timeoutMs, (err, stream) => {
        if (stream === undefined) failed(err);
        else this.connected(lease, downstream, { upstream: stream, socket: undefined }, upstream, performance.now() - dialStarted);
      });
      return;
    }
    port.resolve(upstream, (err, address) => {
      if (err !== null) {
        failed(err);
        return;
      }
      dial(address, upstream.port, timeoutMs, port.keepAliveMs, (dialErr, socket) => {
        if (socket === undefined) failed(dialErr);
        else this.connected(lease, downstream, { upstream: socket, socket }, upstream, performance.now() - dialStarted);
      });
    });
  }

  /** The client reset or the drain reset it while its endpoint was being dialled. */
  private clientLeft(lease: Lease): void {
    lease.end(lease.aborted ? 'drain' : 'client_gone');
  }

  /** Reset, as iptables-mode kube-proxy's REJECT: the client learns at once rather than waiting. */
  private refuseAfterAdmission(lease: Lease, downstream: Socket, reason: RejectReason): void {
    if (!downstream.destroyed) downstream.resetAndDestroy();
    if (lease.aborted) lease.end('drain');
    else this.port.reject(lease, reason);
  }

  private connected(lease: Lease, downstream: Socket, reached: Reached, endpoint: Upstream, connectMs: number): void {
    const socket = reached.upstream;
    if (downstream.destroyed) {
      socket.on('error', ignoreEarlyError);
      socket.destroy(); // the client left while we were dialling
      this.clientLeft(lease);
      return;
    }
    const port = this.port;
    port.dialSucceeded(endpoint);
    port.connectedTo(lease, endpoint, connectMs);
    const version = port.policy.proxyProtocol;
    if (version !== '') {
      // Before any client byte: the client socket is still paused (pauseOnConnect).
      const addresses = {
        sourceAddress: downstream.remoteAddress ?? '',
        sourcePort: downstream.remotePort ?? 0,
        destinationAddress: downstream.localAddress ?? '',
        destinationPort: downstream.localPort ?? 0,
      };
      socket.write(version === 'v1' ? proxyHeaderV1(addresses) : proxyHeaderV2(addresses));
    }
    this.handOff(lease, downstream, reached, endpoint);
  }

  /**
   * Picks the carrier and gives it the pair. Faults are decided here, once
   * per connection (the endpoint is known now, for Pod targets). A port
   * without faults gets undefined after one map lookup: no per-chunk cost,
   * and the native pump may take it.
   */
  private handOff(lease: Lease, downstream: Socket, reached: Reached, endpoint: Upstream): void {
    const { upstream, socket } = reached;
    const port = this.port;
    const faults = port.faults?.forConnection(port.key, endpoint, Date.now());
    if (faults === 'down') {
      // Turned off through the toxiproxy API while this connection was being dialled: reset both, no carrier.
      const bytes = { fromDownstream: downstream.bytesRead, fromUpstream: upstream.bytesRead };
      upstream.on('error', ignoreEarlyError);
      downstream.resetAndDestroy();
      upstream.resetAndDestroy();
      lease.end('drain', bytes);
      return;
    }
    downstream.removeListener('error', ignoreEarlyError); // the carrier listens from here
    const options = port.carrierOptions;
    if (!nativeEligible(faults)) {
      // Toxics act on the bytes in JS, now or (toxiproxy API) later: the toxic pump, never the native one.
      for (const f of faults.toxics) if (f.active) lease.met(f.spec.name);
      const toxic = toxicPump({ downstream, upstream, options, chain: faults, done: (r) => this.carried(lease, r), met: (name) => lease.met(name) });
      lease.carry(toxic, downstream, socket);
      return;
    }
    const done: CarrierDone = (result) => this.carried(lease, result);
    const native = port.nativePump;
    // A port-forward stream has no descriptor to splice: the JS pump carries it.
    if (native !== undefined && socket !== undefined) {
      const carrier = native.handOff(downstream, socket, options, done);
      // The addon owns the descriptors now and both net.Sockets are destroyed: the lease keeps only the carrier.
      if (typeof carrier !== 'string') {
        lease.carry(carrier);
        return;
      }
      // Not handed off (fd limit, a write still queued...): counted by the native pump; the JS pump carries on.
    }
    lease.carry(pump(downstream, upstream, options, done), downstream, socket);
  }

  /** The one done-handler: every carrier's end comes here, once per connection. */
  private carried(lease: Lease, result: CarrierResult): void {
    lease.end(result.end, { fromDownstream: result.bytesFromDownstream, fromUpstream: result.bytesFromUpstream }, result.errorCode);
    const port = this.port;
    if (port.debug) {
      port.log.debug({ reason: result.end, code: result.errorCode, rx: result.bytesFromDownstream, tx: result.bytesFromUpstream }, 'connection closed');
    }
  }
}

/**
 * Whether the native pump may carry a connection: it moves bytes without JS
 * ever seeing them, so anything that must act on the bytes in JS keeps a JS
 * carrier. Today that is a fault (toxic, issue 15): the fault table answered
 * with a chain, because the connection met a toxic, or because the
 * toxiproxy API is on and may add one to it while it is open (toxiproxy
 * applies new toxics to established connections). Only when the table
 * answered nothing (no toxic, no API: the fast path) may it go native.
 */
function nativeEligible(faults: ConnectionChain | undefined): faults is undefined {
  return faults === undefined;
}
