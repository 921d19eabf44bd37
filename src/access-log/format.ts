/**
 * One access-log line per finished connection or UDP flow, from its lease:
 * a pino-style JSON object (the default, and what `-` writes to stdout
 * alongside svcproxy's own log), or a text line in the spirit of HAProxy's
 * tcplog. Pure: a finished lease in, a line out.
 *
 *   json  {"level":"info","time":1764340201523,"pid":7,"msg":"access","protocol":"TCP",
 *          "servicePort":"shop/web:http","client":"127.0.0.1:53422","endpoint":"10.0.0.11:8080",
 *          "bytesFromClient":78,"bytesFromEndpoint":1024,"durationMs":12.5,"connectMs":0.41,
 *          "termination":"client_fin"}
 *   text  127.0.0.1:53422 [28/Nov/2026:14:50:01.511] shop/web:http TCP 10.0.0.11:8080 0.41/12.5 78 1024 client_fin
 *
 * In the text line, `-` stands for what is not known: the endpoint and the
 * connect time of a connection that never reached one, the connect time of a
 * UDP flow (there is no handshake), the client when it was not read.
 */
import type { Lease } from '../proxy/lease.js';
import { hostPort } from '../state/types.js';

/** `--access-log-format` (the CLI lists the choices from this type). */
export type AccessLogFormat = 'json' | 'text';

/** Fields every JSON line starts with, as in svcproxy's own log (pid, and the worker with --workers). */
export interface LineBase {
  readonly pid: number;
  readonly worker?: number;
}

/** Milliseconds with at most two decimals. */
function ms(value: number): number {
  return Math.round(value * 100) / 100;
}

function client(lease: Lease): string {
  return lease.clientAddress === '' ? '-' : hostPort(lease.clientAddress, lease.clientPort);
}

/** The access-log record of a finished lease, as a JSON line (no newline). */
export function jsonLine(lease: Lease, base: LineBase): string {
  const record: Record<string, string | number> = {
    level: 'info',
    time: lease.endedAt,
    pid: base.pid,
    ...(base.worker === undefined ? {} : { worker: base.worker }),
    msg: 'access',
    protocol: lease.protocol,
    servicePort: lease.servicePort,
    client: client(lease),
    endpoint: lease.endpoint?.id ?? '',
    bytesFromClient: lease.bytes.fromDownstream,
    bytesFromEndpoint: lease.bytes.fromUpstream,
    durationMs: ms(lease.endedAt - lease.startedAt),
    connectMs: lease.connectMs < 0 ? -1 : ms(lease.connectMs),
    termination: lease.termination ?? 'unknown',
  };
  if (lease.errorCode !== '') record['error'] = lease.errorCode;
  if (lease.toxics.length > 0) record['toxics'] = lease.toxics.join(',');
  return JSON.stringify(record);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/** HAProxy's accept date, `28/Nov/2026:14:50:01.511`, in UTC. */
export function acceptDate(ms: number): string {
  const d = new Date(ms);
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] ?? '?'}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, '0')}`;
}

/**
 * The text line of a finished lease (no newline): client [accept date]
 * servicePort protocol endpoint connect/duration (ms) bytes-from-client
 * bytes-from-endpoint termination [error] [toxics=a,b].
 */
export function textLine(lease: Lease): string {
  const connect = lease.connectMs < 0 ? '-' : String(ms(lease.connectMs));
  const parts = [
    client(lease),
    `[${acceptDate(lease.startedAt)}]`,
    lease.servicePort,
    lease.protocol,
    lease.endpoint?.id ?? '-',
    `${connect}/${ms(lease.endedAt - lease.startedAt)}`,
    String(lease.bytes.fromDownstream),
    String(lease.bytes.fromUpstream),
    lease.termination ?? 'unknown',
  ];
  if (lease.errorCode !== '') parts.push(lease.errorCode);
  if (lease.toxics.length > 0) parts.push(`toxics=${lease.toxics.join(',')}`);
  return parts.join(' ');
}
