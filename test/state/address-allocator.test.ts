import t from 'tap';
import {
  allocateAddresses,
  ipv4ToNumber,
  numberToIpv4,
  parseIpv4Range,
  parseLoopbackRange,
  rangeContains,
  stableHash,
  usableCount,
  type Ipv4Range,
} from '../../src/state/address-allocator.js';

function range(text: string): Ipv4Range {
  const r = parseLoopbackRange(text);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

t.test('CIDR parsing: normalised, host bits refused, loopback only', async (t) => {
  t.match(parseIpv4Range('127.96.0.0/16'), { cidr: '127.96.0.0/16', prefix: 16, size: 65536 });
  t.equal(parseIpv4Range('127.96.0.1/16'), '"127.96.0.1/16" has host bits set; the network address is 127.96.0.0/16');
  for (const bad of ['127.96.0.0', '127.96.0.0/33', '127.96.0/16', 'x/8', '127.096.0.0/16', '::1/128']) {
    t.match(parseIpv4Range(bad), /is not an IPv4 CIDR such as 127\.96\.0\.0\/16/, bad);
  }
  t.equal(
    parseLoopbackRange('10.96.0.0/12'),
    '10.96.0.0/12 is not inside the loopback block 127.0.0.0/8: only loopback addresses can be bound without configuring the machine',
  );
  t.match(parseLoopbackRange('126.0.0.0/7'), /not inside the loopback block/);
  t.match(parseLoopbackRange('127.0.0.0/8'), { size: 2 ** 24 });
  t.equal(ipv4ToNumber('256.0.0.1'), undefined);
  t.equal(numberToIpv4(ipv4ToNumber('127.96.1.2') ?? 0), '127.96.1.2');
  t.ok(rangeContains(range('127.96.0.0/16'), '127.96.255.255'));
  t.notOk(rangeContains(range('127.96.0.0/16'), '127.97.0.0'));
  t.notOk(rangeContains(range('127.96.0.0/16'), '::1'));
});

t.test('usable addresses leave out network and broadcast, except in a /31 or /32', async (t) => {
  t.equal(usableCount(range('127.96.0.0/16')), 65534);
  t.equal(usableCount(range('127.96.0.0/30')), 2);
  t.equal(usableCount(range('127.96.0.0/31')), 2);
  t.equal(usableCount(range('127.96.0.7/32')), 1);
});

t.test('an address derives from the name: stable across runs, independent of order and of other names', async (t) => {
  const r = range('127.96.0.0/16');
  const one = allocateAddresses({ range: r, names: ['default/web', 'default/api'], previous: new Map(), taken: new Set() });
  const two = allocateAddresses({ range: r, names: ['default/api', 'shop/cart', 'default/web'], previous: new Map(), taken: new Set() });
  t.ok(one.ok && two.ok);
  if (!one.ok || !two.ok) return;
  t.equal(one.addresses.get('default/web'), two.addresses.get('default/web'));
  t.equal(one.addresses.get('default/api'), two.addresses.get('default/api'));
  const offset = (stableHash('default/web') % 65534) + 1;
  t.equal(one.addresses.get('default/web'), numberToIpv4(127 * 2 ** 24 + 96 * 2 ** 16 + offset), 'FNV-1a of the name picks the offset');
});

t.test('clashes: resolved in name order, the same way whatever the input order', async (t) => {
  const r = range('127.96.0.0/30'); // two usable addresses: .1 and .2
  const names = ['b', 'a'];
  const x = allocateAddresses({ range: r, names, previous: new Map(), taken: new Set() });
  const y = allocateAddresses({ range: r, names: [...names].reverse(), previous: new Map(), taken: new Set() });
  t.ok(x.ok && y.ok);
  if (!x.ok || !y.ok) return;
  t.same(new Map(x.addresses), new Map(y.addresses));
  t.not(x.addresses.get('a'), x.addresses.get('b'));
});

t.test('the previous address is kept while free; taken addresses are never handed out', async (t) => {
  const r = range('127.96.0.0/24');
  const first = allocateAddresses({ range: r, names: ['default/web'], previous: new Map(), taken: new Set() });
  if (!first.ok) throw new Error('allocation failed');
  const natural = first.addresses.get('default/web') ?? '';
  const kept = allocateAddresses({ range: r, names: ['default/web'], previous: new Map([['default/web', '127.96.0.77']]), taken: new Set() });
  t.same(kept.ok && kept.addresses.get('default/web'), '127.96.0.77', 'a reload keeps what the Service had');
  const moved = allocateAddresses({ range: r, names: ['default/web'], previous: new Map(), taken: new Set([natural]) });
  t.ok(moved.ok && moved.addresses.get('default/web') !== natural, 'an address written elsewhere is skipped');
  const outside = allocateAddresses({ range: r, names: ['default/web'], previous: new Map([['default/web', '127.97.0.1']]), taken: new Set() });
  t.same(outside.ok && outside.addresses.get('default/web'), natural, 'a previous address outside the range is forgotten');
});

t.test('a range too small says how many are needed and free', async (t) => {
  const r = range('127.96.0.0/30');
  t.same(allocateAddresses({ range: r, names: ['a', 'b', 'c'], previous: new Map(), taken: new Set() }), { ok: false, needed: 3, free: 2 });
  t.same(allocateAddresses({ range: r, names: ['a', 'b'], previous: new Map(), taken: new Set(['127.96.0.1', '10.0.0.1']) }), {
    ok: false,
    needed: 2,
    free: 1,
  });
  const single = allocateAddresses({ range: range('127.96.0.9/32'), names: ['a'], previous: new Map(), taken: new Set() });
  t.same(single.ok && [...single.addresses], [['a', '127.96.0.9']]);
});
