/**
 * The toxiproxy API's answers, raw: status codes, error bodies, headers, as
 * toxiproxy's api.go writes them.
 */
import t from 'tap';
import { startInstance } from '../helpers/instance.js';
import { startEchoServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';

t.test('status codes and error bodies as toxiproxy', async (t) => {
  const echo = await startEchoServer(t);
  const dir = await configDir(t, { 'empty.yaml': '# nothing\n' });
  const instance = await startInstance(t, dir, { toxiproxy: { host: '127.0.0.1', port: 0 } });
  const base = `http://127.0.0.1:${instance.toxiproxyPort}`;
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; type: string; text: string; id: string }> => {
    const res = await fetch(base + path, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text(), id: res.headers.get('x-toxiproxy-request-id') ?? '' };
  };
  const error = (message: string, status: number): string => `${JSON.stringify({ error: message, status })}\n`;

  const created = await call('POST', '/proxies', { name: 'a', upstream: `127.0.0.1:${echo}` });
  t.equal(created.status, 201);
  t.match(JSON.parse(created.text), { name: 'a', upstream: `127.0.0.1:${echo}`, enabled: true, toxics: [] });
  t.match(created.id, /^[0-9a-f]{16}$/, 'X-Toxiproxy-Request-Id');

  const cases: Array<[string, string, unknown, number, string]> = [
    ['GET', '/proxies/nope', undefined, 404, error('proxy not found', 404)],
    ['POST', '/proxies', { name: 'a', upstream: `127.0.0.1:${echo}` }, 409, error('proxy already exists', 409)],
    ['POST', '/proxies', { upstream: '127.0.0.1:1' }, 400, error('missing required field: name', 400)],
    ['POST', '/proxies', { name: 'z' }, 400, error('missing required field: upstream', 400)],
    ['POST', '/proxies/a/toxics', { type: 'latency', stream: 'sideways' }, 400, error('stream was invalid, can be either upstream or downstream', 400)],
    ['POST', '/proxies/a/toxics', { type: 'corrupt' }, 400, error('invalid toxic type', 400)],
    [
      'POST',
      '/proxies/a/toxics',
      { type: 'latency', attributes: { latency: -5 } },
      400,
      error('bad request body: latency must be a whole number from 0 to 86400000 (ms)', 400),
    ],
    ['POST', '/proxies/a/toxics', { type: 'latency', toxicity: 1.5 }, 400, error('bad request body: toxicity must be a number from 0 to 1', 400)],
    ['POST', '/proxies/a/toxics', '{"type":', 400, ''],
    ['DELETE', '/proxies/a/toxics/nope', undefined, 404, error('toxic not found', 404)],
    ['POST', '/populate', [{ name: 'd', upstream: '127.0.0.1:1' }, { upstream: 'x:1' }], 400, error('missing required field: name at proxy 2', 400)],
    ['GET', '/nothing', undefined, 404, '404 page not found\n'],
  ];
  for (const [method, path, body, status, text] of cases) {
    const got = await call(method, path, body);
    t.equal(got.status, status, `${method} ${path} ${JSON.stringify(body) ?? ''} -> ${status}`);
    if (text !== '') t.equal(got.text, text);
    else t.match(got.text, /^\{"error":"bad request body: .*","status":400\}\n$/);
    t.equal(got.type, 'text/plain; charset=utf-8', 'errors are written as Go http.Error writes them');
  }

  const added = await call('POST', '/proxies/a/toxics', { type: 'latency', attributes: { latency: 10 } });
  t.equal(added.status, 200, 'adding a toxic is a 200, not a 201');
  t.same(JSON.parse(added.text), { attributes: { latency: 10, jitter: 0 }, name: 'latency_downstream', type: 'latency', stream: 'downstream', toxicity: 1 });
  t.equal((await call('POST', '/proxies/a/toxics', { type: 'latency' })).status, 409, 'toxic already exists');
  await call('POST', '/proxies/a/toxics', { type: 'timeout', stream: 'UPSTREAM' });
  const listed = JSON.parse((await call('GET', '/proxies/a/toxics')).text) as Array<{ name: string }>;
  t.same(
    listed.map((x) => x.name),
    ['timeout_upstream', 'latency_downstream'],
    'the upstream chain is listed first; stream is case-insensitive',
  );
  t.equal((await call('PATCH', '/proxies/a', { enabled: false })).status, 200);
  t.match(JSON.parse((await call('GET', '/proxies/a')).text), { enabled: false });
  t.equal((await call('DELETE', '/proxies/a/toxics/latency_downstream')).status, 204);
  t.equal((await call('POST', '/reset')).status, 204);
  t.match(JSON.parse((await call('GET', '/proxies/a')).text), { enabled: true, toxics: [] }, '/reset enables every proxy and removes every API toxic');
  t.equal((await call('GET', '/version', undefined, { 'user-agent': 'Mozilla/5.0' })).status, 403, 'browsers are refused');
  t.equal((await call('PUT', '/proxies')).status, 405);
  t.equal(
    (await call('POST', '/proxies', { name: 'far', upstream: '127.0.0.1:1', listen: '10.1.2.3:80' })).status,
    403,
    'no forward off loopback without --toxiproxy-allow-remote',
  );
  const busy = await call('POST', '/proxies', { name: 'busy', upstream: '127.0.0.1:1', listen: `127.0.0.1:${instance.toxiproxyPort}` });
  t.equal(busy.status, 500);
  t.match(busy.text, /^\{"error":"listen tcp 127\.0\.0\.1:\d+: .*address already in use.*","status":500\}\n$/);
  t.equal((await call('DELETE', '/proxies/a')).status, 204);
  t.equal((await call('GET', '/proxies/a')).status, 404);
});
