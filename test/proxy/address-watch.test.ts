import { mock } from 'node:test';
import t from 'tap';
import { AddressWatch } from '../../src/proxy/address-watch.js';
import { DNS_TIMEOUT_MS, type LookupFn } from '../../src/proxy/resolver.js';
import { silentLog } from '../helpers/log.js';
import { eventually } from '../helpers/net.js';

function failure(code: string): Error {
  return Object.assign(new Error(code), { code });
}

t.test('names are resolved at once and again every period; a changed set is reported, an unchanged one is not', async (t) => {
  let answer: Error | string[] = ['10.0.0.2', '10.0.0.1', '10.0.0.2'];
  let asked = 0;
  const lookup: LookupFn = (host, cb) => {
    asked++;
    if (host !== 'app') return cb(failure('ENOTFOUND'), []);
    if (answer instanceof Error) return cb(answer, []);
    cb(null, answer);
  };
  let changes = 0;
  const watch = new AddressWatch(() => changes++, silentLog, lookup, 20);
  t.teardown(() => watch.stop());
  watch.watch(['app', 'app']);
  t.same([...watch.resolved], [['app', ['10.0.0.1', '10.0.0.2']]], 'sorted, without duplicates; a synchronous answer is there at once');
  t.equal(changes, 1);
  await eventually(() => asked >= 4, 'asked again every period');
  t.equal(changes, 1, 'the same answer is no change');
  answer = failure('EAI_AGAIN');
  const before = asked;
  await eventually(() => asked >= before + 2, 'asked while failing');
  t.same(watch.resolved.get('app'), ['10.0.0.1', '10.0.0.2'], 'a resolver that fails keeps the last answer');
  answer = ['10.0.0.3'];
  await eventually(() => changes === 2, 'the new answer');
  t.same(watch.resolved.get('app'), ['10.0.0.3']);
  answer = failure('ENOTFOUND');
  await eventually(() => changes === 3, 'the name is gone');
  t.same(watch.resolved.get('app'), [], 'a name that does not exist has no addresses');
  watch.watch(['other']);
  t.same([...watch.resolved.keys()], ['other'], 'a name no binding names any more is forgotten');
  watch.watch([]);
  t.same([...watch.resolved], []);
});

t.test('a lookup that never answers times out (the name stays unresolved) and never piles up', async (t) => {
  // A fake clock: ten periods pass for sure (no sleep that a busy machine can shorten), then the time-out.
  mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  t.teardown(() => mock.timers.reset());
  let asked = 0;
  const lookup: LookupFn = () => void asked++;
  const watch = new AddressWatch(() => t.fail('no change'), silentLog, lookup, 20);
  t.teardown(() => watch.stop());
  watch.watch(['slow']);
  mock.timers.tick(200);
  t.equal(asked, 1, 'one lookup in flight per name at a time');
  t.same([...watch.resolved], []);
  mock.timers.tick(DNS_TIMEOUT_MS);
  t.ok(asked >= 2, 'asked again after the lookup time-out');
});

t.test('after stop, late answers and watch calls do nothing', async (t) => {
  let reply: ((err: Error | null, addresses: readonly string[]) => void) | undefined;
  const watch = new AddressWatch(
    () => t.fail('no change after stop'),
    silentLog,
    (_h, cb) => (reply = cb),
    20,
  );
  watch.watch(['app']);
  watch.stop();
  reply?.(null, ['10.0.0.1']);
  watch.watch(['app']);
  t.same([...watch.resolved], []);
});
