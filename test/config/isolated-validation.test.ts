/**
 * Validation in a child process: the same answer as in this thread, every
 * failure of the child becomes a problem line against the file it was
 * reading, this process survives it, and the event loop stays free while it
 * works.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { DEFAULT_LIMITS, validateIsolated } from '../../src/config/isolated-validation.js';
import { formatIssue } from '../../src/config/types.js';
import { validateSources } from '../../src/config/validate-sources.js';
import { request, startServer } from '../helpers/net.js';
import { REPRO } from './parse.test.js';

const GOOD = {
  file: 'good.yaml',
  text: 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n',
};

/** About 4 MB of valid YAML: long enough to parse that a round trip on loopback finishes first. */
function heavy(): string {
  const items = Array.from({ length: 9000 }, (_, i) => `  k${i}: "${'v'.repeat(400)}"`).join('\n');
  return `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n${items}\n`;
}

t.test('the validation process gives the same result as validating in this thread', async (t) => {
  const sources = [GOOD, { file: 'bad.yaml', text: 'apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {selectr: {}}\n' }];
  t.same(await validateIsolated(sources, 'cfg'), validateSources(sources));
});

t.test('the issue-11 repro through the validation process: one problem line', async (t) => {
  const result = await validateIsolated([GOOD, { file: 'repro.yaml', text: readFileSync(REPRO, 'utf8') }], 'cfg');
  t.same(result.issues.map(formatIssue), ['repro.yaml: could not be parsed: nesting too deep (more than 128 levels at line 369)']);
});

t.test('a validation past its time limit is stopped; the problem names the limit', async (t) => {
  const result = await validateIsolated([{ file: 'big.yaml', text: heavy() }], 'cfg', { ...DEFAULT_LIMITS, timeLimitMs: 1 });
  t.equal(result.issues.length, 1);
  t.match(formatIssue(result.issues[0]!), /^(cfg|big\.yaml): could not be parsed: not done within 0\.001 s \(time limit\)$/);
  t.same(result.snapshot.services, []);
});

t.test('a validation past its heap limit is stopped, this process is not; the problem names the file it was reading', async (t) => {
  // Five times: a worker thread's overshoot aborted its whole process about one run in ten (nodejs/node#47224).
  for (let i = 0; i < 5; i++) {
    const result = await validateIsolated([GOOD, { file: 'big.yaml', text: heavy() }], 'cfg', { ...DEFAULT_LIMITS, heapMb: 48 });
    t.same(result.issues.map(formatIssue), ['big.yaml: could not be parsed: needs more than 48 MB of memory (limit)']);
  }
});

t.test('nothing to validate needs no process', async (t) => {
  t.same((await validateIsolated([], 'cfg')).issues, []);
});

t.test('the event loop serves while a snapshot is validated', async (t) => {
  const port = await startServer(t, (s) => s.end('pong'));
  let validated = false;
  const validation = validateIsolated([{ file: 'big.yaml', text: heavy() }], 'cfg').then((r) => {
    validated = true;
    return r;
  });
  const reply = await request(port);
  t.equal(reply.data.toString(), 'pong');
  t.notOk(validated, 'a loopback round trip finished while the worker was still parsing');
  t.same((await validation).issues, []);
});
