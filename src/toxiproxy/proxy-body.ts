/**
 * The body of toxiproxy's POST /proxies (and of each /populate entry and a
 * proxy update): `{name*, upstream*, listen="127.0.0.1:0", enabled=true}`,
 * checked field by field with toxiproxy's error texts. Pure.
 */
import { isLoopbackHost } from '../loopback.js';
import { hostPort } from '../state/types.js';
import { ApiError } from './api-error.js';

/** A host and port as parsed from toxiproxy's address syntax. */
interface Address {
  host: string;
  port: number;
}

/** A checked proxy body. */
export interface ProxyRequest {
  readonly name: string;
  readonly listen: Address;
  readonly upstream: Address;
  readonly enabled: boolean;
}

/** A proxy name: what toxiproxy clients put in the URL path, so no `/`. */
const PROXY_NAME = /^[A-Za-z0-9][-A-Za-z0-9_.:]{0,252}$/;

export function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `host:port`, `[v6]:port`, `:port` (toxiproxy's Go address syntax); undefined when not one. */
function parseAddress(text: string): Address | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: match[1] ?? match[2] ?? '', port };
}

/** The JSON kind of a value, as Go's encoding/json names it in an UnmarshalTypeError. */
function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value; // 'string', 'number', 'object'
}

/** The Proxy fields and their Go types (toxiproxy's `Proxy` struct). */
const FIELD_TYPES = { name: 'string', listen: 'string', upstream: 'string', enabled: 'bool' } as const;

/**
 * A 400 with Go's UnmarshalTypeError text when a Proxy field has the wrong
 * JSON type (`"enabled": "yes"`, `1`, `[]`): toxiproxy's decoder refuses the
 * whole body before looking at any value. null is Go's no-op: allowed.
 */
export function checkFieldTypes(body: Readonly<Record<string, unknown>>): void {
  for (const [field, type] of Object.entries(FIELD_TYPES)) {
    const value = body[field];
    if (value === undefined || value === null || jsonKind(value) === type) continue;
    throw new ApiError(`bad request body: json: cannot unmarshal ${jsonKind(value)} into Go struct field Proxy.${field} of type ${type}`, 400);
  }
}

function missing(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

function required(value: unknown, field: string, where: string): string {
  if (typeof value !== 'string' || value === '') throw new ApiError(`missing required field: ${field}${where}`, 400);
  return value;
}

function readUpstream(value: string): Address {
  const upstream = parseAddress(value);
  if (upstream === undefined || upstream.host === '' || upstream.port === 0)
    throw new ApiError(`bad request body: upstream ${JSON.stringify(value)} is not host:port`, 400);
  return upstream;
}

function readListen(value: unknown, allowRemote: boolean): Address {
  const text = missing(value) ? '127.0.0.1:0' : value;
  const listen = typeof text === 'string' ? parseAddress(text) : undefined;
  // Only a string is ever quoted back (checkFieldTypes has refused any other kind).
  if (listen === undefined) throw new ApiError(`bad request body: listen ${JSON.stringify(String(text))} is not host:port`, 400);
  // Go's "localhost:0" and ":0" bind loopback here: svcproxy names one address family and one address.
  if (listen.host === '' || listen.host === 'localhost') listen.host = '127.0.0.1';
  if (!allowRemote && !isLoopbackHost(listen.host)) {
    throw new ApiError(
      `listen ${hostPort(listen.host, listen.port)}: not a loopback address; svcproxy's toxiproxy API creates forwards on loopback only unless started with --toxiproxy-allow-remote`,
      403,
    );
  }
  return listen;
}

/**
 * Checks a proxy body; throws the ApiError toxiproxy would answer.
 * @param where appended to "missing required field" texts (`/populate`'s ` at proxy N`).
 * @param allowRemote --toxiproxy-allow-remote: a forward may listen on a non-loopback address.
 */
export function checkProxyBody(body: unknown, where: string, allowRemote: boolean): ProxyRequest {
  if (!isObject(body)) throw new ApiError('bad request body: expected a JSON object', 400);
  checkFieldTypes(body);
  // toxiproxy checks that name and upstream are there before it checks what they say.
  const name = required(body['name'], 'name', where);
  const upstreamText = required(body['upstream'], 'upstream', where);
  if (!PROXY_NAME.test(name))
    throw new ApiError(`bad request body: invalid proxy name ${JSON.stringify(name)}: letters, digits, '-', '_', '.' and ':' only`, 400);
  const upstream = readUpstream(upstreamText);
  const listen = readListen(body['listen'], allowRemote);
  const enabled = body['enabled'] !== false;
  return { name, listen, upstream, enabled };
}
