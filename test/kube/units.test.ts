import t from 'tap';
import { objectKey, parseEvent, resourcePath, statusError, validObject } from '../../src/kube/api.js';
import { Backoff } from '../../src/kube/backoff.js';
import type { KubeObject, KubeObjectMeta } from '../../src/kube/types.js';
import { LineSplitter } from '../../src/kube/watch-lines.js';

t.test('Backoff: full jitter under a doubling ceiling, capped, reset', async (t) => {
  const top = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999 });
  t.same([1, 2, 3, 4, 5, 6].map(() => top.next()), [99, 199, 399, 799, 999, 999]);
  t.equal(top.attempts, 6);
  top.reset();
  t.equal(top.next(), 99, 'from the start after reset()');
  const bottom = new Backoff({ random: () => 0 });
  t.equal(bottom.next(), 0, 'full jitter reaches 0');
  t.equal(new Backoff().maxMs, 30_000);
  const many = new Backoff({ random: () => 0.5 });
  for (let i = 0; i < 100; i++) many.next();
  t.equal(many.next(), 15_000, 'no overflow after many failures');
});

t.test('LineSplitter: lines across chunks, UTF-8 split mid-character, empty lines, the limit, the rest', async (t) => {
  const s = new LineSplitter(16);
  t.same(s.push(Buffer.from('{"a":1}\n{"b"')), ['{"a":1}']);
  t.same(s.push(Buffer.from(':2}\n\n\n')), ['{"b":2}'], 'joined across chunks; empty lines skipped');
  const euro = Buffer.from('"€"\n');
  t.same(s.push(euro.subarray(0, 2)), []);
  t.same(s.push(euro.subarray(2)), ['"€"'], 'a character split between chunks');
  t.same(s.push(Buffer.from('trunc')), []);
  t.equal(s.end(), 'trunc', 'what had no newline at the end');
  t.equal(s.end(), '');
  t.throws(() => new LineSplitter(8).push(Buffer.from('123456789')), { name: 'LineTooLong' }, 'no newline past the limit');
  const pieces = new LineSplitter(8);
  pieces.push(Buffer.from('12345'));
  t.throws(() => pieces.push(Buffer.from('6789\n')), { name: 'LineTooLong' }, 'a line over the limit across chunks');
  t.same(new LineSplitter(8).push(Buffer.from('12345678\n')), ['12345678'], 'exactly the limit');
});

t.test('paths, Status errors, object validation, events', async (t) => {
  t.equal(resourcePath('services', ''), '/api/v1/services');
  t.equal(resourcePath('pods', 'shop'), '/api/v1/namespaces/shop/pods');
  t.equal(resourcePath('endpointslices', ''), '/apis/discovery.k8s.io/v1/endpointslices');
  t.equal(resourcePath('endpointslices', 'shop'), '/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices');

  t.match(statusError(403, '{"kind":"Status","code":403,"reason":"Forbidden","message":"no"}'), { code: 403, reason: 'Forbidden', message: '403 Forbidden: no' });
  t.match(statusError(502, '<html>bad gateway</html>'), { code: 502, message: '502: <html>bad gateway</html>' });
  t.match(statusError(500, ''), { code: 500, message: '500: no message' });
  t.match(statusError(500, { code: 410, reason: 'Expired', message: 'too old resource version' }), { code: 410, reason: 'Expired' });

  const meta: KubeObjectMeta = { name: 'web', namespace: 'shop', resourceVersion: '7', labels: { app: 'web' } };
  const ok = validObject({ metadata: meta, spec: {} }, 'services');
  t.match(ok, { kind: 'Service', apiVersion: 'v1', metadata: meta, spec: {} });
  t.equal(objectKey(ok as KubeObject), 'shop/web');
  t.equal(objectKey(validObject({ metadata: { name: 'global' } }, 'services') as KubeObject), '/global');
  t.equal(validObject(null, 'pods'), 'not an object');
  t.equal(validObject({}, 'pods'), 'no metadata');
  t.equal(validObject({ metadata: { name: '' } }, 'pods'), 'no metadata.name');
  t.equal(validObject({ metadata: { name: 'x', namespace: 3 } }, 'pods'), 'metadata.namespace is not a string');
  t.equal(validObject({ metadata: { name: 'x', resourceVersion: 3 } }, 'pods'), 'metadata.resourceVersion is not a string');
  t.equal(validObject({ metadata: { name: 'x', annotations: [] } }, 'pods'), 'metadata.annotations is not a string map');
  t.equal(validObject({ kind: 'Pod', metadata: { name: 'x' } }, 'services'), 'kind "Pod" is not Service');

  t.same(parseEvent('{"type":"ADDED","object":{"metadata":{"name":"a"}}}'), { type: 'ADDED', object: { metadata: { name: 'a' } } });
  t.equal(parseEvent('{"type":'), 'malformed JSON');
  t.equal(parseEvent('[1]'), 'not an object');
  t.equal(parseEvent('{"type":"NOPE"}'), 'unknown event type "NOPE"');
});
