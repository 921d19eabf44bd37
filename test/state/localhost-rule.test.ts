import t from 'tap';
import { decideLocalhost, type BoundClaim, type LocalhostCandidate } from '../../src/state/localhost-rule.js';

function candidate(service: string, port: number, address = '127.0.0.1', protocol = 'TCP'): LocalhostCandidate {
  return { owner: service, protocol, address, port, service };
}

function own(owner: string, address: string, port: number, role: BoundClaim['role'] = 'clusterIP'): BoundClaim {
  return { owner, protocol: 'TCP', address, port, role, label: `${owner} (${role} ${address}:${port}/TCP)` };
}

const summary = (d: ReturnType<typeof decideLocalhost>) => d.map((x) => `${x.candidate.service}:${x.candidate.port} ${x.granted ? 'yes' : x.reason}`).sort();

t.test('the only Service port on a port gets the bind address; contenders all lose it', async (t) => {
  t.same(summary(decideLocalhost([candidate('default/web', 80), candidate('default/api', 8080)], [])), ['default/api:8080 yes', 'default/web:80 yes']);
  t.same(summary(decideLocalhost([candidate('default/a', 9080), candidate('default/b', 9080), candidate('default/c', 9080)], [])), [
    'default/a:9080 not published on 127.0.0.1:9080/TCP: Services default/b and default/c use the same port',
    'default/b:9080 not published on 127.0.0.1:9080/TCP: Services default/a and default/c use the same port',
    'default/c:9080 not published on 127.0.0.1:9080/TCP: Services default/a and default/b use the same port',
  ]);
});

t.test('the decision does not depend on the order of the Services', async (t) => {
  const list = [candidate('default/a', 1), candidate('default/b', 1), candidate('default/c', 2)];
  t.same(summary(decideLocalhost(list, [])), summary(decideLocalhost([...list].reverse(), [])));
});

t.test('TCP and UDP on one port do not contend', async (t) => {
  t.same(summary(decideLocalhost([candidate('default/dns', 53, '127.0.0.1', 'UDP'), candidate('default/dns-tcp', 53)], [])), [
    'default/dns-tcp:53 yes',
    'default/dns:53 yes',
  ]);
});

t.test('a listener that must be bound (nodePort, external IP, admin) keeps the address', async (t) => {
  const d = decideLocalhost([candidate('default/web', 30080)], [own('default/np', '127.0.0.1', 30080, 'nodePort')]);
  t.same(summary(d), ['default/web:30080 not published on 127.0.0.1:30080/TCP: taken by default/np (nodePort 127.0.0.1:30080/TCP)']);
});

t.test('a wildcard bind address serves the port of its own Service address, which is then left out', async (t) => {
  const mine = own('default/web', '127.96.0.5', 80);
  const d = decideLocalhost([candidate('default/web', 80, '0.0.0.0')], [mine]);
  t.equal(d[0]?.granted, true);
  t.same(d[0]?.covers, [mine]);
  const other = decideLocalhost([candidate('default/web', 80, '0.0.0.0')], [mine, own('default/api', '127.96.0.6', 80)]);
  t.equal(other[0]?.granted, false, "another Service's own address on the port blocks the wildcard");
  const v6 = decideLocalhost([candidate('default/web', 80, '::')], [mine]);
  t.same([v6[0]?.granted, v6[0]?.covers], [true, []], ':: is IPv6-only: it neither covers nor clashes with an IPv4 address');
});
