/**
 * The admin HTTP server's own behaviour: routes, methods, headers, the
 * upgrade path, the non-loopback warning, and that a failing read becomes a
 * 500 rather than a crash.
 */
import { EventEmitter, once } from 'node:events';
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { LocalModel } from '../../src/admin/local-model.js';
import type { AdminEvents, AdminModel } from '../../src/admin/model.js';
import { AdminServer } from '../../src/admin/server.js';
import type { AdminSource, RegistryReadable } from '../../src/admin/view.js';
import type { SvcproxyEvents } from '../../src/instance-types.js';
import { get } from '../helpers/admin.js';
import { serviceWithEndpoints, startInstance } from '../helpers/instance.js';
import { captureLogger } from '../helpers/log.js';
import { freePort, readAll } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';

async function emptyInstance(t: Test): Promise<number> {
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', await freePort(), []) });
  return (await startInstance(t, dir)).adminPort;
}

t.test('routes: GET and HEAD only, 404 for unknown paths, 426 for the feed without an upgrade', async (t) => {
  const port = await emptyInstance(t);
  t.same(await get(port, '/healthz').then((r) => [r.status, r.body]), [200, 'ok\n']);
  const head = await get(port, '/healthz', { method: 'HEAD' });
  t.same([head.status, head.body], [200, ''], 'HEAD: status without a body');
  const post = await get(port, '/metrics', { method: 'POST', body: 'x' });
  t.same([post.status, post.body, post.headers.get('allow')], [405, 'method not allowed: the admin API is read-only\n', 'GET, HEAD']);
  t.equal((await get(port, '/api/services', { method: 'DELETE' })).status, 405);
  t.equal((await get(port, '/nope')).status, 404);
  const feed = await get(port, '/api/events');
  t.same([feed.status, feed.headers.get('upgrade')], [426, 'websocket']);
  const api = await get(port, '/api/services?pretty=1');
  t.equal(api.status, 200, 'a query string does not change the route');
  t.equal(api.contentType, 'application/json; charset=utf-8');
  t.equal(api.headers.get('cache-control'), 'no-store');
});

t.test('the dashboard is one self-contained page: no external script, style or font', async (t) => {
  const port = await emptyInstance(t);
  const page = await get(port, '/');
  t.equal(page.status, 200);
  t.equal(page.contentType, 'text/html; charset=utf-8');
  t.match(page.headers.get('content-security-policy'), /default-src 'none'.*connect-src 'self'/);
  t.match(page.body, /<title>svcproxy<\/title>/);
  t.match(page.body, /<script>[\s\S]*new WebSocket[\s\S]*<\/script>/);
  t.notMatch(page.body, /\b(src|href)=/, 'nothing loaded from elsewhere');
  t.notMatch(page.body, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'no URL but the SVG namespace');
});

t.test('an upgrade on any path but /api/events is refused with 404', async (t) => {
  const port = await emptyInstance(t);
  const socket = connect({ port, host: '127.0.0.1' });
  t.teardown(() => socket.destroy());
  await once(socket, 'connect');
  const outcome = readAll(socket);
  socket.write(
    'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  t.match((await outcome).data.toString(), /^HTTP\/1\.1 404 Not Found\r\n/);
});

t.test('binding the admin server on a non-loopback address logs a warning; loopback does not', async (t) => {
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', await freePort(), []) });
  const wide = captureLogger('info');
  await startInstance(t, dir, { admin: { host: '0.0.0.0', port: 0 } }, wide.log);
  t.match(
    wide.records.find((r) => r.msg.startsWith('admin server bound to a non-loopback address')),
    { level: 'warn', address: '0.0.0.0:0' },
  );
  const local = captureLogger('info');
  await startInstance(t, dir, {}, local.log);
  t.notOk(local.records.some((r) => r.msg.startsWith('admin server bound to a non-loopback address')));
});

t.test('a read that throws is answered 500 and logged; the server keeps serving', async (t) => {
  const { log, records } = captureLogger('info');
  const source: AdminSource = {
    nativePump: undefined,
    options: { config: ['x'] },
    status: { successes: 0, failures: 0, lastSuccessAt: 0, lastAttemptAt: 0, lastResult: 'none', lastErrors: [], appliedHash: '', appliedAt: 0 },
    get ready(): { ready: boolean; reason: string } {
      throw new Error('ready broke');
    },
    draining: false,
    get registry(): RegistryReadable {
      throw new Error('registry broke');
    },
    probes: { isReady: () => false },
    events: new EventEmitter<SvcproxyEvents>(),
  };
  const model = new LocalModel(source);
  t.teardown(() => model.close());
  const admin = new AdminServer(model, log);
  t.teardown(() => admin.close());
  const port = await admin.listen('127.0.0.1', 0);
  t.same(await get(port, '/readyz').then((r) => [r.status, r.body]), [500, 'internal error: registry broke\n']);
  t.same(await get(port, '/metrics').then((r) => [r.status, r.body]), [500, 'internal error: registry broke\n']);
  t.equal((await get(port, '/healthz')).status, 200);
  t.equal(records.filter((r) => r.msg === 'admin request failed').length, 2);

  const failing: AdminModel = { events: new EventEmitter<AdminEvents>(), snapshot: () => Promise.reject(new Error('no worker answered')) };
  const other = new AdminServer(failing, log);
  t.teardown(() => other.close());
  const otherPort = await other.listen('127.0.0.1', 0);
  t.same(await get(otherPort, '/api/config').then((r) => [r.status, r.body]), [500, 'internal error: no worker answered\n'], 'a model that fails');
});

t.test('close() before listen() resolves', async (t) => {
  const model: AdminModel = { events: new EventEmitter<AdminEvents>(), snapshot: () => Promise.reject(new Error('unused')) };
  const admin = new AdminServer(model, captureLogger().log);
  await admin.close();
  t.pass('closed');
});
