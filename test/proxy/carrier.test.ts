/**
 * The carrier contract's one list of end reasons (src/proxy/carrier.ts) and
 * the native addon's `enum reason` (native/splice-pump/src/splice_pump.c)
 * are the same list: same names, same numbers, same order. The addon reports
 * an end as a number, so a drift would mislabel every natively pumped
 * connection; this reads the C source as text, no compiler needed.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { CARRIER_ENDS, carrierEnd } from '../../src/proxy/carrier.js';

/** Compiled to build/test/proxy/, run from there: the source tree is three levels up. */
const C_SOURCE = fileURLToPath(new URL('../../../native/splice-pump/src/splice_pump.c', import.meta.url));

/** The C name of a carrier end; the addon calls the drain's reset R_ABORT (it only knows it was told to reset). */
function cName(end: string): string {
  return end === 'drain' ? 'R_ABORT' : `R_${end.toUpperCase()}`;
}

async function reasonEnum(): Promise<Array<{ name: string; value: number }>> {
  const text = await readFile(C_SOURCE, 'utf8');
  const body = /enum\s+reason\s*\{([^}]*)\}/.exec(text)?.[1];
  if (body === undefined) throw new Error(`no 'enum reason { ... }' in ${C_SOURCE}`);
  const withoutComments = body.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  let next = 0;
  return withoutComments
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const m = /^([A-Z_][A-Z0-9_]*)\s*(?:=\s*(\d+))?$/.exec(entry);
      if (m === null) throw new Error(`cannot read enum entry '${entry}'`);
      const value = m[2] === undefined ? next : Number(m[2]);
      next = value + 1;
      return { name: m[1] ?? '', value };
    });
}

t.test("splice_pump.c's enum reason is CARRIER_ENDS: names and values, in order, from 1", async (t) => {
  const want = CARRIER_ENDS.map((end, i) => ({ name: cName(end), value: i + 1 }));
  t.same(await reasonEnum(), want);
});

t.test('an end number decodes to its name; one the addon should never send reads as a reset', async (t) => {
  t.same(
    CARRIER_ENDS.map((_, i) => carrierEnd(i + 1)),
    [...CARRIER_ENDS],
  );
  t.equal(carrierEnd(0), 'client_reset');
  t.equal(carrierEnd(CARRIER_ENDS.length + 1), 'client_reset');
});
