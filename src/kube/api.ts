/**
 * The API paths of the followed resources, reading an answer's body within a byte limit, the Status an error
 * answer carries, and the validation of the objects a list or watch returns (refused ones are reported, not kept).
 */
import type { IncomingMessage } from 'node:http';
import type { KubeObject, KubeResource } from './types.js';

interface ResourceInfo {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

const RESOURCES: Readonly<Record<KubeResource, ResourceInfo>> = {
  services: { group: '', version: 'v1', kind: 'Service' },
  endpointslices: { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice' },
  pods: { group: '', version: 'v1', kind: 'Pod' },
};

function kindOf(resource: KubeResource): string {
  return RESOURCES[resource].kind;
}

function apiVersionOf(resource: KubeResource): string {
  const info = RESOURCES[resource];
  return info.group === '' ? info.version : `${info.group}/${info.version}`;
}

/** `/api/v1/services`, `/apis/discovery.k8s.io/v1/namespaces/NS/endpointslices` ... ('' namespace: all). */
export function resourcePath(resource: KubeResource, namespace: string): string {
  const info = RESOURCES[resource];
  const root = info.group === '' ? `/api/${info.version}` : `/apis/${info.group}/${info.version}`;
  return namespace === '' ? `${root}/${resource}` : `${root}/namespaces/${encodeURIComponent(namespace)}/${resource}`;
}

/** An answer other than 200, or an ERROR watch event: the HTTP (or Status) code and the Status message. */
export class KubeStatusError extends Error {
  override readonly name = 'KubeStatusError';
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** A body larger than the limit. */
class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge';
}

/** The whole body as text; rejects (and destroys the response) past `maxBytes`. */
export function readBody(res: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    res.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        res.destroy(new BodyTooLarge(`an answer larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new Error('the answer was cut short'));
    });
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The KubeStatusError a Status (or any) error body stands for; `code` is the HTTP status when the body has none. */
export function statusError(code: number, body: unknown): KubeStatusError {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = body.slice(0, 200).trim();
    }
  }
  if (isRecord(parsed)) {
    const c = typeof parsed.code === 'number' ? parsed.code : code;
    const reason = typeof parsed.reason === 'string' ? parsed.reason : '';
    const message = typeof parsed.message === 'string' ? parsed.message : JSON.stringify(parsed).slice(0, 200);
    return new KubeStatusError(c, reason, `${c}${reason === '' ? '' : ` ${reason}`}: ${message}`);
  }
  return new KubeStatusError(code, '', `${code}: ${typeof parsed === 'string' && parsed !== '' ? parsed : 'no message'}`);
}

/** Where an object is, for a log line: as much of kind/namespace/name as it has. */
export function describeObject(value: unknown, resource: KubeResource): Record<string, string> {
  const meta = isRecord(value) && isRecord(value.metadata) ? value.metadata : {};
  const where: Record<string, string> = { kind: isRecord(value) && typeof value.kind === 'string' ? value.kind : kindOf(resource) };
  if (typeof meta.namespace === 'string') where.namespace = meta.namespace;
  if (typeof meta.name === 'string') where.name = meta.name;
  return where;
}

/** The object with its kind and apiVersion filled (list items lack them), or why it is refused. */
export function validObject(value: unknown, resource: KubeResource): KubeObject | string {
  if (!isRecord(value)) return 'not an object';
  const meta = value.metadata;
  if (!isRecord(meta)) return 'no metadata';
  if (typeof meta.name !== 'string' || meta.name === '') return 'no metadata.name';
  if (meta.namespace !== undefined && typeof meta.namespace !== 'string') return 'metadata.namespace is not a string';
  if (meta.resourceVersion !== undefined && typeof meta.resourceVersion !== 'string') return 'metadata.resourceVersion is not a string';
  for (const field of ['labels', 'annotations'] as const) {
    const map = meta[field];
    const bad = map !== undefined && map !== null && (!isRecord(map) || Object.values(map).some((v) => typeof v !== 'string'));
    if (bad) return `metadata.${field} is not a string map`;
  }
  const kind = kindOf(resource);
  if (value.kind !== undefined && value.kind !== kind) return `kind ${JSON.stringify(value.kind)} is not ${kind}`;
  const apiVersion = typeof value.apiVersion === 'string' ? value.apiVersion : apiVersionOf(resource);
  return { ...value, kind, apiVersion, metadata: meta as unknown as KubeObject['metadata'] };
}

/** The store key of an object: `namespace/name` ('' namespace for a cluster-scoped one). */
export function objectKey(object: KubeObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

export interface ParsedList {
  readonly resourceVersion: string;
  readonly items: readonly unknown[];
}

/** A list answer's resourceVersion and items; throws on a body that is not a list. */
export function parseList(body: string): ParsedList {
  const parsed: unknown = JSON.parse(body);
  if (!isRecord(parsed) || !Array.isArray(parsed.items)) throw new Error('the list answer has no items');
  const meta = parsed.metadata;
  const rv = isRecord(meta) && typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '';
  if (rv === '') throw new Error('the list answer has no metadata.resourceVersion');
  return { resourceVersion: rv, items: parsed.items };
}

type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ParsedEvent {
  readonly type: WatchEventType;
  readonly object: unknown;
}

const EVENT_TYPES: ReadonlySet<string> = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

/** One watch line as an event, or why it is refused. */
export function parseEvent(line: string): ParsedEvent | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return 'malformed JSON';
  }
  if (!isRecord(parsed)) return 'not an object';
  if (typeof parsed.type !== 'string' || !EVENT_TYPES.has(parsed.type)) return `unknown event type ${JSON.stringify(parsed.type)}`;
  return { type: parsed.type as WatchEventType, object: parsed.object };
}

/** The resourceVersion an event's object carries ('' when none). */
export function resourceVersionOf(value: unknown): string {
  return isRecord(value) && isRecord(value.metadata) && typeof value.metadata.resourceVersion === 'string' ? value.metadata.resourceVersion : '';
}
