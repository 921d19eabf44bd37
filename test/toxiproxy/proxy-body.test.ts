import t from 'tap';
import { ApiError } from '../../src/toxiproxy/api-error.js';
import { checkProxyBody } from '../../src/toxiproxy/proxy-body.js';

const ok: ReadonlyArray<{ name: string; body: unknown; allowRemote?: boolean; want: unknown }> = [
  {
    name: 'listen defaults to loopback port 0, enabled to true',
    body: { name: 'a', upstream: 'db:5432' },
    want: { name: 'a', listen: { host: '127.0.0.1', port: 0 }, upstream: { host: 'db', port: 5432 }, enabled: true },
  },
  {
    name: "Go's :port and localhost bind loopback",
    body: { name: 'a', upstream: '[::1]:80', listen: 'localhost:9000', enabled: false },
    want: { name: 'a', listen: { host: '127.0.0.1', port: 9000 }, upstream: { host: '::1', port: 80 }, enabled: false },
  },
  {
    name: 'a non-loopback listen with --toxiproxy-allow-remote',
    body: { name: 'a', upstream: 'db:1', listen: '10.1.2.3:80' },
    allowRemote: true,
    want: { name: 'a', listen: { host: '10.1.2.3', port: 80 }, upstream: { host: 'db', port: 1 }, enabled: true },
  },
];

const bad: ReadonlyArray<{ name: string; body: unknown; where?: string; status: number; message: string }> = [
  { name: 'not an object', body: [], status: 400, message: 'bad request body: expected a JSON object' },
  { name: 'no name (checked before upstream)', body: {}, status: 400, message: 'missing required field: name' },
  { name: 'no upstream, with where', body: { name: 'a' }, where: ' at proxy 2', status: 400, message: 'missing required field: upstream at proxy 2' },
  { name: 'a missing upstream comes before a bad name', body: { name: 'a/b' }, status: 400, message: 'missing required field: upstream' },
  {
    name: 'a bad name',
    body: { name: 'a/b', upstream: 'x:1' },
    status: 400,
    message: `bad request body: invalid proxy name "a/b": letters, digits, '-', '_', '.' and ':' only`,
  },
  { name: 'upstream port 0', body: { name: 'a', upstream: 'x:0' }, status: 400, message: 'bad request body: upstream "x:0" is not host:port' },
  { name: 'upstream without host', body: { name: 'a', upstream: ':80' }, status: 400, message: 'bad request body: upstream ":80" is not host:port' },
  {
    name: 'listen not an address',
    body: { name: 'a', upstream: 'x:1', listen: 5 },
    status: 400,
    message: 'bad request body: json: cannot unmarshal number into Go struct field Proxy.listen of type string',
  },
  {
    name: 'listen port out of range',
    body: { name: 'a', upstream: 'x:1', listen: '127.0.0.1:70000' },
    status: 400,
    message: 'bad request body: listen "127.0.0.1:70000" is not host:port',
  },
  {
    name: 'listen off loopback without --toxiproxy-allow-remote',
    body: { name: 'a', upstream: 'x:1', listen: '10.1.2.3:80' },
    status: 403,
    message:
      "listen 10.1.2.3:80: not a loopback address; svcproxy's toxiproxy API creates forwards on loopback only unless started with --toxiproxy-allow-remote",
  },
];

for (const c of ok) {
  t.test(c.name, async (t) => {
    t.same(checkProxyBody(c.body, '', c.allowRemote === true), c.want);
  });
}

for (const c of bad) {
  t.test(`refused: ${c.name}`, async (t) => {
    let caught: unknown;
    try {
      checkProxyBody(c.body, c.where ?? '', false);
    } catch (err: unknown) {
      caught = err;
    }
    t.ok(caught instanceof ApiError, 'an ApiError (server.ts maps it to toxiproxy JSON)');
    t.same(caught instanceof ApiError ? [caught.status, caught.message] : caught, [c.status, c.message], 'its exact status and text');
  });
}
