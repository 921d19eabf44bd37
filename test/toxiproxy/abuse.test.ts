/**
 * The toxiproxy API under malformed and abusive requests (issue 25): each
 * class answered with toxiproxy's status and Go's error text, never a 500,
 * a stack overflow or a reset; ad-hoc proxies bounded.
 */
import { request as httpRequest } from 'node:http';
import t, { type Test } from 'tap';
const MAX_AD_HOC_PROXIES = 256;
import { startInstance } from '../helpers/instance.js';
import { startEchoServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';

interface Answer {
  readonly status: number;
  readonly text: string;
}

async function api(t: Test): Promise<{ call: (method: string, path: string, body?: string) => Promise<Answer>; port: number }> {
  const dir = await configDir(t, { 'empty.yaml': '# nothing\n' });
  const instance = await startInstance(t, dir, { toxiproxy: { host: '127.0.0.1', port: 0 } });
  const port = instance.toxiproxyPort;
  const call = async (method: string, path: string, body?: string): Promise<Answer> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, ...(body === undefined ? {} : { body }) });
    return { status: res.status, text: await res.text() };
  };
  return { call, port };
}

const error = (message: string, status: number): string => `${JSON.stringify({ error: message, status })}\n`;
const deep = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

t.test('a 100k-deep JSON value: 400 with Go decoder text, nothing stringified, the server still answers', async (t) => {
  const echo = await startEchoServer(t);
  const { call } = await api(t);
  const tooDeep = error("bad request body: invalid character '[' exceeded max depth", 400);
  const inListen = await call('POST', '/proxies', `{"name":"deep","upstream":"127.0.0.1:${echo}","listen":${deep(100_000)}}`);
  t.same(inListen, { status: 400, text: tooDeep }, 'deep listen');
  t.same(await call('POST', '/populate', deep(100_000)), { status: 400, text: tooDeep }, 'deep populate body');
  t.same(
    await call('POST', '/proxies', `{"name":"s","upstream":"x:1","listen":"${'['.repeat(20_000)}"}`),
    {
      status: 400,
      text: error(`bad request body: listen "${'['.repeat(20_000)}" is not host:port`, 400),
    },
    'brackets inside a string are not nesting',
  );
  t.same(
    await call('POST', '/proxies', `{"name":"deep","upstream":"127.0.0.1:${echo}","listen":${deep(9_999)}}`),
    { status: 400, text: error('bad request body: json: cannot unmarshal array into Go struct field Proxy.listen of type string', 400) },
    "10000 levels in all (Go's limit) are decoded: then refused for the type",
  );
  t.equal((await call('GET', '/proxies/deep')).status, 404, 'nothing was created');
  t.equal((await call('GET', '/version')).status, 200, 'still serving');
});

t.test('a body over the 1 MiB cap is read and answered 413, not reset; the next request works', async (t) => {
  const { call, port } = await api(t);
  const big = `{"name":"big","upstream":"127.0.0.1:1","listen":"${'x'.repeat(2 * 1024 * 1024)}"}`;
  t.same(await call('POST', '/proxies', big), { status: 413, text: error('bad request body: larger than 1048576 bytes', 413) });
  // Chunked (no Content-Length): the same answer, read as it streams.
  const chunked = await new Promise<Answer>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/proxies' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    for (let i = 0; i < 24; i++) req.write(Buffer.alloc(100 * 1024, 0x20));
    req.end();
  });
  t.same(chunked, { status: 413, text: error('bad request body: larger than 1048576 bytes', 413) }, 'chunked');
  t.equal((await call('GET', '/proxies/big')).status, 404);
});

t.test('fields of the wrong JSON type: 400 with Go UnmarshalTypeError text, nothing created or changed', async (t) => {
  const echo = await startEchoServer(t);
  const { call } = await api(t);
  const up = `127.0.0.1:${echo}`;
  const cases: Array<[string, string]> = [
    ['"yes"', 'string'],
    ['"true"', 'string'],
    ['1', 'number'],
    ['0', 'number'],
    ['[]', 'array'],
    ['{}', 'object'],
  ];
  for (const [value, kind] of cases) {
    const got = await call('POST', '/proxies', `{"name":"e","upstream":"${up}","enabled":${value}}`);
    t.same(
      got,
      { status: 400, text: error(`bad request body: json: cannot unmarshal ${kind} into Go struct field Proxy.enabled of type bool`, 400) },
      `enabled ${value}`,
    );
  }
  t.equal((await call('GET', '/proxies/e')).status, 404, 'no proxy was created');
  t.same(await call('POST', '/proxies', `{"name":"e","upstream":"${up}","listen":5}`), {
    status: 400,
    text: error('bad request body: json: cannot unmarshal number into Go struct field Proxy.listen of type string', 400),
  });
  t.same(await call('POST', '/proxies', `{"name":["e"],"upstream":"${up}"}`), {
    status: 400,
    text: error('bad request body: json: cannot unmarshal array into Go struct field Proxy.name of type string', 400),
  });
  t.same(await call('POST', '/populate', `[{"name":"p","upstream":"${up}","enabled":"no"}]`), {
    status: 400,
    text: error('bad request body: json: cannot unmarshal string into Go struct field Proxy.enabled of type bool', 400),
  });
  t.equal((await call('POST', '/proxies', `{"name":"e","upstream":"${up}","enabled":null}`)).status, 201, 'null is Go no-op: the default, enabled');
  t.same(await call('PATCH', '/proxies/e', '{"enabled":"false"}'), {
    status: 400,
    text: error('bad request body: json: cannot unmarshal string into Go struct field Proxy.enabled of type bool', 400),
  });
  t.equal(JSON.parse((await call('GET', '/proxies/e')).text).enabled, true, 'still enabled');
  t.same(await call('PATCH', '/proxies/nope', '{"enabled":"false"}'), { status: 404, text: error('proxy not found', 404) }, 'lookup before decoding');
  t.same(await call('POST', '/proxies', 'not json'), { status: 400, text: error(`bad request body: ${jsonSyntaxError('not json')}`, 400) }, 'syntax');
});

function jsonSyntaxError(text: string): string {
  try {
    JSON.parse(text);
    return '';
  } catch (err: unknown) {
    return err instanceof Error ? err.message : String(err);
  }
}

t.test(`at most ${MAX_AD_HOC_PROXIES} ad-hoc proxies: the next is 403, a deletion makes room`, async (t) => {
  const { call } = await api(t);
  // Disabled forwards bind nothing: the bound is on the proxies, not on sockets.
  for (let i = 0; i < MAX_AD_HOC_PROXIES; i++) {
    const got = await call('POST', '/proxies', JSON.stringify({ name: `p${i}`, upstream: '127.0.0.1:1', enabled: false }));
    if (got.status !== 201) t.fail(`proxy ${i}: ${got.status} ${got.text}`);
  }
  const over = error(`too many proxies: at most ${MAX_AD_HOC_PROXIES} proxies can be created through the API; delete one first`, 403);
  t.same(await call('POST', '/proxies', JSON.stringify({ name: 'one-more', upstream: '127.0.0.1:1', enabled: false })), { status: 403, text: over });
  const populated = await call(
    'POST',
    '/populate',
    JSON.stringify([
      { name: 'p0', upstream: '127.0.0.1:1', enabled: false },
      { name: 'new', upstream: '127.0.0.1:1' },
    ]),
  );
  t.equal(populated.status, 403, 'populate past the limit');
  t.match(JSON.parse(populated.text), { error: (JSON.parse(over) as { error: string }).error, status: 403, proxies: [{ name: 'p0' }] });
  t.equal(Object.keys(JSON.parse((await call('GET', '/proxies')).text)).length, MAX_AD_HOC_PROXIES);
  t.equal((await call('DELETE', '/proxies/p7')).status, 204);
  t.equal((await call('POST', '/proxies', JSON.stringify({ name: 'one-more', upstream: '127.0.0.1:1', enabled: false }))).status, 201, 'room again');
});
