/**
 * A bare proxy for testing the pumps below ServicePortProxy: accept (paused,
 * as the listener does), dial one upstream, optionally wait on a hook, then
 * hand the pair to the native pump, or to the JS pump when asked or when the
 * hand-off falls back.
 */
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { dial } from '../../src/proxy/dial.js';
import type { Test } from 'tap';
import type { CarrierOptions, CarrierResult } from '../../src/proxy/carrier.js';
import type { NativeCarrier, NativePump } from '../../src/proxy/native-pump.js';
import { pump, SOCKET_HIGH_WATER_MARK } from '../../src/proxy/pump.js';
import { portOf } from './net.js';
import { failOnLeak } from './proxy.js';

type Finished =
  | { readonly pump: 'native'; readonly result: CarrierResult }
  | { readonly pump: 'js'; readonly result: CarrierResult; readonly fallback: string };

export interface PumpProxyOptions {
  readonly native: NativePump | undefined;
  readonly options?: Partial<CarrierOptions>;
  /** Runs after the dial, before the hand-off (the sockets are as ServicePortProxy.connected() has them). */
  readonly beforeHandOff?: (downstream: Socket, upstream: Socket) => Promise<void> | void;
}

export interface PumpProxy {
  readonly port: number;
  /** One entry per connection, in the order they ended. */
  readonly finished: Finished[];
  /** The native carriers of connections still open. */
  readonly carriers: Set<NativeCarrier>;
  /** Hand-off fallbacks seen, in order. */
  readonly fallbacks: string[];
}

/** Open descriptors of this process. */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

export async function startPumpProxy(t: Test, upstreamPort: number, config: PumpProxyOptions): Promise<PumpProxy> {
  const options: CarrierOptions = { halfCloseTimeoutMs: 60_000, idleTimeoutMs: 0, ...config.options };
  const finished: Finished[] = [];
  const carriers = new Set<NativeCarrier>();
  const fallbacks: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true, highWaterMark: SOCKET_HIGH_WATER_MARK }, (downstream) => {
    downstream.on('error', () => undefined);
    sockets.add(downstream);
    dial('127.0.0.1', upstreamPort, 5000, 0, (err, upstream) => {
      if (upstream === undefined) {
        downstream.destroy(err);
        return;
      }
      upstream.on('error', () => undefined);
      sockets.add(upstream);
      void (async () => {
        await config.beforeHandOff?.(downstream, upstream);
        let fallback = 'js';
        if (config.native !== undefined) {
          const carrier = config.native.handOff(downstream, upstream, options, (result) => {
            carriers.delete(carrier as NativeCarrier);
            finished.push({ pump: 'native', result });
          });
          if (typeof carrier !== 'string') {
            carriers.add(carrier);
            sockets.delete(downstream);
            sockets.delete(upstream);
            return;
          }
          fallback = carrier;
          fallbacks.push(carrier);
        }
        pump(downstream, upstream, options, (result) => {
          sockets.delete(downstream);
          sockets.delete(upstream);
          finished.push({ pump: 'js', result, fallback });
        });
      })();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const open = (): string[] => [
      ...[...carriers].map((c) => `native slot ${c.slot}`),
      ...[...sockets].filter((s) => !s.destroyed).map((s) => `js socket ${s.remotePort ?? 0}`),
    ];
    await failOnLeak(t, open, () => {
      for (const c of carriers) c.abort();
      for (const s of sockets) s.destroy();
    });
    await closed;
  });
  return { port: portOf(server), finished, carriers, fallbacks };
}
