import t from 'tap';
import { DOWN, FaultTable, type ConnectionFaults, type ConnectionToxic, type LiveToxic } from '../../src/faults/fault-table.js';
import { mixSeed, Random } from '../../src/faults/random.js';
import { updateToxic, validateToxic } from '../../src/faults/toxics.js';
import { faultPlan, toxic } from '../helpers/faults.js';

/** The toxics of an answer that has a chain; none for undefined or DOWN. */
function toxicsOf(got: ConnectionFaults): readonly ConnectionToxic[] {
  return got === undefined || got === DOWN ? [] : got.toxics;
}

const A = { id: '127.0.0.1:1', pod: 'default/a' };
const B = { id: '127.0.0.1:2', pod: 'default/b' };

function pattern(table: FaultTable, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += table.forConnection('default/web', A, 0) === undefined ? '.' : 'x';
  return out;
}

t.test('a port without faults answers undefined (the plain pump)', async (t) => {
  const table = new FaultTable();
  t.equal(table.forConnection('default/web', A, 0), undefined);
  table.setDeclared([faultPlan([toxic('latency', { latency: 5 })])], 0);
  t.equal(table.forConnection('default/other', A, 0), undefined);
  t.equal(toxicsOf(table.forConnection('default/web', A, 0)).length, 1);
});

t.test('a seeded fault draws the same toxicity sequence in every table; an unseeded one need not', async (t) => {
  const plan = faultPlan([toxic('latency', {}, { toxicity: 0.5 })], { seed: 42 });
  const runs = [0, 1].map(() => {
    const table = new FaultTable();
    table.setDeclared([plan], 0);
    return pattern(table, 40);
  });
  t.equal(runs[0], runs[1]);
  t.match(runs[0], /x/);
  t.match(runs[0], /\./);
  const other = new FaultTable();
  other.setDeclared([{ ...plan, seed: 43 }], 0);
  t.not(pattern(other, 40), runs[0], 'another seed, another sequence');
});

t.test('an unchanged revision keeps its connection count and schedule across reloads; a changed one restarts', async (t) => {
  const plan = faultPlan([toxic('latency', {}, { toxicity: 0.5 })], { seed: 1, afterMs: 100 });
  const table = new FaultTable();
  table.setDeclared([plan], 0);
  t.equal(table.forConnection('default/web', A, 50), undefined, 'not before after');
  const whole = new FaultTable();
  whole.setDeclared([plan], 0);
  const expected = pattern2(whole, 20);
  const first = pattern2(table, 10);
  table.setDeclared([{ ...plan }], 5000); // the same fault, reloaded later
  t.equal(first + pattern2(table, 10), expected, 'the sequence goes on where it was');
  table.setDeclared([{ ...plan, revision: 'other' }], 5000);
  t.equal(table.forConnection('default/web', A, 5050), undefined, 'a changed fault waits for its after again');
});

function pattern2(table: FaultTable, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += table.forConnection('default/web', A, 1_000_000) === undefined ? '.' : 'x';
  return out;
}

t.test('endpoint and Pod filters', async (t) => {
  const table = new FaultTable();
  table.setDeclared(
    [faultPlan([toxic('latency')], { pods: new Set(['default/a']) }), faultPlan([toxic('bandwidth')], { id: 'default/b', endpoints: new Set([B.id]) })],
    0,
  );
  const names = (target: typeof A): string[] => {
    const got = table.forConnection('default/web', target, 0);
    return toxicsOf(got).map((c) => c.spec.type);
  };
  t.same(names(A), ['latency']);
  t.same(names(B), ['bandwidth']);
  const views = table.views('default/web', [A, B], 0);
  t.same(views.port, []);
  t.same(
    [...views.byEndpoint.entries()].map(([id, v]) => [id, v.map((x) => x.type)]),
    [
      [A.id, ['latency']],
      [B.id, ['bandwidth']],
    ],
  );
});

t.test('for: the fault ends, releasing its live connections; nextScheduleChange says when', async (t) => {
  const table = new FaultTable();
  table.setDeclared([faultPlan([toxic('timeout')], { afterMs: 100, forMs: 200 })], 1000);
  t.equal(table.nextScheduleChange(1000), 1100);
  t.equal(table.nextScheduleChange(1100), 1300);
  const got = table.forConnection('default/web', A, 1150);
  if (got === undefined || got === DOWN) throw new Error('expected toxics');
  let released = 0;
  const live: LiveToxic = { release: () => released++, reconfigure: () => undefined };
  got.toxics[0]?.binding.live.add(live);
  t.equal(table.expire(1200), false);
  t.equal(table.expire(1300), true);
  t.equal(released, 1, 'the live connection was released');
  t.equal(table.forConnection('default/web', A, 1301), undefined);
  t.equal(table.nextScheduleChange(1301), undefined);
  t.same(
    table.views('default/web', [A], 1301).port.map((v) => v.active),
    [false],
  );
});

t.test('API toxics: add, list upstream first, update in place, remove, down, reset; declared faults stay', async (t) => {
  const table = new FaultTable();
  let changes = 0;
  table.onChange = () => changes++;
  table.setDeclared([faultPlan([toxic('latency')])], 0);
  t.ok(table.addApiToxic('default/web', 'web.default:80', toxic('slicer', { average_size: 5 })));
  t.notOk(table.addApiToxic('default/web', 'web.default:80', toxic('slicer', { average_size: 5 })), 'a duplicate name');
  t.ok(table.addApiToxic('default/web', 'web.default:80', toxic('timeout', {}, { stream: 'upstream' })));
  t.same(
    table.apiToxics('default/web').map((x) => x.name),
    ['timeout_upstream', 'slicer_downstream'],
  );
  const before = table.forConnection('default/web', A, 0);
  t.same(
    toxicsOf(before).map((c) => c.spec.type),
    ['latency', 'slicer', 'timeout'],
    'declared first, then the API chain in the order added',
  );
  t.ok(table.updateApiToxic('default/web', toxic('slicer', { average_size: 9 })));
  t.notOk(table.updateApiToxic('default/web', toxic('latency', {}, { name: 'nope' })));
  t.equal(table.apiToxics('default/web')[1]?.attributes['average_size'], 9);
  t.ok(table.removeApiToxic('default/web', 'timeout_upstream'));
  t.notOk(table.removeApiToxic('default/web', 'timeout_upstream'));
  table.setDown('default/web', true);
  t.ok(table.isDown('default/web'));
  t.equal(table.forConnection('default/web', A, 0), DOWN);
  table.resetApi();
  t.notOk(table.isDown('default/web'));
  t.same(table.apiToxics('default/web'), []);
  const after = table.forConnection('default/web', A, 0);
  t.same(
    toxicsOf(after).map((c) => c.spec.type),
    ['latency'],
    '/reset leaves declared faults',
  );
  t.ok(changes >= 7);
  table.addApiToxic('toxiproxy:x', 'x', toxic('latency'));
  table.dropApiProxy('toxiproxy:x');
  table.dropApiProxy('toxiproxy:x');
  t.same(table.apiToxics('toxiproxy:x'), []);
  t.ok(table.counterEntries().length >= 2);
  table.retainCounters(new Set());
  t.same(table.counterEntries(), []);
});

t.test('toxic validation and update (the API body)', async (t) => {
  t.same(validateToxic({ type: 'latency', stream: 'Upstream', toxicity: 0.25, attributes: { latency: 5, junk: 1 } }), {
    ok: true,
    toxic: { name: 'latency_upstream', type: 'latency', stream: 'upstream', toxicity: 0.25, attributes: { latency: 5, jitter: 0 } },
  });
  t.match(validateToxic('nope'), { ok: false, problems: [{ message: 'a toxic must be an object' }] });
  t.match(validateToxic({ type: 'latency', name: 'a/b' }), { ok: false, problems: [{ path: 'name' }] });
  t.match(validateToxic({ type: 'latency', attributes: 5 }), { ok: false, problems: [{ path: 'attributes' }] });
  const base = toxic('bandwidth', { rate: 10 });
  t.match(updateToxic(base, { attributes: { rate: 20 } }), { ok: true, toxic: { attributes: { rate: 20 }, toxicity: 1 } });
  t.match(updateToxic(base, { toxicity: 0.5 }), { ok: true, toxic: { attributes: { rate: 10 }, toxicity: 0.5 } });
  t.match(updateToxic(base, { attributes: { rate: -1 } }), { ok: false });
  t.match(updateToxic(base, []), { ok: false });
});

t.test('random: seeded, uniform enough, mixSeed differs by part', async (t) => {
  const a = new Random(5);
  const b = new Random(5);
  const xs = Array.from({ length: 1000 }, () => a.next());
  t.same(
    xs.slice(0, 5),
    Array.from({ length: 5 }, () => b.next()),
  );
  t.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  t.ok(mean > 0.45 && mean < 0.55, `mean ${mean}`);
  t.equal(new Random(1).int(0), 0);
  t.not(mixSeed(1, 'a', 0), mixSeed(1, 'a', 1));
  t.equal(mixSeed(1, 'a', 0), mixSeed(1, 'a', 0));
});

/** A LiveChain that records the toxics appended to it. */
function recorder(): { chain: { append: (toxic: ConnectionToxic) => void }; appended: ConnectionToxic[] } {
  const appended: ConnectionToxic[] = [];
  return { chain: { append: (toxic) => appended.push(toxic) }, appended };
}

t.test('API on: every connection gets a chain and a LiveConnection; it is in the table only between attach and leave', async (t) => {
  const table = new FaultTable();
  t.equal(table.forConnection('default/web', A, 0), undefined, 'without the API: nothing (the fast path)');
  table.enableApi();
  const got = table.forConnection('default/web', A, 0);
  if (got === undefined || got === DOWN) throw new Error('expected a chain');
  t.same(got.toxics, [], 'no toxic yet');
  t.equal(table.liveConnections, 0, 'not registered before its pump attaches');
  const r = recorder();
  got.live?.attach(r.chain);
  t.equal(table.liveConnections, 1);
  table.addApiToxic('default/other', 'other.default:80', toxic('latency'));
  t.same(r.appended, [], "another proxy's toxic does not reach it");
  table.addApiToxic('default/web', 'web.default:80', toxic('latency', { latency: 5 }));
  t.same(
    r.appended.map((x) => [x.spec.name, x.active]),
    [['latency_downstream', true]],
    'appended to the open connection',
  );
  got.live?.leave();
  got.live?.leave();
  t.equal(table.liveConnections, 0, 'gone when it leaves (twice is harmless)');
  table.addApiToxic('default/web', 'web.default:80', toxic('slicer', { average_size: 5 }));
  t.equal(r.appended.length, 1, 'a connection that left gets nothing more');
  const many = Array.from({ length: 1000 }, () => table.forConnection('default/web', A, 0));
  for (const c of many) if (c !== undefined && c !== DOWN) c.live?.attach(recorder().chain);
  t.equal(table.liveConnections, 1000);
  for (const c of many) if (c !== undefined && c !== DOWN) c.live?.leave();
  t.equal(table.liveConnections, 0, 'memory follows the open connections');
  table.setDown('default/web', true);
  t.equal(table.forConnection('default/web', A, 0), DOWN, 'a disabled proxy still resets new connections');
});

t.test('a toxic added to an open connection draws as a connection admitted after it, with the same seed, would', async (t) => {
  const n = 60;
  const seeded = (): (() => number) => {
    let i = 0;
    return () => mixSeed('connection', i++);
  };
  const first = toxic('latency', {}, { toxicity: 0.5, name: 'first' });
  const second = toxic('bandwidth', {}, { toxicity: 0.5, name: 'second' });

  // Connections open, then `second` is added to them.
  const live = new FaultTable(seeded());
  live.enableApi();
  live.addApiToxic('default/web', 'web.default:80', first);
  const recorders = Array.from({ length: n }, () => {
    const got = live.forConnection('default/web', A, 0);
    if (got === undefined || got === DOWN) throw new Error('expected a chain');
    const r = recorder();
    got.live?.attach(r.chain);
    return { admitted: got.toxics, appended: r.appended };
  });
  live.addApiToxic('default/web', 'web.default:80', second);

  // The same seeds, admitted after both toxics exist.
  const later = new FaultTable(seeded());
  later.enableApi();
  later.addApiToxic('default/web', 'web.default:80', first);
  later.addApiToxic('default/web', 'web.default:80', second);
  const fresh = Array.from({ length: n }, () => {
    const got = later.forConnection('default/web', A, 0);
    if (got === undefined || got === DOWN) throw new Error('expected a chain');
    return got.toxics;
  });

  const pattern = (flags: readonly boolean[]): string => flags.map((f) => (f ? 'x' : '.')).join('');
  const liveSecond = pattern(recorders.map((r) => r.appended[0]?.active === true));
  t.equal(liveSecond, pattern(fresh.map((c) => c[1]?.active === true)), 'the same draws for the toxic added live');
  t.equal(
    pattern(recorders.map((r) => r.admitted[0]?.active === true)),
    pattern(fresh.map((c) => c[0]?.active === true)),
    'and for the one there at admission',
  );
  t.match(liveSecond, /x/);
  t.match(liveSecond, /\./);
  t.ok(
    recorders.every((r, i) => r.appended[0]?.seed === fresh[i]?.[1]?.seed),
    'the same seed for its random choices (jitter, slicer sizes)',
  );
  t.ok(
    recorders.every((r) => r.admitted[0] !== undefined),
    'a toxic whose draw missed still stands in the chain (inactive), for updates to draw again',
  );
  const applied = live.counterEntries().find((e) => e.name === 'second')?.counters.applications;
  t.equal(applied, liveSecond.replaceAll('.', '').length, 'applications count the hits only');
});

t.test('an API update reaches the live stages of the toxic; a declared toxic is never updated in place', async (t) => {
  const table = new FaultTable();
  table.enableApi();
  table.addApiToxic('default/web', 'web.default:80', toxic('latency', { latency: 5 }));
  const got = table.forConnection('default/web', A, 0);
  if (got === undefined || got === DOWN) throw new Error('expected a chain');
  const seen: number[] = [];
  const stage: LiveToxic = { release: () => undefined, reconfigure: (spec) => seen.push(spec.attributes['latency'] ?? -1) };
  got.toxics[0]?.binding.live.add(stage);
  t.ok(table.updateApiToxic('default/web', toxic('latency', { latency: 7 })));
  t.same(seen, [7], 'the open connection got the new attributes');
  t.equal(got.toxics[0]?.binding.spec.attributes['latency'], 7, 'the binding holds the current spec');
  t.equal(got.toxics[0]?.draws !== undefined, true, 'an API toxic carries its connection generator for the new draw');
  const declared = new FaultTable();
  declared.setDeclared([faultPlan([toxic('latency')])], 0);
  const d = declared.forConnection('default/web', A, 0);
  t.equal(d !== undefined && d !== DOWN ? d.live : 'none', undefined, 'no LiveConnection without the API');
  t.equal(d !== undefined && d !== DOWN ? d.toxics[0]?.draws : 'none', undefined, 'and no generator: declared toxics never change on an open connection');
});
