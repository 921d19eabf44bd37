/**
 * The fault room's arrows, checked on the source: `proxy/` consults
 * `faults/` through its types only (the chain object hands out its stages),
 * and `faults/` imports nothing outside itself, so it can never close a
 * cycle with the data path or the planner (dpdm counts type imports too).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

// Tests run from build/test/faults/: the sources are three levels up.
const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(join(SRC, dir), { recursive: true });
  return entries.filter((name) => name.endsWith('.ts')).map((name) => join(dir, name));
}

/** Every `import ... from '...'` statement of a file (possibly over several lines), with its specifier. */
function imports(text: string): Array<{ statement: string; from: string }> {
  return [...text.matchAll(/^import\s[^;]*?from\s+'([^']+)';/gms)].map((m) => ({ statement: m[0], from: m[1] ?? '' }));
}

t.test('proxy/ imports only types from faults/', async (t) => {
  let seen = 0;
  for (const file of await sources('proxy')) {
    for (const i of imports(await readFile(join(SRC, file), 'utf8'))) {
      if (!i.from.includes('/faults/')) continue;
      seen++;
      t.match(i.statement, /^import type /, `${file}: ${i.statement}`);
    }
  }
  t.ok(seen > 0, 'proxy/ does consult faults/ (the check is not vacuous)');
});

t.test('faults/ imports nothing outside faults/ but Node built-ins', async (t) => {
  for (const file of await sources('faults')) {
    for (const i of imports(await readFile(join(SRC, file), 'utf8'))) {
      const inside = i.from.startsWith('./') || (file.includes('/toxics/') && i.from.startsWith('../') && !i.from.startsWith('../../'));
      t.ok(inside || i.from.startsWith('node:'), `${file}: ${i.from}`);
    }
  }
});
