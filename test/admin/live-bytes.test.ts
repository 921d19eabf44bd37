/**
 * Attribution of open connections' bytes to Service ports. The registry
 * here is plain data shaped like the real one (the e2e tests use real
 * sockets); what is checked is the matching and the monotonic guard.
 */
import t from 'tap';
import { ByteMeter } from '../../src/admin/live-bytes.js';
import type { ListenerReadable, RegistryReadable, ServicePortReadable, SocketCounters } from '../../src/admin/view.js';
import { newStats, type ServicePortStats } from '../../src/proxy/stats.js';
import { listenerKey, type ServicePortKey } from '../../src/state/types.js';
import { servicePortPlan } from '../helpers/proxy.js';

/** A Service port whose stats the test writes (the admin's view of them is read-only). */
function servicePort(name: string): ServicePortReadable & { readonly stats: ServicePortStats } {
  return { current: servicePortPlan([], name), stats: newStats(), ejected: () => [] };
}

function listener(servicePort: string, address: string, port: number, state = 'listening'): ListenerReadable {
  return {
    plan: { key: listenerKey('TCP', address, port), servicePort: servicePort as ServicePortKey, protocol: 'TCP', address, port, role: 'bindAddress' },
    state,
    lastError: '',
    port,
  };
}

function registry(ports: ServicePortReadable[], listeners: ListenerReadable[], sockets: SocketCounters[]): RegistryReadable {
  return {
    servicePorts: new Map(ports.map((p) => [p.current.key, p])),
    listeners: new Map(listeners.map((l) => [l.plan.key, l])),
    tracker: { sockets: new Set(sockets) },
  };
}

t.test('open downstream sockets are added to their Service port; upstream sockets are not', async (t) => {
  const web = servicePort('web');
  const api = servicePort('api');
  web.stats.bytesFromDownstream = 1000;
  web.stats.bytesFromUpstream = 2000;
  const reg = registry(
    [web, api],
    [listener('default/web', '127.0.0.1', 8080), listener('default/api', '127.0.0.2', 9090), listener('default/web', '127.0.0.3', 9090), listener('default/api', '::', 7070)],
    [
      { localAddress: '127.0.0.1', localPort: 8080, bytesRead: 10, bytesWritten: 20 }, // web
      { localAddress: '127.0.0.1', localPort: 41234, bytesRead: 20, bytesWritten: 10 }, // its upstream: ignored
      { localAddress: '127.0.0.2', localPort: 9090, bytesRead: 1, bytesWritten: 2 }, // api (shared port, by address)
      { localAddress: '127.0.0.3', localPort: 9090, bytesRead: 100, bytesWritten: 200 }, // web (shared port, by address)
      { localAddress: '::ffff:127.0.0.9', localPort: 7070, bytesRead: 5, bytesWritten: 6 }, // api on the wildcard
      { localAddress: undefined, localPort: undefined, bytesRead: 9, bytesWritten: 9 }, // destroyed: ignored
    ],
  );
  const counts = new ByteMeter().read(reg);
  t.same(counts.get(web), { downstreamRx: 1110, upstreamRx: 2220 });
  t.same(counts.get(api), { downstreamRx: 6, upstreamRx: 8 });
});

t.test('a listener that is not listening attributes nothing', async (t) => {
  const web = servicePort('web');
  const reg = registry([web], [listener('default/web', '127.0.0.1', 8080, 'failed')], [{ localAddress: '127.0.0.1', localPort: 8080, bytesRead: 10, bytesWritten: 20 }]);
  t.same(new ByteMeter().read(reg).get(web), { downstreamRx: 0, upstreamRx: 0 });
});

t.test('counts never go down for a Service port, and a re-created port starts afresh', async (t) => {
  const web = servicePort('web');
  const sockets: SocketCounters[] = [{ localAddress: '127.0.0.1', localPort: 8080, bytesRead: 50, bytesWritten: 60 }];
  const meter = new ByteMeter();
  t.same(meter.read(registry([web], [listener('default/web', '127.0.0.1', 8080)], sockets)).get(web), { downstreamRx: 50, upstreamRx: 60 });
  // The connection was retargeted away: its bytes now count elsewhere; this port keeps its high-water mark.
  t.same(meter.read(registry([web], [listener('default/web', '127.0.0.1', 8080)], [])).get(web), { downstreamRx: 50, upstreamRx: 60 });
  web.stats.bytesFromDownstream = 70;
  t.same(meter.read(registry([web], [], [])).get(web), { downstreamRx: 70, upstreamRx: 60 });
  const again = servicePort('web');
  t.same(meter.read(registry([again], [], [])).get(again), { downstreamRx: 0, upstreamRx: 0 });
});
