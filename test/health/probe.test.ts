import { createServer as createHttpServer } from 'node:http';
import { once } from 'node:events';
import t, { type Test } from 'tap';
import { runProbe, type ProbeResult, type RunnableProbe } from '../../src/health/probe.js';
import { startBlackhole } from '../helpers/blackhole.js';
import { freePort, startServer } from '../helpers/net.js';

const timing = { initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 };
const tcp = (port: number, extra: Partial<RunnableProbe> = {}): RunnableProbe =>
  ({ container: 'app', kind: 'tcpSocket', port: { port, name: '' }, host: '', ...timing, ...extra }) as RunnableProbe;
const http = (port: number, path = '/', headers: Array<{ name: string; value: string }> = []): RunnableProbe => ({
  container: 'app',
  kind: 'httpGet',
  port: { port, name: '' },
  host: '',
  path,
  scheme: 'HTTP',
  headers,
  ...timing,
});

function probe(p: RunnableProbe, address = '127.0.0.1'): Promise<ProbeResult> {
  return new Promise((resolve) => runProbe(p, address, resolve));
}

async function startHttp(t: Test, handler: (path: string, headers: Record<string, unknown>) => number): Promise<number> {
  const server = createHttpServer((req, res) => {
    res.writeHead(handler(req.url ?? '', req.headers));
    res.end('body');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

t.test('tcpSocket: success when a connection opens, failure when refused', async (t) => {
  const port = await startServer(t, (s) => s.end());
  t.same(await probe(tcp(port)), { ok: true, reason: 'tcp connect ok' });
  t.same(await probe(tcp(await freePort())), { ok: false, reason: 'ECONNREFUSED' });
});

t.test('tcpSocket: the timeout is enforced', async (t) => {
  const hole = await startBlackhole(t);
  t.same(await probe(tcp(hole)), { ok: false, reason: 'timeout after 1000 ms' });
});

t.test('httpGet: 200-399 succeed, 400 and up fail; path and headers are sent', async (t) => {
  const seen: string[] = [];
  const port = await startHttp(t, (path, headers) => {
    seen.push(`${path} ${headers['x-probe']?.toString() ?? ''} ${String(headers['user-agent'])}`);
    return path === '/ok' ? 200 : path === '/redirect' ? 302 : 500;
  });
  t.same(await probe(http(port, '/ok', [{ name: 'X-Probe', value: 'yes' }])), { ok: true, reason: 'http 200' });
  t.same(await probe(http(port, '/redirect')), { ok: true, reason: 'http 302' });
  t.same(await probe(http(port, '/fail')), { ok: false, reason: 'http 500' });
  t.same(seen, ['/ok yes kube-probe/svcproxy', '/redirect  kube-probe/svcproxy', '/fail  kube-probe/svcproxy']);
});

t.test('an explicit host overrides the Pod address', async (t) => {
  const port = await startServer(t, (s) => s.end(), '127.0.0.7');
  t.same(await probe(tcp(port, { host: '127.0.0.7' }), '127.0.0.1'), { ok: true, reason: 'tcp connect ok' });
});

t.test('a cancelled probe never calls back and leaves no timer', async (t) => {
  const hole = await startBlackhole(t);
  let called = false;
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const cancel = runProbe(tcp(hole), '127.0.0.1', () => (called = true));
  cancel();
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before);
  t.notOk(called);
});
