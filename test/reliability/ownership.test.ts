/**
 * Every connection and UDP flow belongs to the Service port that admitted it
 * (its lease), whatever a reload does to the listener afterwards. These are
 * the bookkeeping bugs issue 11 found, each of which the lease removes by
 * construction: a retargeted UDP flow decremented the NEW port's count, live
 * bytes were attributed by local port (so a TCP and a UDP Service on one port
 * number swapped figures), and an idle timeout on a half-closed connection was
 * reported as a half-close timeout.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { ServicePortProxy } from '../../src/proxy/service-port-proxy.js';
import { servicePortKey } from '../../src/state/types.js';
import type { Svcproxy } from '../../src/instance/instance.js';
import { scrape, metric } from '../helpers/admin.js';
import { startInstance } from '../helpers/instance.js';
import { dialTo, eventually, freePort, startServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';
import { ask, client, freeUdpPort, udpEcho } from '../helpers/udp.js';

function servicePort(proxy: Svcproxy, name: string, portName = ''): ServicePortProxy {
  const key = servicePortKey('default', name, portName);
  const found = proxy.registry.servicePorts.get(key);
  if (found === undefined) throw new Error(`no Service port ${key}: ${[...proxy.registry.servicePorts.keys()].join(', ')}`);
  return found;
}

function udpService(name: string, port: number, backend: number, annotations = ''): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}${annotations}}
spec:
  ports: [{port: ${port}, protocol: UDP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-0, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{port: ${backend}, protocol: UDP}]
endpoints: [{addresses: [127.0.0.1]}]
`;
}

t.test('a UDP flow whose listener a reload retargets stays counted on the port that admitted it', async (t) => {
  const backend = await udpEcho(t, 'e');
  const port = await freeUdpPort();
  // Long enough that the flow outlives the reload below on a loaded machine (400 ms did not: the reply then came
  // on a new flow of the new port); the expiry is awaited with a deadline.
  const idle = ', annotations: {svcproxy.dev/udp-idle-timeout: 5s}';
  const dir = await configDir(t, { 'dns.yaml': udpService('old', port, backend, idle) });
  const proxy = await startInstance(t, dir);
  const c = await client(t);
  t.equal((await ask(c, port, 'a')).toString(), 'e|a');
  const old = servicePort(proxy, 'old');
  t.equal(old.stats.active, 1);

  // The same address and port now belong to another Service: the listener is retargeted, the flow lives on.
  await writeFile(join(dir, 'dns.yaml'), udpService('new', port, backend, idle));
  t.equal(await proxy.reload('signal'), 'applied');
  const renamed = servicePort(proxy, 'new');
  t.equal((await ask(c, port, 'b')).toString(), 'e|b', 'the established flow still relays');
  t.equal(renamed.stats.active, 0, 'the new port has admitted nothing');

  await eventually(() => old.stats.active === 0, 'the flow to expire', 30_000);
  t.equal(renamed.stats.active, 0, 'closing the old flow does not touch the new port (it went to -1 before)');
  t.equal(old.stats.closed.idle_timeout, 1, 'the idle end is counted on the owner');
  t.same(old.bytes(), { fromDownstream: 2, fromUpstream: 6 }, 'both datagrams and both replies on the owner');
  t.same(renamed.bytes(), { fromDownstream: 0, fromUpstream: 0 });
});

t.test('a TCP and a UDP Service port on one port number keep their own live byte counts', async (t) => {
  const udp = await udpEcho(t, 'u');
  const tcp = await startServer(t, (s) => s.pipe(s));
  const port = await freePort();
  const yaml = `apiVersion: v1
kind: Service
metadata: {name: both}
spec:
  ports:
    - {name: t, port: ${port}, protocol: TCP}
    - {name: u, port: ${port}, protocol: UDP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: both-0, labels: {kubernetes.io/service-name: both}}
addressType: IPv4
ports: [{name: t, port: ${tcp}}, {name: u, port: ${udp}, protocol: UDP}]
endpoints: [{addresses: [127.0.0.1]}]
`;
  const dir = await configDir(t, { 'both.yaml': yaml });
  const proxy = await startInstance(t, dir);
  const conn = await dialTo(t, port);
  conn.write(Buffer.alloc(1000, 1));
  let echoed = 0;
  conn.on('data', (d: Buffer) => (echoed += d.length));
  await eventually(() => echoed === 1000, 'the TCP echo');
  const c = await client(t);
  await ask(c, port, 'xyz');
  const tcpPort = servicePort(proxy, 'both', 't');
  const udpPort = servicePort(proxy, 'both', 'u');
  t.same(tcpPort.bytes(), { fromDownstream: 1000, fromUpstream: 1000 }, 'the open TCP connection counts on the TCP port only');
  t.same(udpPort.bytes(), { fromDownstream: 3, fromUpstream: 5 }, 'the open UDP flow counts on the UDP port only');
  const samples = await scrape(proxy.adminPort);
  t.equal(metric(samples, 'svcproxy_bytes_total', { namespace: 'default', service: 'both', port: 't', direction: 'downstream_rx' }), 1000);
  t.equal(metric(samples, 'svcproxy_bytes_total', { namespace: 'default', service: 'both', port: 'u', direction: 'downstream_rx' }), 3);
  conn.end();
  await once(conn, 'close');
});

/** A Service whose endpoint reads the FIN but never ends its own side: the pair stays half-closed. */
async function halfClosedSetup(t: Test, annotations: string, halfCloseTimeoutMs: number): Promise<{ proxy: Svcproxy; port: number }> {
  const upstream = await startServer(t, (s) => s.resume());
  const port = await freePort();
  const yaml = `apiVersion: v1
kind: Service
metadata: {name: web${annotations}}
spec:
  ports: [{port: ${port}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-0, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{port: ${upstream}}]
endpoints: [{addresses: [127.0.0.1]}]
`;
  const proxy = await startInstance(t, await configDir(t, { 'web.yaml': yaml }), { halfCloseTimeoutMs });
  const conn = await dialTo(t, port);
  conn.end('bye');
  return { proxy, port };
}

t.test('an idle timeout that fires on a half-closed connection is reported as the idle timeout', async (t) => {
  const { proxy } = await halfClosedSetup(t, ', annotations: {svcproxy.dev/idle-timeout: 200ms}', 60_000);
  const web = servicePort(proxy, 'web');
  await eventually(() => web.stats.active === 0, 'the idle timeout to close the half-closed pair');
  t.equal(web.stats.closed.idle_timeout, 1, 'reported as the idle timeout that fired');
  t.equal(web.stats.closed.half_close_timeout, 0);
});

t.test('a half-close timeout is counted, in the stats and the metrics', async (t) => {
  const { proxy, port } = await halfClosedSetup(t, '', 200);
  const web = servicePort(proxy, 'web');
  await eventually(() => web.stats.active === 0, 'the half-close timeout to close the pair');
  t.equal(web.stats.closed.half_close_timeout, 1);
  t.equal(web.stats.closed.idle_timeout, 0);
  const samples = await scrape(proxy.adminPort);
  t.equal(metric(samples, 'svcproxy_closed_connections_total', { namespace: 'default', service: 'web', port: String(port), reason: 'half_close_timeout' }), 1);
});
