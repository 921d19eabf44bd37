/**
 * A lease changes only through its methods, ends once, and settles with its
 * owner once; its carrier gives the live byte counts until the end.
 */
import t from 'tap';
import type { ByteCounts, Carrier } from '../../src/proxy/carrier.js';
import { Lease, type LeaseOwner } from '../../src/proxy/lease.js';
import { servicePortKey } from '../../src/state/types.js';

function owner(): LeaseOwner & { readonly settled: Lease[] } {
  const settled: Lease[] = [];
  return { key: servicePortKey('default', 'web', ''), settle: (lease) => settled.push(lease), settled };
}

function carrier(bytes: ByteCounts): Carrier & { aborted: number } {
  const c = {
    aborted: 0,
    bytes: () => bytes,
    abort: () => {
      c.aborted++;
    },
  };
  return c;
}

const ENDPOINT = { id: '10.0.0.1:80', host: '10.0.0.1', port: 80, pod: '', literal: true };

t.test('ends once and settles once, with its termination, bytes, error code and time', async (t) => {
  const o = owner();
  const lease = new Lease(o, 'TCP', '127.0.0.1', 40000, 1000);
  t.ok(lease.open);
  lease.end('endpoint_reset', { fromDownstream: 3, fromUpstream: 4 }, 'ECONNRESET', 1500);
  lease.end('client_fin', { fromDownstream: 9, fromUpstream: 9 }, '', 2000);
  t.equal(o.settled.length, 1);
  t.match(lease, { open: false, termination: 'endpoint_reset', errorCode: 'ECONNRESET', endedAt: 1500, bytes: { fromDownstream: 3, fromUpstream: 4 } });
});

t.test('the carrier gives the live bytes while open; the final ones count after the end', async (t) => {
  const lease = new Lease(owner(), 'TCP', '', 0);
  t.same(lease.liveBytes(), { fromDownstream: 0, fromUpstream: 0 }, 'no carrier yet');
  const c = carrier({ fromDownstream: 10, fromUpstream: 20 });
  lease.carry(c);
  t.equal(lease.carrier, c);
  t.same(lease.liveBytes(), { fromDownstream: 10, fromUpstream: 20 });
  lease.end('client_fin', { fromDownstream: 11, fromUpstream: 21 });
  t.equal(lease.carrier, undefined, 'let go at the end');
  t.same(lease.liveBytes(), { fromDownstream: 11, fromUpstream: 21 });
});

t.test('abort: a carrier is told; an ended lease is left alone', async (t) => {
  const lease = new Lease(owner(), 'TCP', '', 0);
  const c = carrier({ fromDownstream: 0, fromUpstream: 0 });
  lease.carry(c);
  lease.abort();
  t.equal(c.aborted, 1);
  t.ok(lease.aborted);
  lease.end('drain');
  lease.abort();
  t.equal(c.aborted, 1, 'not after the end');
});

t.test('slot, endpoint and toxics change through the methods the ledger and the forwarder call', async (t) => {
  const lease = new Lease(owner(), 'UDP', '10.1.1.1', 5353);
  t.notOk(lease.admitted);
  lease.takeSlot();
  t.ok(lease.admitted);
  lease.connected(ENDPOINT, -1);
  t.match(lease, { endpoint: ENDPOINT, connectMs: -1 });
  lease.met('latency');
  lease.met('latency');
  lease.met('bandwidth');
  t.same(lease.toxics, ['latency', 'bandwidth'], 'each toxic once, in the order met');
  t.equal(lease.releaseSlot(), true);
  t.equal(lease.releaseSlot(), false, 'a slot is given back once');
  t.notOk(lease.admitted);
});
