/**
 * Strict field checking, as `kubectl apply` (`--validate=strict`, the
 * default) does it: every key of an object must be a field of its type, and
 * every value must decode into the field's type. Field lists come from a
 * table (k8s-fields.generated.ts for Kubernetes kinds, a kind's own table
 * for svcproxy's API group), never from the per-kind validators, which only
 * read what they use.
 */
import { isRecord, show } from './fields.js';

/**
 * A field's type: `string`, `integer`, `boolean`, `int-or-string`,
 * `date-time`, `any`, `[]X` (a list of X), `{}X` (a map of string keys to X),
 * or the name of an object type of the table.
 */
export type FieldType = string;

/** Object type name -> field name (the JSON key) -> field type. */
export type FieldTypes = Readonly<Record<string, Readonly<Record<string, FieldType>>>>;

/** One finding of the strict check. `unknown` findings are always reported; `type` ones yield to a kind's own message. */
export interface FieldProblem {
  readonly kind: 'unknown' | 'type';
  /** Where, as `spec.ports[0].port`; '' for the object itself. */
  readonly path: string;
  readonly message: string;
}

/** Bounds the work per object: a document past the parser's caps cannot get here, this is a second fence. */
const MAX_PROBLEMS = 50;

/**
 * Checks `value` against `type`. Unknown fields are reported the way the API
 * server words a strict decoding error (`unknown field "spec.selectr"`),
 * with the closest field name as a suggestion. A null value is always
 * accepted (it decodes to the field's zero value, as in Go).
 */
export function checkFields(value: unknown, type: FieldType, types: FieldTypes): FieldProblem[] {
  const problems: FieldProblem[] = [];
  walk(value, type, '', types, problems);
  return problems;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

const isInteger = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v);
const isString = (v: unknown): boolean => typeof v === 'string';

/** The leaf types of the field table: what a value must be, and how the problem says so. */
const SCALARS: ReadonlyMap<string, { readonly test: (v: unknown) => boolean; readonly expected: string }> = new Map([
  ['any', { test: () => true, expected: '' }],
  ['string', { test: isString, expected: 'a string' }],
  ['date-time', { test: isString, expected: 'a string' }],
  ['boolean', { test: (v: unknown) => typeof v === 'boolean', expected: 'a boolean' }],
  ['integer', { test: isInteger, expected: 'an integer' }],
  ['int-or-string', { test: (v: unknown) => isString(v) || isInteger(v), expected: 'an integer or a string' }],
]);

function walk(value: unknown, type: FieldType, path: string, types: FieldTypes, out: FieldProblem[]): void {
  if (value === null || value === undefined || out.length >= MAX_PROBLEMS) return;
  const wrong = (expected: string): void => {
    out.push({ kind: 'type', path, message: `Invalid value: ${show(value)}: must be ${expected}` });
  };
  if (type.startsWith('[]')) {
    if (!Array.isArray(value)) return wrong('a list');
    value.forEach((item: unknown, i) => walk(item, type.slice(2), `${path}[${i}]`, types, out));
    return;
  }
  if (type.startsWith('{}')) {
    if (!isRecord(value)) return wrong('a mapping');
    for (const [key, item] of Object.entries(value)) walk(item, type.slice(2), `${path}[${key}]`, types, out);
    return;
  }
  const scalar = SCALARS.get(type);
  if (scalar !== undefined) {
    if (!scalar.test(value)) wrong(scalar.expected);
    return;
  }
  const fields = types[type];
  if (fields === undefined) throw new Error(`field table has no type ${type}`); // a broken table is a bug, not bad input
  if (!isRecord(value)) return wrong('a mapping');
  walkFields(value, fields, path, types, out);
}

/** An object's fields: each known one walked, each unknown one a problem (with the likely meant name). */
function walkFields(value: Record<string, unknown>, fields: Readonly<Record<string, FieldType>>, path: string, types: FieldTypes, out: FieldProblem[]): void {
  for (const [key, item] of Object.entries(value)) {
    if (out.length >= MAX_PROBLEMS) return;
    const fieldType = fields[key];
    if (fieldType === undefined) {
      const full = join(path, key);
      const hint = suggest(key, Object.keys(fields));
      out.push({
        kind: 'unknown',
        path: full,
        message: `unknown field ${JSON.stringify(full)}${hint === undefined ? '' : `; did you mean ${JSON.stringify(hint)}?`}`,
      });
      continue;
    }
    walk(item, fieldType, join(path, key), types, out);
  }
}

/**
 * The known name a typo most likely meant: the same name in another case
 * (`targetport`), or the nearest by edit distance when it is close enough
 * to be a slip rather than another word.
 */
export function suggest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const sameCase = known.find((k) => k.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.min(3, Math.floor(name.length / 3)));
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase(), bestDistance);
    if (d <= bestDistance && (best === undefined || d < bestDistance)) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance (a swap of two neighbours costs 1), cut off above `max`. */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (prev2[j - 2] ?? 0) + 1);
      row.push(d);
      rowMin = Math.min(rowMin, d);
    }
    if (rowMin > max) return max + 1;
    prev2 = prev;
    prev = row;
  }
  return prev[b.length] ?? 0;
}
