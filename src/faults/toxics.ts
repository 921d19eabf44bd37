/**
 * Toxics: toxiproxy's fault types, with its names, attributes and units
 * (Shopify/toxiproxy `toxics/*.go`), and the one validation both sources of
 * toxics use: the config folder (field-path errors) and the toxiproxy API
 * (400 with toxiproxy's error JSON). Pure data; the behaviour is in
 * faults/toxics/ (one file per toxic).
 *
 *   latency     latency ms, jitter ms   each chunk waits latency ± jitter
 *   bandwidth   rate KB/s               at most rate × 1000 bytes per second
 *   slow_close  delay ms                the close (FIN) waits
 *   timeout     timeout ms              nothing passes; closed after timeout (0: never)
 *   reset_peer  timeout ms              at the first data, wait, then reset (RST)
 *   slicer      average_size bytes, size_variation bytes, delay µs
 *   limit_data  bytes                   pass that many bytes, then close
 */

export const TOXIC_TYPES = ['latency', 'bandwidth', 'slow_close', 'timeout', 'reset_peer', 'slicer', 'limit_data'] as const;
export type ToxicType = (typeof TOXIC_TYPES)[number];

/** `upstream` is client -> server, `downstream` server -> client (toxiproxy's words). */
export type ToxicStream = 'upstream' | 'downstream';

/** Attribute values by name; every toxiproxy attribute is a whole number. */
type ToxicAttributes = Readonly<Record<string, number>>;

/** One validated toxic: as toxiproxy's Toxic JSON, defaults applied. */
export interface ToxicSpec {
  /** Unique per proxy (API) or per Fault (config); `<type>_<stream>` by default. */
  readonly name: string;
  readonly type: ToxicType;
  readonly stream: ToxicStream;
  /** Probability (0..1) that a connection gets this toxic, drawn once per connection. */
  readonly toxicity: number;
  /** Every attribute of the type, missing ones 0 (Go's zero value, as toxiproxy). */
  readonly attributes: ToxicAttributes;
}

interface AttributeRule {
  readonly name: string;
  readonly unit: string;
  readonly min: number;
  readonly max: number;
}

const DAY_MS = 86_400_000;

/** The attributes of each type with their units and accepted range. */
const TOXIC_ATTRIBUTES: Readonly<Record<ToxicType, readonly AttributeRule[]>> = {
  latency: [
    { name: 'latency', unit: 'ms', min: 0, max: DAY_MS },
    { name: 'jitter', unit: 'ms', min: 0, max: DAY_MS },
  ],
  // rate 0 is "no limit" in toxiproxy.
  bandwidth: [{ name: 'rate', unit: 'KB/s', min: 0, max: 100_000_000 }],
  slow_close: [{ name: 'delay', unit: 'ms', min: 0, max: DAY_MS }],
  timeout: [{ name: 'timeout', unit: 'ms', min: 0, max: DAY_MS }],
  reset_peer: [{ name: 'timeout', unit: 'ms', min: 0, max: DAY_MS }],
  slicer: [
    { name: 'average_size', unit: 'bytes', min: 1, max: 16 * 1024 * 1024 },
    { name: 'size_variation', unit: 'bytes', min: 0, max: 16 * 1024 * 1024 },
    { name: 'delay', unit: 'µs', min: 0, max: DAY_MS * 1000 },
  ],
  limit_data: [{ name: 'bytes', unit: 'bytes', min: 0, max: Number.MAX_SAFE_INTEGER }],
};

function isToxicType(value: unknown): value is ToxicType {
  return typeof value === 'string' && (TOXIC_TYPES as readonly string[]).includes(value);
}

/** One problem with a toxic: `path` is relative to the toxic (`attributes.latency`, `stream`, ...). */
interface ToxicProblem {
  readonly path: string;
  readonly value: unknown;
  readonly message: string;
  /** What kind of problem, so the config can word it as the API server does. */
  readonly kind: 'required' | 'invalid' | 'unsupported';
}

export type ToxicResult = { readonly ok: true; readonly toxic: ToxicSpec } | { readonly ok: false; readonly problems: readonly ToxicProblem[] };

/** The toxic name rule: toxiproxy has none; here a name must be usable in a URL path segment. */
const TOXIC_NAME = /^[A-Za-z0-9][-A-Za-z0-9_.]{0,127}$/;

const TOXIC_NAME_RULE = "must be 1-128 characters: letters, digits, '-', '_' or '.', starting with a letter or digit";

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readStream(value: unknown, problems: ToxicProblem[]): ToxicStream {
  if (value === undefined || value === null || value === '') return 'downstream';
  // toxiproxy compares case-insensitively.
  const lower = typeof value === 'string' ? value.toLowerCase() : '';
  if (lower === 'upstream' || lower === 'downstream') return lower;
  problems.push({ path: 'stream', value, message: 'stream was invalid, can be either upstream or downstream', kind: 'unsupported' });
  return 'downstream';
}

function readToxicity(value: unknown, problems: ToxicProblem[]): number {
  if (value === undefined || value === null) return 1;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    problems.push({ path: 'toxicity', value, message: 'toxicity must be a number from 0 to 1', kind: 'invalid' });
    return 1;
  }
  return value;
}

/** Reads `attributes` onto `base` (toxiproxy decodes onto the existing values); unknown keys are ignored as toxiproxy does. */
function readAttributes(type: ToxicType, value: unknown, base: ToxicAttributes | undefined, problems: ToxicProblem[]): ToxicAttributes {
  const out: Record<string, number> = {};
  const raw = isObject(value) ? value : {};
  if (value !== undefined && value !== null && !isObject(value)) {
    problems.push({ path: 'attributes', value, message: 'attributes must be an object', kind: 'invalid' });
  }
  for (const rule of TOXIC_ATTRIBUTES[type]) {
    const given = raw[rule.name];
    const v = given === undefined || given === null ? (base?.[rule.name] ?? 0) : given;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < rule.min || v > rule.max) {
      problems.push({
        path: `attributes.${rule.name}`,
        value: v,
        message: `${rule.name} must be a whole number from ${rule.min} to ${rule.max} (${rule.unit})`,
        kind: 'invalid',
      });
      out[rule.name] = rule.min;
      continue;
    }
    out[rule.name] = v;
  }
  if (type === 'slicer' && (out['size_variation'] ?? 0) >= (out['average_size'] ?? 1) && problems.length === 0) {
    problems.push({
      path: 'attributes.size_variation',
      value: out['size_variation'],
      message: 'size_variation must be smaller than average_size (every piece is at least 1 byte)',
      kind: 'invalid',
    });
  }
  return out;
}

/**
 * Validates a toxic as toxiproxy's POST /proxies/{p}/toxics body:
 * `{type*, name?, stream="downstream", toxicity=1.0, attributes}`.
 */
export function validateToxic(raw: unknown): ToxicResult {
  const problems: ToxicProblem[] = [];
  if (!isObject(raw)) return { ok: false, problems: [{ path: '', value: raw, message: 'a toxic must be an object', kind: 'invalid' }] };
  const type = raw['type'];
  if (!isToxicType(type)) {
    const missing = type === undefined || type === null || type === '';
    problems.push({ path: 'type', value: type, message: 'invalid toxic type', kind: missing ? 'required' : 'unsupported' });
    return { ok: false, problems };
  }
  const stream = readStream(raw['stream'], problems);
  const nameValue = raw['name'];
  let name = `${type}_${stream}`;
  if (nameValue !== undefined && nameValue !== null && nameValue !== '') {
    if (typeof nameValue !== 'string' || !TOXIC_NAME.test(nameValue)) {
      problems.push({ path: 'name', value: nameValue, message: `name ${TOXIC_NAME_RULE}`, kind: 'invalid' });
    } else name = nameValue;
  }
  const toxicity = readToxicity(raw['toxicity'], problems);
  const attributes = readAttributes(type, raw['attributes'], undefined, problems);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, toxic: { name, type, stream, toxicity, attributes } };
}

/**
 * toxiproxy's update (POST/PATCH /proxies/{p}/toxics/{t}): `attributes`
 * decoded onto the existing ones, `toxicity` replaced when given; type,
 * stream and name stay.
 */
export function updateToxic(existing: ToxicSpec, raw: unknown): ToxicResult {
  const problems: ToxicProblem[] = [];
  if (!isObject(raw)) return { ok: false, problems: [{ path: '', value: raw, message: 'a toxic must be an object', kind: 'invalid' }] };
  const toxicity = raw['toxicity'] === undefined ? existing.toxicity : readToxicity(raw['toxicity'], problems);
  const attributes = readAttributes(existing.type, raw['attributes'], existing.attributes, problems);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, toxic: { ...existing, toxicity, attributes } };
}
