/**
 * The parser's bounds: whatever a file holds, parsing ends with documents
 * or with one problem line, deterministically.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { MAX_ITEMS, MAX_NESTING, parseDocuments } from '../../src/config/parse.js';
import { formatIssue } from '../../src/config/types.js';

export const REPRO = fileURLToPath(new URL('../../../test/fixtures/yaml-stack-overflow.yaml', import.meta.url));

function problems(text: string): string[] {
  return parseDocuments('t.yaml', text).issues.map(formatIssue);
}

t.test('the issue-11 repro is one problem line, the same every time (no stack overflow to race the JIT)', async (t) => {
  const text = readFileSync(REPRO, 'utf8');
  const first = problems(text);
  t.same(first, [`t.yaml: could not be parsed: nesting too deep (more than ${MAX_NESTING} levels at line 369)`]);
  for (let i = 0; i < 20; i++) t.same(problems(text), first, `run ${i + 2}`);
});

t.test('deep flow nesting, in sequences and in mappings', async (t) => {
  t.match(problems('['.repeat(100_000) + ']'.repeat(100_000)), [/^t\.yaml: could not be parsed: nesting too deep \(more than \d+ levels at line 1\)$/]);
  t.match(problems(`a: ${'{a: '.repeat(50_000)}1${'}'.repeat(50_000)}`), [/nesting too deep/]);
});

t.test('deep block nesting', async (t) => {
  const lines = Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i)}k${i}:`);
  t.match(problems(lines.join('\n')), [/^t\.yaml: could not be parsed: nesting too deep \(more than \d+ levels at line \d+\)$/]);
});

t.test('nesting just under the bound is fine', async (t) => {
  const depth = 100;
  const r = parseDocuments('t.yaml', `${'['.repeat(depth)}1${']'.repeat(depth)}`);
  t.same(r.issues, []);
  t.equal(r.documents.length, 1);
});

t.test('an alias bomb, an alias cycle and an alias that deepens past the bound are refused', async (t) => {
  const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${prev}`).join(', ')}]`);
  }
  t.same(problems(levels.join('\n')), ['t.yaml[0]: could not be parsed: too many alias expansions (more than 100): an alias bomb ("billion laughs")?']);
  t.same(problems('a: &a [*a]\n'), ['t.yaml[0]: could not be parsed: an alias refers to a node that contains it (a cycle)']);
  const deep = `${'['.repeat(90)}x${']'.repeat(90)}`;
  t.match(problems(`a: &a ${deep}\nb: &b [*a, [*a]]\nc: ${'['.repeat(45)}*b${']'.repeat(45)}\n`), [/once aliases are expanded/]);
});

t.test('a list or mapping past the item bound is refused', async (t) => {
  const items = Array.from({ length: MAX_ITEMS + 1 }, (_, i) => i).join(', ');
  t.same(problems(`a: [${items}]\n`), [`t.yaml[0]: a list has ${MAX_ITEMS + 1} items; the limit is ${MAX_ITEMS}`]);
});

t.test('a file of garbage gives its first problems and a count, not thousands of lines', async (t) => {
  const text = Array.from({ length: 200 }, (_, i) => `k${i}: [\n---\n`).join('');
  const lines = problems(text);
  t.equal(lines.length, 21);
  t.match(lines[20], /^t\.yaml: \d+ more problems in this file not shown$/);
});

t.test('JSON parses with the same parser', async (t) => {
  const r = parseDocuments('t.json', '{"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}]}}');
  t.same(r.issues, []);
  t.same(r.documents[0]?.value, { apiVersion: 'v1', kind: 'Service', spec: { ports: [{ port: 80 }] } });
});

t.test('YAML syntax errors say where', async (t) => {
  t.same(problems('a:\n\tb: 1\n'), ['t.yaml[0]: YAML syntax error at line 2, column 1: Tabs are not allowed as indentation']);
});
