import t from 'tap';
import { acceptDate, jsonLine, textLine } from '../../src/access-log/format.js';
import { Lease, type LeaseOwner } from '../../src/proxy/lease.js';
import { servicePortKey } from '../../src/state/types.js';

const owner: LeaseOwner = { key: servicePortKey('shop', 'web', 'http'), settle: () => undefined };
const START = Date.UTC(2026, 10, 28, 14, 50, 1, 511);

function finished(
  over: {
    client?: [string, number];
    protocol?: 'TCP' | 'UDP';
    connectMs?: number;
    endpoint?: boolean;
    termination?: Parameters<Lease['end']>[0];
    code?: string;
    toxics?: string[];
  } = {},
): Lease {
  const [address, port] = over.client ?? ['127.0.0.1', 53422];
  const lease = new Lease(owner, over.protocol ?? 'TCP', address, port, START);
  const connectMs = over.connectMs ?? 0.4123;
  if (over.endpoint !== false) lease.connected({ id: '10.0.0.11:8080', host: '10.0.0.11', port: 8080, pod: '', literal: true }, connectMs);
  for (const name of over.toxics ?? []) lease.met(name);
  lease.end(over.termination ?? 'client_fin', { fromDownstream: 78, fromUpstream: 1024 }, over.code ?? '', START + 12.5);
  return lease;
}

t.test('json: a pino-style line with every field', async (t) => {
  t.same(JSON.parse(jsonLine(finished(), { pid: 7 })), {
    level: 'info',
    time: START + 12.5,
    pid: 7,
    msg: 'access',
    protocol: 'TCP',
    servicePort: 'shop/web:http',
    client: '127.0.0.1:53422',
    endpoint: '10.0.0.11:8080',
    bytesFromClient: 78,
    bytesFromEndpoint: 1024,
    durationMs: 12.5,
    connectMs: 0.41,
    termination: 'client_fin',
  });
  t.match(JSON.parse(jsonLine(finished({ termination: 'endpoint_reset', code: 'ECONNRESET', toxics: ['latency'] }), { pid: 7, worker: 2 })), {
    worker: 2,
    termination: 'endpoint_reset',
    error: 'ECONNRESET',
    toxics: 'latency',
  });
  t.match(JSON.parse(jsonLine(finished({ endpoint: false, connectMs: -1, termination: 'no_endpoints' }), { pid: 7 })), {
    endpoint: '',
    connectMs: -1,
    termination: 'no_endpoints',
  });
  t.match(JSON.parse(jsonLine(finished({ client: ['::1', 40000] }), { pid: 7 })), { client: '[::1]:40000' });
});

t.test('text: like HAProxy tcplog, - for what is not known', async (t) => {
  t.equal(textLine(finished()), '127.0.0.1:53422 [28/Nov/2026:14:50:01.511] shop/web:http TCP 10.0.0.11:8080 0.41/12.5 78 1024 client_fin');
  t.equal(
    textLine(finished({ endpoint: false, connectMs: -1, termination: 'dial_failed' })),
    '127.0.0.1:53422 [28/Nov/2026:14:50:01.511] shop/web:http TCP - -/12.5 78 1024 dial_failed',
  );
  t.equal(
    textLine(finished({ protocol: 'UDP', connectMs: -1, termination: 'client_reset', code: 'ECONNREFUSED', toxics: ['a', 'b'] })),
    '127.0.0.1:53422 [28/Nov/2026:14:50:01.511] shop/web:http UDP 10.0.0.11:8080 -/12.5 78 1024 client_reset ECONNREFUSED toxics=a,b',
  );
  t.equal(textLine(finished({ client: ['', 0] })).split(' ')[0], '-', 'a client address that was not read');
});

t.test('accept dates are UTC with milliseconds', async (t) => {
  t.equal(acceptDate(Date.UTC(2027, 0, 2, 3, 4, 5, 6)), '02/Jan/2027:03:04:05.006');
});
