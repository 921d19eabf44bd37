import { randomBytes } from 'node:crypto';
import { decode, encode, type RecordType } from 'dns-packet';
import t from 'tap';
import { answerQuery } from '../../src/dns/answer.js';
import { dashedName, expandIpv6, reverseName } from '../../src/dns/zone.js';
import { ask, data, servicesOf, zoneOf } from '../helpers/dns.js';
import { DNS_CONFIG } from './fixtures.js';

const services = servicesOf(DNS_CONFIG);
const web = services.get('default/web')?.addresses[0] ?? '';
const api = services.get('shop/api')?.addresses[0] ?? '';
const zone = zoneOf(DNS_CONFIG, (pod) => pod === 'default/db-2');
const FQDN = 'web.default.svc.cluster.local';

t.test('A for a ClusterIP Service: its own address from the range, authoritative, TTL 5', async (t) => {
  t.match(web, /^127\.96\.\d+\.\d+$/);
  const r = ask(zone, FQDN, 'A');
  t.equal(r.rcode, 'NOERROR');
  t.ok(r.aa);
  t.same(data(r), [`A ${web}`]);
  t.equal(r.answers[0]?.name, FQDN);
  t.equal((r.answers[0] as { ttl?: number }).ttl, 5);
});

t.test("short forms a Pod's search path expands, case-insensitive, answered under the name asked", async (t) => {
  for (const name of ['web', 'web.default', 'web.default.svc', 'WEB.Default.SVC.cluster.local.']) {
    const r = ask(zone, name, 'A');
    t.same([r.rcode, data(r)], ['NOERROR', [`A ${web}`]], name);
    t.equal(r.answers[0]?.name, name.replace(/\.$/, ''));
  }
  t.same(data(ask(zone, 'api.shop', 'A')), [`A ${api}`]);
  t.same(data(ask(zone, 'api', 'A')), [`A ${api}`], 'a bare name found in exactly one namespace');
});

t.test('AAAA: NODATA for an IPv4-only Service, the address for a dual-stack one', async (t) => {
  const r = ask(zone, FQDN, 'AAAA');
  t.same([r.rcode, r.answers.length, r.authorities[0]?.type], ['NOERROR', 0, 'SOA']);
  t.same(data(ask(zone, 'dual.default.svc.cluster.local', 'AAAA')), ['AAAA ::1']);
  t.same(data(ask(zone, 'dual.default.svc.cluster.local', 'A')), ['A 127.0.0.70']);
});

t.test('a clusterIP copied from a real cluster is answered with the mapped address', async (t) => {
  const mapped = services.get('default/copied');
  t.same(mapped?.mappedFrom, ['10.96.0.10']);
  t.same(data(ask(zone, 'copied', 'A')), [`A ${mapped?.addresses[0] ?? ''}`]);
});

t.test('SRV for named ports only, with the target address in the additional section', async (t) => {
  const r = ask(zone, '_http._tcp.web.default.svc.cluster.local', 'SRV');
  t.same(
    r.answers.map((a) => a.type === 'SRV' && a.data),
    [{ priority: 0, weight: 100, port: 80, target: FQDN }],
  );
  t.same(data({ ...r, answers: r.additionals }), [`A ${web}`]);
  t.same(
    ask(zone, '_dns._udp.web', 'SRV').answers.map((a) => a.type === 'SRV' && a.data.port),
    [53],
  );
  t.equal(ask(zone, '_http._udp.web.default.svc.cluster.local', 'SRV').rcode, 'NXDOMAIN', 'no UDP port named http');
});

t.test('headless: the ready endpoints, per-Pod hostnames, SRV per endpoint', async (t) => {
  t.same(data(ask(zone, 'db.default.svc.cluster.local', 'A')), ['A 127.0.50.1', 'A 127.0.50.2', 'A 127.0.50.3']);
  t.same(data(ask(zone, 'db-0.db.default.svc.cluster.local', 'A')), ['A 127.0.50.1']);
  t.same(data(ask(zone, '127-0-50-2.db.default.svc.cluster.local', 'A')), ['A 127.0.50.2'], 'no hostname: the dashed IP, as CoreDNS names it');
  const srv = ask(zone, '_mysql._tcp.db', 'SRV')
    .answers.map((a) => (a.type === 'SRV' ? `${a.data.weight} ${a.data.port} ${a.data.target}` : ''))
    .sort();
  t.same(srv, ['33 3306 db-0.db.default.svc.cluster.local', '33 3306 db-2.db.default.svc.cluster.local', '33 3307 127-0-50-2.db.default.svc.cluster.local']);
  const notReady = zoneOf(DNS_CONFIG, () => false);
  t.same(data(ask(notReady, 'db', 'A')), ['A 127.0.50.1', 'A 127.0.50.2'], 'a probed Pod that is not ready is left out');
  t.equal(ask(notReady, 'db-2.db.default.svc.cluster.local', 'A').rcode, 'NXDOMAIN');
  t.same(data(ask(zone, 'one.legacy', 'A')), ['A 127.0.60.1'], 'hostname from Endpoints');
  t.equal(ask(zone, 'empty.default.svc.cluster.local', 'A').rcode, 'NXDOMAIN', 'no ready endpoint: NXDOMAIN, as the spec says');
});

t.test('PTR for the addresses handed out; NXDOMAIN inside the range; REFUSED elsewhere', async (t) => {
  t.same(data(ask(zone, reverseName(web), 'PTR')), [`PTR ${FQDN}`]);
  t.same(data(ask(zone, '1.50.0.127.in-addr.arpa', 'PTR')), ['PTR db-0.db.default.svc.cluster.local']);
  t.same(data(ask(zone, reverseName('::1'), 'PTR')), ['PTR dual.default.svc.cluster.local']);
  t.equal(ask(zone, '254.255.96.127.in-addr.arpa', 'PTR').rcode, 'NXDOMAIN');
  t.equal(ask(zone, '8.8.8.8.in-addr.arpa', 'PTR').rcode, 'REFUSED');
  t.equal(ask(zone, '96.127.in-addr.arpa', 'PTR').rcode, 'REFUSED');
});

t.test('ExternalName: a CNAME for any type; dns-version TXT', async (t) => {
  t.same(data(ask(zone, 'search.default.svc.cluster.local', 'A')), ['CNAME example.com']);
  t.same(data(ask(zone, 'dns-version.cluster.local', 'TXT')), ['TXT 1.1.0']);
  t.same(data(ask(zone, 'cluster.local', 'SOA')).length, 1);
});

t.test('NXDOMAIN inside the cluster domain, REFUSED outside (not a recursive resolver)', async (t) => {
  const nx = ask(zone, 'nope.default.svc.cluster.local', 'A');
  t.same([nx.rcode, nx.aa, nx.authorities[0]?.type], ['NXDOMAIN', true, 'SOA']);
  t.equal(ask(zone, 'default.svc.cluster.local', 'A').rcode, 'NOERROR', 'an empty non-terminal exists');
  const refused = ask(zone, 'example.com', 'A');
  t.same([refused.rcode, refused.aa, refused.answers.length], ['REFUSED', false, 0]);
  t.equal(ask(zone, 'nope', 'A').rcode, 'REFUSED', 'a short name that is no Service is outside the zone');
  t.equal(ask(zone, '.', 'NS').rcode, 'REFUSED');
});

t.test('malformed input: FORMERR, NOTIMP, or dropped; never a throw', async (t) => {
  t.same(answerQuery(Buffer.alloc(5), zone, 'udp'), { response: undefined, rcode: 'dropped' }, 'shorter than a header');
  const response = encode({ type: 'response', id: 1, questions: [{ name: 'web', type: 'A' }] });
  t.equal(answerQuery(response, zone, 'udp').rcode, 'dropped', 'a response is never answered');
  const garbage = Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c]);
  const formerr = answerQuery(garbage, zone, 'udp');
  t.equal(formerr.rcode, 'FORMERR');
  t.match(decode(formerr.response ?? Buffer.alloc(0)), { id: 0x1234, rcode: 'FORMERR', type: 'response' });
  const two = encode({
    type: 'query',
    id: 2,
    questions: [
      { name: 'web', type: 'A' },
      { name: 'api', type: 'A' },
    ],
  });
  t.equal(answerQuery(two, zone, 'udp').rcode, 'FORMERR', 'two questions');
  const none = encode({ type: 'query', id: 3, questions: [] });
  t.equal(answerQuery(none, zone, 'udp').rcode, 'FORMERR', 'no question');
  const notify = encode({ type: 'query', id: 4, flags: 4 << 11, questions: [{ name: 'web', type: 'A' }] });
  t.match(decode(answerQuery(notify, zone, 'udp').response ?? Buffer.alloc(0)), { rcode: 'NOTIMP', opcode: 'NOTIFY' });
  const chaos = encode({ type: 'query', id: 5, questions: [{ name: 'version.bind', type: 'TXT', class: 'CH' }] });
  t.equal(answerQuery(chaos, zone, 'udp').rcode, 'REFUSED');
});

t.test('fuzz: random bytes and mangled queries never throw, and every answer decodes', async (t) => {
  const valid = encode({ type: 'query', id: 9, flags: 1 << 8, questions: [{ name: '_http._tcp.web.default.svc.cluster.local', type: 'SRV' }] });
  let answered = 0;
  for (let i = 0; i < 3000; i++) {
    let input: Buffer;
    if (i % 2 === 0) input = randomBytes(i % 300);
    else {
      input = Buffer.from(valid);
      for (let k = 0; k < 1 + (i % 5); k++) input[(i * 7 + k * 13) % input.length] = (i * 31 + k) & 0xff;
    }
    const result = answerQuery(input, zone, i % 3 === 0 ? 'tcp' : 'udp');
    if (result.response === undefined) continue;
    answered++;
    decode(result.response); // throws (failing the test) if we ever send something undecodable
  }
  t.ok(answered > 100, `${answered} answered`);
});

t.test('UDP: 512 bytes without EDNS, up to 1232 with it; beyond that TC and an empty answer', async (t) => {
  const many = Array.from(
    { length: 20 },
    (_, i) =>
      `---\napiVersion: v1\nkind: Pod\nmetadata: {name: p${i}, labels: {app: big}}\nspec: {containers: [{name: c}]}\nstatus: {podIP: 127.0.70.${i + 1}}\n`,
  ).join('');
  const big = zoneOf(`apiVersion: v1\nkind: Service\nmetadata: {name: big}\nspec: {clusterIP: None, selector: {app: big}, ports: [{port: 80}]}\n${many}`);
  const plain = ask(big, 'big.default.svc.cluster.local', 'A');
  t.same([plain.tc, plain.answers.length], [true, 0]);
  const edns = ask(big, 'big.default.svc.cluster.local', 'A', { edns: 4096 });
  t.ok(ask(big, 'big.default.svc.cluster.local', 'A', { edns: 600 }).tc, "the client's smaller size is respected");
  t.same([edns.tc, edns.answers.length, edns.additionals.some((a) => a.type === 'OPT')], [false, 20, true]);
  t.equal(ask(big, 'big.default.svc.cluster.local', 'A', { transport: 'tcp' }).answers.length, 20);
});

t.test('names: reverse, dashed, IPv6 expansion', async (t) => {
  t.equal(reverseName('10.1.2.3'), '3.2.1.10.in-addr.arpa');
  t.equal(reverseName('::1'), `1.${'0.'.repeat(31)}ip6.arpa`);
  t.equal(reverseName('nope'), '');
  t.equal(dashedName('fd00::1'), 'fd00--1');
  t.equal(expandIpv6('2001:db8::ffff:1.2.3.4'), '20010db8000000000000ffff01020304');
  for (const bad of ['1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', 'g::1', '::1.2.3.400', '1:2:3:4:5:6:7:8::']) t.equal(expandIpv6(bad), '', bad);
});

t.test('ANY, CNAME, class ANY and the dual-stack alias', async (t) => {
  t.same(data(ask(zone, 'web', 'ANY' as RecordType)), [`A ${web}`], 'ANY: every record at the name');
  t.same(data(ask(zone, 'search', 'CNAME')), ['CNAME example.com']);
  const anyClass = encode({ type: 'query', id: 7, questions: [{ name: 'web', type: 'A', class: 'ANY' }] });
  t.equal(answerQuery(anyClass, zone, 'udp').rcode, 'NOERROR');
  const dual = zoneOf('apiVersion: v1\nkind: Service\nmetadata: {name: dual}\nspec:\n  ipFamilyPolicy: RequireDualStack\n  ports: [{port: 80}]\n');
  t.same(data(ask(dual, 'dual', 'AAAA')), ['AAAA ::1'], 'served on ::1 by the localhost rule, so AAAA ::1');
});
