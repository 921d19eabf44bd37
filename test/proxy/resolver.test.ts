import t from 'tap';
import { Resolver, type LookupFn } from '../../src/proxy/resolver.js';

function resolveOnce(r: Resolver, host: string): Promise<string> {
  return new Promise((resolve) => r.resolve(host, (err, address) => resolve(err === null ? address : `error ${(err as NodeJS.ErrnoException).code ?? ''}`)));
}

t.test('IP literals pass straight through without a lookup', async (t) => {
  let lookups = 0;
  const r = new Resolver((_h, cb) => {
    lookups++;
    cb(null, ['127.0.0.9']);
  });
  t.equal(await resolveOnce(r, '127.0.0.1'), '127.0.0.1');
  t.equal(await resolveOnce(r, '::1'), '::1');
  t.equal(lookups, 0);
});

t.test('every address of a name takes part in the rotation; results are cached', async (t) => {
  let lookups = 0;
  const r = new Resolver((_h, cb) => {
    lookups++;
    cb(null, ['127.0.0.2', '127.0.0.3']);
  }, 60_000);
  const got = [];
  for (let i = 0; i < 4; i++) got.push(await resolveOnce(r, 'app'));
  t.same(got, ['127.0.0.2', '127.0.0.3', '127.0.0.2', '127.0.0.3']);
  t.equal(lookups, 1);
});

t.test('a changed answer is seen once the cache expires', async (t) => {
  let answer = '127.0.0.2';
  const r = new Resolver((_h, cb) => cb(null, [answer]), 0);
  t.equal(await resolveOnce(r, 'app'), '127.0.0.2');
  answer = '127.0.0.3';
  t.equal(await resolveOnce(r, 'app'), '127.0.0.3');
});

t.test('concurrent resolutions share one lookup', async (t) => {
  let lookups = 0;
  let finish: ((addresses: readonly string[]) => void) | undefined;
  const lookup: LookupFn = (_h, cb) => {
    lookups++;
    finish = (a) => cb(null, a);
  };
  const r = new Resolver(lookup);
  const both = Promise.all([resolveOnce(r, 'app'), resolveOnce(r, 'app')]);
  finish?.(['127.0.0.4']);
  t.same(await both, ['127.0.0.4', '127.0.0.4']);
  t.equal(lookups, 1);
});

t.test('failures are not cached; an empty answer is a failure', async (t) => {
  let calls = 0;
  const r = new Resolver((_h, cb) => {
    calls++;
    cb(calls === 1 ? Object.assign(new Error('nope'), { code: 'ENOTFOUND' }) : null, calls === 2 ? [] : ['127.0.0.5']);
  });
  t.equal(await resolveOnce(r, 'app'), 'error ENOTFOUND');
  t.equal(await resolveOnce(r, 'app'), 'error ENOTFOUND');
  t.equal(await resolveOnce(r, 'app'), '127.0.0.5');
});

t.test('the system resolver answers localhost', async (t) => {
  const r = new Resolver();
  t.match(await resolveOnce(r, 'localhost'), /^(127\.0\.0\.1|::1)$/);
  t.match(await resolveOnce(r, 'no-such-host.invalid'), /^error (ENOTFOUND|EAI_AGAIN)$/);
});
