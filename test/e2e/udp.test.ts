/**
 * UDP Service ports: flows per client address, replies relayed back,
 * affinity, whole 60 KiB datagrams, idle expiry, a bound on flows, and TCP
 * and UDP on one port number.
 */
import t from 'tap';
import { startInstance } from '../helpers/instance.js';
import { eventually, request, startServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';
import { ask, client, freeUdpPort, udpEcho } from '../helpers/udp.js';

function udpService(port: number, backends: number[], extraSpec = '', meta = ''): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: dns
${meta}spec:
${extraSpec}  ports: [{name: dns, port: ${port}, protocol: UDP}]
${backends
  .map(
    (b, i) => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dns-${i}, labels: {kubernetes.io/service-name: dns}}
addressType: IPv4
ports: [{name: dns, port: ${b}, protocol: UDP}]
endpoints: [{addresses: [127.0.0.1]}]
`,
  )
  .join('')}`;
}

t.test('a UDP round trip through the Service port; one client address stays on one flow', async (t) => {
  const a = await udpEcho(t, 'a');
  const b = await udpEcho(t, 'b');
  const port = await freeUdpPort();
  const dir = await configDir(t, { 'dns.yaml': udpService(port, [a, b]) });
  const proxy = await startInstance(t, dir);
  const c = await client(t);
  const first = (await ask(c, port, 'q1')).toString();
  t.match(first, /^[ab]\|q1$/);
  t.equal((await ask(c, port, 'q2')).toString().split('|')[0], first.split('|')[0], 'the same flow, the same endpoint');
  const other = await client(t);
  t.not((await ask(other, port, 'q3')).toString().split('|')[0], first.split('|')[0], 'another client address gets the next endpoint');
  const sp = [...proxy.registry.servicePorts.values()][0];
  t.equal(sp?.stats.connections, 2, 'two flows');
  t.equal(sp?.bytes().fromDownstream, 6, 'bytes of open flows count');
});

t.test('UDP with ClientIP affinity: every flow from one IP goes to one endpoint', async (t) => {
  const ends = [await udpEcho(t, 'a'), await udpEcho(t, 'b'), await udpEcho(t, 'c')];
  const port = await freeUdpPort();
  const dir = await configDir(t, { 'dns.yaml': udpService(port, ends, '  sessionAffinity: ClientIP\n') });
  await startInstance(t, dir);
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const c = await client(t, '127.0.0.2'); // a new source port each time: a new flow, the same client IP
    seen.add((await ask(c, port, 'q')).toString().split('|')[0] ?? '');
  }
  t.equal(seen.size, 1);
});

t.test('a 60 KiB datagram arrives whole, both ways', async (t) => {
  const a = await udpEcho(t, 'a');
  const port = await freeUdpPort();
  const dir = await configDir(t, { 'dns.yaml': udpService(port, [a]) });
  await startInstance(t, dir);
  const c = await client(t);
  const big = Buffer.alloc(60 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  const reply = await ask(c, port, big);
  t.equal(reply.length, big.length + 2);
  t.ok(reply.subarray(2).equals(big), 'byte for byte');
});

t.test('an idle flow expires; the next datagram opens a new one', async (t) => {
  const a = await udpEcho(t, 'a');
  const port = await freeUdpPort();
  const dir = await configDir(t, { 'dns.yaml': udpService(port, [a], '', '  annotations: {svcproxy.dev/udp-idle-timeout: 200ms}\n') });
  const proxy = await startInstance(t, dir);
  const sp = [...proxy.registry.servicePorts.values()][0];
  const c = await client(t);
  await ask(c, port, 'x');
  t.equal(sp?.stats.active, 1);
  await eventually(() => sp?.stats.active === 0, 'the flow to expire');
  t.equal(sp?.stats.closed.idle_timeout, 1);
  t.equal((await ask(c, port, 'y')).toString(), 'a|y');
  t.equal(sp?.stats.connections, 2);
});

t.test('flows are bounded per listener: the oldest is evicted', async (t) => {
  const a = await udpEcho(t, 'a');
  const port = await freeUdpPort();
  const dir = await configDir(t, { 'dns.yaml': udpService(port, [a], '', '  annotations: {svcproxy.dev/udp-max-flows: "2"}\n') });
  const proxy = await startInstance(t, dir);
  for (let i = 0; i < 4; i++) await ask(await client(t), port, `${i}`);
  const sp = [...proxy.registry.servicePorts.values()][0];
  t.equal(sp?.stats.active, 2);
  t.equal(sp?.stats.connections, 4);
});

t.test('TCP and UDP on the same port number coexist', async (t) => {
  const udp = await udpEcho(t, 'udp');
  const tcp = await startServer(t, (s) => s.end('tcp'));
  const port = await freeUdpPort(); // free in TCP too
  const yaml = `apiVersion: v1
kind: Service
metadata: {name: dns}
spec:
  ports:
    - {name: dns-udp, port: ${port}, protocol: UDP}
    - {name: dns-tcp, port: ${port}, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dns-0, labels: {kubernetes.io/service-name: dns}}
addressType: IPv4
ports: [{name: dns-udp, port: ${udp}, protocol: UDP}, {name: dns-tcp, port: ${tcp}}]
endpoints: [{addresses: [127.0.0.1]}]
`;
  const dir = await configDir(t, { 'dns.yaml': yaml });
  await startInstance(t, dir);
  t.equal((await ask(await client(t), port, 'q')).toString(), 'udp|q');
  t.equal((await request(port)).data.toString(), 'tcp');
});

t.test('a UDP endpoint that refuses (ICMP port unreachable) drops the flow and counts the failure', async (t) => {
  const dead = await freeUdpPort();
  const port = await freeUdpPort();
  const dir = await configDir(t, { 'dns.yaml': udpService(port, [dead]) });
  const proxy = await startInstance(t, dir);
  const sp = [...proxy.registry.servicePorts.values()][0];
  const c = await client(t);
  c.send('x', port, '127.0.0.1');
  await eventually(() => (sp?.stats.connectFailures ?? 0) >= 1 && sp?.stats.active === 0, 'the flow to fail');
  c.send('y', port, '127.0.0.1');
  await eventually(() => sp?.stats.connections === 2, 'a new flow for the next datagram');
});
