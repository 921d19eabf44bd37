/**
 * The access log as an observer of lease ends, on real sockets: one line per
 * finished connection, for every way a TCP connection ends or is refused,
 * with its client, endpoint, bytes, duration and connect time. UDP flows are
 * in test/e2e/access-log.test.ts. Set SVCPROXY_ACCESS_LOG_EXAMPLES=dir to keep
 * the lines (how docs/operations.md's examples were made).
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AccessLog, openAccessLog } from '../../src/access-log/access-log.js';
import type { AccessLogFormat } from '../../src/access-log/format.js';
import type { ServicePortPolicy } from '../../src/state/types.js';
import { startBlackhole } from '../helpers/blackhole.js';
import { silentLog } from '../helpers/log.js';
import { dialTo, eventually, freePort, readAll, request, startServer } from '../helpers/net.js';
import { endpoint, startServicePort } from '../helpers/proxy.js';
import type { ServicePortOptions } from '../../src/proxy/service-port-proxy.js';

interface Line {
  readonly msg: string;
  readonly protocol: string;
  readonly servicePort: string;
  readonly client: string;
  readonly endpoint: string;
  readonly bytesFromClient: number;
  readonly bytesFromEndpoint: number;
  readonly durationMs: number;
  readonly connectMs: number;
  readonly termination: string;
  readonly error?: string;
}

const dir = await mkdtemp(join(tmpdir(), 'svcproxy-terminations-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const logs: Record<AccessLogFormat, AccessLog> = {
  json: new AccessLog(openAccessLog(join(dir, 'json.log')), { format: 'json', base: { pid: process.pid }, flushMs: 5 }, silentLog),
  text: new AccessLog(openAccessLog(join(dir, 'text.log')), { format: 'text', base: { pid: process.pid }, flushMs: 5 }, silentLog),
};
const observe = (lease: Parameters<AccessLog['record']>[0]): void => {
  logs.json.record(lease);
  logs.text.record(lease);
};

/** A Service port named after the case, whose every finished lease goes to both logs. */
function port(name: string, endpoints: number[], options: Partial<ServicePortOptions> = {}, policy: Partial<ServicePortPolicy> = {}) {
  return startServicePort(
    t,
    endpoints.map((p) => endpoint(p)),
    { readClientAddresses: true, ...options },
    silentLog,
    { onLeaseEnd: observe, policy, name },
  );
}

/** Waits until the proxy has closed the client's connection, answering its FIN with ours. */
async function closedByProxy(client: Socket): Promise<void> {
  client.on('end', () => client.end());
  await readAll(client);
}

async function lines(): Promise<Line[]> {
  await eventually(() => logs.json.queued === 0 && logs.text.queued === 0, 'the logs to be written');
  const text = await readFile(join(dir, 'json.log'), 'utf8');
  return text === ''
    ? []
    : text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Line);
}

async function lineOf(name: string): Promise<Line> {
  let found: Line | undefined;
  await eventually(async () => (found = (await lines()).find((l) => l.servicePort === `default/${name}`)) !== undefined, `the line of ${name}`);
  return found as Line;
}

t.test('client_fin: the client closes first; client, endpoint, bytes, times', async (t) => {
  const upstream = await startServer(t, (s) => {
    s.on('data', () => undefined).on('end', () => s.end('pong!'));
  });
  const { port: p } = await port('client-fin', [upstream]);
  const out = await request(p, 'ping');
  t.equal(out.data.toString(), 'pong!');
  const line = await lineOf('client-fin');
  t.match(line, {
    msg: 'access',
    protocol: 'TCP',
    client: /^127\.0\.0\.1:\d+$/,
    endpoint: `127.0.0.1:${upstream}`,
    bytesFromClient: 4,
    bytesFromEndpoint: 5,
    termination: 'client_fin',
  });
  t.ok(line.connectMs >= 0 && line.durationMs >= line.connectMs, `times: connect ${line.connectMs} ms, duration ${line.durationMs} ms`);
});

t.test('endpoint_fin: the endpoint closes first', async (t) => {
  const upstream = await startServer(t, (s) => s.end('bye'));
  const { port: p } = await port('endpoint-fin', [upstream]);
  const client = await dialTo(t, p);
  await closedByProxy(client);
  t.match(await lineOf('endpoint-fin'), { termination: 'endpoint_fin', bytesFromEndpoint: 3 });
});

t.test('client_reset and endpoint_reset, with the error code', async (t) => {
  const echo = await startServer(t, (s) => s.pipe(s));
  const { port: a } = await port('client-reset', [echo]);
  const client = await dialTo(t, a);
  client.write('x');
  await once(client, 'data');
  client.resetAndDestroy();
  t.match(await lineOf('client-reset'), { termination: 'client_reset', error: 'ECONNRESET' });

  const resetting = await startServer(t, (s) => s.once('data', () => s.resetAndDestroy()));
  const { port: b } = await port('endpoint-reset', [resetting]);
  t.equal((await request(b, 'x')).error, 'ECONNRESET', 'the client is reset too');
  t.match(await lineOf('endpoint-reset'), { termination: 'endpoint_reset', error: 'ECONNRESET' });
});

t.test('idle_timeout and half_close_timeout', async (t) => {
  const silent = await startServer(t, () => undefined);
  const { port: a } = await port('idle', [silent], {}, { idleTimeoutMs: 100 });
  await closedByProxy(await dialTo(t, a));
  t.match(await lineOf('idle'), { termination: 'idle_timeout' });

  const { port: b } = await port('half-close', [silent], { halfCloseTimeoutMs: 100 });
  const client = await dialTo(t, b);
  client.end();
  await closedByProxy(client);
  t.match(await lineOf('half-close'), { termination: 'half_close_timeout' });
});

t.test('drain: reset at the drain deadline', async (t) => {
  const silent = await startServer(t, () => undefined);
  const { port: p, tracker } = await port('drain', [silent]);
  const client = await dialTo(t, p);
  await eventually(() => [...tracker.leases].some((l) => l.carrier !== undefined), 'the connection to be pumping');
  tracker.resetAll();
  await closedByProxy(client);
  t.match(await lineOf('drain'), { termination: 'drain' });
});

t.test('refused: no_endpoints, dial_failed (refused, timed out), source_range, max_connections', async (t) => {
  const { port: none } = await port('no-endpoints', []);
  await request(none);
  t.match(await lineOf('no-endpoints'), { termination: 'no_endpoints', endpoint: '', connectMs: -1, client: /^127\.0\.0\.1:\d+$/ });

  const { port: refused } = await port('dial-failed', [await freePort()], { dialTimeoutsMs: [100, 100] });
  await request(refused);
  t.match(await lineOf('dial-failed'), { termination: 'dial_failed', connectMs: -1 });

  const { port: ranged } = await port('source-range', [await freePort()], {}, { sourceRanges: ['10.0.0.0/8'] });
  await request(ranged);
  t.match(await lineOf('source-range'), { termination: 'source_range', endpoint: '' });

  const echo = await startServer(t, (s) => s.pipe(s));
  const { port: limited } = await port('max-connections', [echo], {}, { maxConnections: 1 });
  const held = await dialTo(t, limited);
  held.write('x');
  await once(held, 'data');
  await request(limited);
  t.match(await lineOf('max-connections'), { termination: 'max_connections' });
  held.destroy();

  const hole = await startBlackhole(t);
  const { port: slow } = await port('dial-timeout', [hole], { dialTimeoutsMs: [150] });
  await request(slow);
  t.match(await lineOf('dial-timeout'), { termination: 'dial_failed', endpoint: '', connectMs: -1 }, 'a dial that times out');
});

t.test('every line is in the text log too, one per connection', async (t) => {
  const all = await lines();
  const text = (await readFile(join(dir, 'text.log'), 'utf8')).trimEnd().split('\n');
  t.equal(text.length, all.length);
  t.ok(
    text.every((l) => /^127\.0\.0\.1:\d+ \[\d\d\/\w{3}\/\d{4}:[\d:.]+\] default\/[a-z-]+ TCP (\S+) (-|[\d.]+)\/[\d.]+ \d+ \d+ [a-z_]+( E[A-Z]+)?$/.test(l)),
    'every text line has the tcplog-like shape',
  );
  const examples = process.env['SVCPROXY_ACCESS_LOG_EXAMPLES'];
  if (examples !== undefined) {
    await Promise.all([logs.json.close(), logs.text.close()]);
    await copyFile(join(dir, 'json.log'), join(examples, 'json.log'));
    await copyFile(join(dir, 'text.log'), join(examples, 'text.log'));
  }
});

t.teardown(async () => {
  await Promise.all([logs.json.close(), logs.text.close()]);
});
