/**
 * Label and field selectors as the API server parses them (apimachinery labels.Parse, fields.Parse):
 * `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma-joined. A selector that does not
 * parse throws a {@link SelectorError}; the router answers it with 400 BadRequest.
 */
import type { KubeObject } from './types.js';

export class SelectorError extends Error {
  override readonly name = 'SelectorError';
}

type Requirement =
  | { readonly op: 'exists' | 'absent'; readonly key: string }
  | { readonly op: 'in' | 'notin'; readonly key: string; readonly values: ReadonlySet<string> };

/** A parsed selector: true for every object it selects. */
export type Matcher = (object: KubeObject) => boolean;

const KEY = /^([a-z0-9A-Z]([a-z0-9A-Z.-]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([a-z0-9A-Z_.-]*[a-z0-9A-Z])?$/;
const VALUE = /^([a-z0-9A-Z]([a-z0-9A-Z_.-]*[a-z0-9A-Z])?)?$/;

/** Splits on commas outside parentheses. */
function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  out.push(current.trim());
  return out.filter((term) => term !== '');
}

function checked(key: string, values: readonly string[], term: string): void {
  if (!KEY.test(key)) throw new SelectorError(`unable to parse requirement: invalid label key "${key}" in "${term}"`);
  for (const v of values) if (!VALUE.test(v)) throw new SelectorError(`unable to parse requirement: invalid label value "${v}" in "${term}"`);
}

function parseTerm(term: string): Requirement {
  const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (set !== null) {
    const [, key = '', op, list = ''] = set;
    const values = list.split(',').map((v) => v.trim());
    checked(key, values, term);
    return { op: op === 'in' ? 'in' : 'notin', key, values: new Set(values) };
  }
  const eq = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (eq !== null) {
    const [, key = '', op, value = ''] = eq;
    checked(key, [value], term);
    return { op: op === '!=' ? 'notin' : 'in', key, values: new Set([value]) };
  }
  const absent = term.startsWith('!');
  const key = absent ? term.slice(1).trim() : term;
  checked(key, [], term);
  return { op: absent ? 'absent' : 'exists', key };
}

function holds(req: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const value = labels[req.key];
  switch (req.op) {
    case 'exists':
      return value !== undefined;
    case 'absent':
      return value === undefined;
    case 'in':
      return value !== undefined && req.values.has(value);
    case 'notin':
      return value === undefined || !req.values.has(value);
  }
}

/** `undefined` or '' selects everything. */
export function parseLabelSelector(selector: string | undefined): Matcher {
  const reqs = terms(selector ?? '').map(parseTerm);
  return (object) => reqs.every((req) => holds(req, object.metadata.labels ?? {}));
}

/** The field paths a field selector may name, per kind (as the real server's field label conversions). */
const FIELDS: Readonly<Record<string, readonly string[]>> = {
  Service: ['metadata.name', 'metadata.namespace', 'spec.clusterIP', 'spec.type'],
  Pod: ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'status.phase', 'status.podIP'],
  EndpointSlice: ['metadata.name', 'metadata.namespace', 'addressType'],
};

function fieldValue(object: KubeObject, path: string): string {
  let at: unknown = object;
  for (const part of path.split('.')) at = typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[part] : undefined;
  return typeof at === 'string' ? at : '';
}

/** Field selectors: `=`, `==`, `!=` on the fields listed for the kind. */
export function parseFieldSelector(kind: string, selector: string | undefined): Matcher {
  const allowed = FIELDS[kind] ?? [];
  const reqs = terms(selector ?? '').map((term) => {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (m === null) throw new SelectorError(`invalid selector: '${term}'; can't understand '${term}'`);
    const [, path = '', op, value = ''] = m;
    if (!allowed.includes(path)) throw new SelectorError(`field label not supported: ${path}`);
    return { path, negate: op === '!=', value };
  });
  return (object) => reqs.every((r) => (fieldValue(object, r.path) === r.value) !== r.negate);
}
