/**
 * Field-level checks shared by the per-kind validators, with messages worded
 * as the Kubernetes API server words them (`field.ErrorList`), so an error
 * reads the same here as it will from `kubectl apply`.
 */
import { isIPv4, isIPv6 } from 'node:net'; // pure string checks, no sockets
import { formatSource, type ConfigIssue, type ObjectSource, type Protocol } from './types.js';

export type JsonRecord = Readonly<Record<string, unknown>>;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Renders a value the way apimachinery does in "Invalid value: X". */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'null';
  // JSON.stringify returns undefined only for functions and symbols, which parsed YAML never holds.
  return JSON.stringify(value) ?? typeof value;
}

/** Collects issues for one object; every validator reports all problems, not just the first. */
export class IssueSink {
  readonly issues: ConfigIssue[] = [];
  private readonly where: string;

  constructor(
    source: ObjectSource,
    private object: string,
  ) {
    this.where = formatSource(source);
  }

  /** Names the object once its kind, namespace and name are known. */
  identify(object: string): void {
    this.object = object;
  }

  /** The object's name so far (`Service default/web`), for issues raised outside the sink. */
  get identity(): string {
    return this.object;
  }

  get count(): number {
    return this.issues.length;
  }

  add(path: string, message: string): void {
    this.issues.push({ where: this.where, object: this.object, path, message });
  }
  required(path: string, detail = ''): void {
    this.add(path, detail === '' ? 'Required value' : `Required value: ${detail}`);
  }
  invalid(path: string, value: unknown, detail: string): void {
    this.add(path, `Invalid value: ${show(value)}: ${detail}`);
  }
  duplicate(path: string, value: unknown, detail = ''): void {
    this.add(path, detail === '' ? `Duplicate value: ${show(value)}` : `Duplicate value: ${show(value)}: ${detail}`);
  }
  unsupported(path: string, value: unknown, supported: readonly string[]): void {
    this.add(path, `Unsupported value: ${show(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`);
  }
  forbidden(path: string, detail: string): void {
    this.add(path, `Forbidden: ${detail}`);
  }
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IANA_SVC_NAME = /^[-a-z0-9]+$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** An RFC 1123 label: port names, namespaces. Returns the reason it is not, or ''. */
export function dns1123LabelError(value: string): string {
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!DNS1123_LABEL.test(value)) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
  }
  return '';
}

/** An RFC 1035 label: Service names (must start with a letter). */
export function dns1035LabelError(value: string): string {
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!DNS1035_LABEL.test(value)) {
    return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
  }
  return '';
}

/** An RFC 1123 subdomain: most object names, externalName. */
export function dns1123SubdomainError(value: string): string {
  if (value.length > 253) return 'must be no more than 253 characters';
  if (!DNS1123_SUBDOMAIN.test(value)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
  }
  return '';
}

/** IANA_SVC_NAME, what a named targetPort and a container port name must be (IsValidPortName). */
export function portNameError(value: string): string {
  if (value.length === 0 || value.length > 15) return 'must be no more than 15 characters';
  if (!IANA_SVC_NAME.test(value)) return 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)';
  if (value.includes('--')) return 'must not contain consecutive hyphens';
  if (!/[a-z]/.test(value)) return 'must contain at least one letter (a-z)';
  if (value.startsWith('-') || value.endsWith('-')) return 'must not begin or end with a hyphen';
  return '';
}

/** A label key: an optional DNS subdomain prefix and a qualified name. */
function labelKeyError(key: string): string {
  const slash = key.lastIndexOf('/');
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (slash !== -1) {
    const prefix = key.slice(0, slash);
    const err = dns1123SubdomainError(prefix);
    if (err !== '') return `prefix part ${err}`;
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)";
  }
  return '';
}

function labelValueError(value: string): string {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)";
  }
  return '';
}

export function isPortNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

export type IpFamily = 4 | 6;

/** 4 or 6 for a literal IP address, 0 otherwise. */
export function ipFamily(value: string): IpFamily | 0 {
  if (isIPv4(value)) return 4;
  if (isIPv6(value)) return 6;
  return 0;
}

/**
 * ValidateNonSpecialIP minus loopback: the API server refuses unspecified,
 * link-local and multicast addresses as endpoints. Returns the reason or ''.
 */
export function specialIpError(ip: string): string {
  const lower = ip.toLowerCase();
  if (ip === '0.0.0.0' || lower === '::' || /^0+(:0+)*::?$/.test(lower)) return 'may not be unspecified (0.0.0.0)';
  if (ip.startsWith('169.254.') || /^fe[89ab][0-9a-f]?:/.test(lower)) return 'may not be in the link-local range (169.254.0.0/16, fe80::/10)';
  if (isIPv4(ip)) {
    const first = Number(ip.split('.')[0]);
    if (first >= 224 && first <= 239) return 'may not be in the multicast range (224.0.0.0/4)';
  } else if (lower.startsWith('ff')) return 'may not be in the multicast range (ff00::/8)';
  return '';
}

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

/** Reads an optional string field; reports a type error and returns undefined when it is not one. */
export function optionalString(raw: JsonRecord, key: string, path: string, sink: IssueSink): string | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    sink.invalid(path, value, 'must be a string');
    return undefined;
  }
  return value;
}

/** Reads an optional list; reports a type error and returns [] when it is not one. */
export function optionalList(raw: JsonRecord, key: string, path: string, sink: IssueSink): readonly unknown[] {
  const value = raw[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    sink.invalid(path, value, 'must be a list');
    return [];
  }
  return value;
}

/** Reads an optional mapping; reports a type error and returns undefined when it is not one. */
export function optionalRecord(raw: JsonRecord, key: string, path: string, sink: IssueSink): JsonRecord | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) {
    sink.invalid(path, value, 'must be a mapping');
    return undefined;
  }
  return value;
}

/** A map of string to string (labels, annotations, selector), each entry checked by `check`. */
export function stringMap(
  raw: JsonRecord,
  key: string,
  path: string,
  sink: IssueSink,
  check?: (k: string, v: string, path: string) => void,
): Record<string, string> | undefined {
  const map = optionalRecord(raw, key, path, sink);
  if (map === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map)) {
    if (typeof v !== 'string') {
      sink.invalid(`${path}[${k}]`, v, 'must be a string');
      continue;
    }
    check?.(k, v, `${path}[${k}]`);
    out[k] = v;
  }
  return out;
}

/** Label maps: keys and values checked as the API server checks them. */
export function labelMap(raw: JsonRecord, key: string, path: string, sink: IssueSink): Record<string, string> | undefined {
  return stringMap(raw, key, path, sink, (k, v, p) => {
    const keyErr = labelKeyError(k);
    if (keyErr !== '') sink.invalid(p, k, keyErr);
    const valueErr = labelValueError(v);
    if (valueErr !== '') sink.invalid(p, v, valueErr);
  });
}

/** `protocol`, defaulted to TCP as SetDefaults does. */
export function protocolField(raw: JsonRecord, path: string, sink: IssueSink): Protocol {
  const value = raw['protocol'];
  if (value === undefined || value === null || value === '') return 'TCP';
  if (typeof value === 'string' && (PROTOCOLS as readonly string[]).includes(value)) return value as Protocol;
  sink.unsupported(path, value, PROTOCOLS);
  return 'TCP';
}
