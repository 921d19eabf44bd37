/**
 * A kubelet gRPC readiness probe (KEP-2727): `grpc.health.v1.Health/Check`
 * over plaintext HTTP/2 to `podIP:port`, with the probe's service name ('' =
 * the whole server). As the kubelet decides: ready only when the call
 * returns OK with status SERVING; NOT_SERVING, UNKNOWN, an unknown service
 * (NOT_FOUND), a server without the health service (UNIMPLEMENTED), a
 * refused connection or the deadline are failures. One deadline of
 * `timeoutSeconds` covers connecting and the call, as in the kubelet.
 *
 * The HTTP/2 and gRPC framing, deadlines and status codes come from
 * @grpc/grpc-js, loaded on first use, so a config without gRPC probes
 * costs nothing. The two messages are one field each and are encoded here
 * (proto3: HealthCheckRequest `string service = 1`, HealthCheckResponse
 * `ServingStatus status = 1`), which spares a .proto loader at run time.
 */
import type { ProbeResult } from './probe-result.js';

type GrpcModule = typeof import('@grpc/grpc-js');

let loading: Promise<GrpcModule> | undefined;

function grpcModule(): Promise<GrpcModule> {
  loading ??= import('@grpc/grpc-js');
  return loading;
}

const CHECK_PATH = '/grpc.health.v1.Health/Check';
const STATUS_NAMES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

/** HealthCheckRequest: field 1 (service), wire type 2 (length-delimited); empty for ''. */
export function encodeCheckRequest(service: string): Buffer {
  if (service === '') return Buffer.alloc(0);
  const name = Buffer.from(service, 'utf8');
  return Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]);
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** HealthCheckResponse -> the status number (0 when absent: proto3 omits zero values); unknown fields skipped. */
export function decodeCheckResponse(data: Buffer): number {
  let status = 0;
  let i = 0;
  const readVarint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = data[i++];
      if (byte === undefined) throw new Error('truncated varint');
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('varint too long');
    }
  };
  while (i < data.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      const value = readVarint();
      if (field === 1) status = value;
    } else if (wire === 2) {
      const length = readVarint(); // read first: `i += readVarint()` would add to the old i
      i += length;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  if (i > data.length) throw new Error('truncated message');
  return status;
}

function statusName(status: number): string {
  return STATUS_NAMES[status] ?? String(status);
}

/**
 * Starts one gRPC probe attempt; calls back exactly once (unless cancelled)
 * with the kubelet's verdict. Returns a function that cancels the attempt.
 */
export function runGrpcProbe(host: string, port: number, service: string, timeoutMs: number, callback: (result: ProbeResult) => void): () => void {
  let done = false;
  let cleanup: () => void = () => undefined;
  const finish = (result: ProbeResult): void => {
    if (done) return;
    done = true;
    cleanup();
    callback(result);
  };
  const deadline = Date.now() + timeoutMs;
  grpcModule().then(
    (grpc) => {
      if (done) return;
      const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
        'grpc.primary_user_agent': 'kube-probe/svcproxy',
        // One attempt per probe: no retries, no waiting for a later connection.
        'grpc.enable_retries': 0,
        'grpc.initial_reconnect_backoff_ms': timeoutMs,
      });
      const call = client.makeUnaryRequest(
        CHECK_PATH,
        (service: string) => encodeCheckRequest(service),
        (data: Buffer) => decodeCheckResponse(data),
        service,
        new grpc.Metadata(),
        { deadline },
        (err, status) => {
          if (err !== null) {
            const codes = grpc.status;
            if (err.code === codes.DEADLINE_EXCEEDED) finish({ ok: false, reason: `timeout after ${timeoutMs} ms` });
            else if (err.code === codes.UNIMPLEMENTED) finish({ ok: false, reason: 'the server does not implement the grpc health protocol' });
            else if (err.code === codes.NOT_FOUND) finish({ ok: false, reason: `grpc NOT_FOUND: service ${JSON.stringify(service)} unknown` });
            else finish({ ok: false, reason: `grpc ${codes[err.code]}: ${err.details}` });
            return;
          }
          const code = status ?? 0;
          finish(code === 1 ? { ok: true, reason: 'grpc SERVING' } : { ok: false, reason: `grpc ${statusName(code)}` });
        },
      );
      cleanup = () => {
        call.cancel();
        client.close();
      };
      if (done) cleanup();
    },
    (err: unknown) => finish({ ok: false, reason: `grpc client unavailable: ${err instanceof Error ? err.message : String(err)}` }),
  );
  return () => {
    done = true;
    cleanup();
  };
}
