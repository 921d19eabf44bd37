/**
 * svcproxy's own per-Service options, given as annotations so that the
 * same manifest still applies to a cluster (which ignores them). Every
 * `svcproxy.dev/` annotation on a Service is checked: a misspelt key is an
 * error rather than an option silently not applied.
 */
import { parseDuration } from '../duration.js';
import type { IssueSink } from './fields.js';
import type { ServiceOptions } from './types.js';

const ANNOTATION_PREFIX = 'svcproxy.dev/';

export const SERVICE_OPTION_DEFAULTS: ServiceOptions = {
  connectTimeoutMs: 0,
  idleTimeoutMs: 0,
  maxConnections: 0,
  proxyProtocol: '',
  udpIdleTimeoutMs: 30_000,
  udpMaxFlows: 10_000,
};

type Reader = (value: string, path: string, sink: IssueSink) => Partial<ServiceOptions> | undefined;

const MAX_DURATION_MS = 24 * 3_600_000;

function duration(key: keyof ServiceOptions): Reader {
  return (value, path, sink) => {
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0 || ms > MAX_DURATION_MS) {
      sink.invalid(path, value, 'must be a duration greater than 0 and at most 24h, such as 500ms, 30s or 5m');
      return undefined;
    }
    return { [key]: ms };
  };
}

function count(key: keyof ServiceOptions, max: number): Reader {
  return (value, path, sink) => {
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isInteger(n) || n < 1 || n > max) {
      sink.invalid(path, value, `must be a whole number from 1 to ${max}`);
      return undefined;
    }
    return { [key]: n };
  };
}

const READERS: Readonly<Record<string, Reader>> = {
  'connect-timeout': duration('connectTimeoutMs'),
  'idle-timeout': duration('idleTimeoutMs'),
  'max-connections': count('maxConnections', 1_000_000),
  'proxy-protocol': (value, path, sink) => {
    if (value === 'v1' || value === 'v2') return { proxyProtocol: value };
    sink.unsupported(path, value, ['v1', 'v2']);
    return undefined;
  },
  'udp-idle-timeout': duration('udpIdleTimeoutMs'),
  'udp-max-flows': count('udpMaxFlows', 1_000_000),
  // The admin server as the Service's endpoint, wherever --admin-address puts it (the bundled config).
  endpoints: (value, path, sink) => {
    if (value === 'admin') return { endpoints: 'admin' };
    sink.unsupported(path, value, ['admin']);
    return undefined;
  },
};

/** The documented keys, without the prefix. */
const SERVICE_ANNOTATIONS: readonly string[] = Object.keys(READERS);

export function readServiceOptions(annotations: Readonly<Record<string, string>>, sink: IssueSink): ServiceOptions {
  let options: ServiceOptions = SERVICE_OPTION_DEFAULTS;
  for (const [key, value] of Object.entries(annotations)) {
    if (!key.startsWith(ANNOTATION_PREFIX)) continue;
    const path = `metadata.annotations[${key}]`;
    const reader = READERS[key.slice(ANNOTATION_PREFIX.length)];
    if (reader === undefined) {
      sink.unsupported(
        path.replace(/\[.*\]$/, ''),
        key,
        SERVICE_ANNOTATIONS.map((k) => ANNOTATION_PREFIX + k),
      );
      continue;
    }
    const read = reader(value.trim(), path, sink);
    if (read !== undefined) options = { ...options, ...read };
  }
  return options;
}
