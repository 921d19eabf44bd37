/**
 * One readiness probe attempt, as the kubelet runs it: tcpSocket succeeds
 * when a connection opens; httpGet when the response status is 200-399
 * (HTTPS without certificate checks, as the kubelet does); grpc when the
 * health service answers SERVING (grpc-probe.ts). An exec probe cannot run
 * here: it connects to the container's first port instead. Each attempt has
 * a hard deadline and always calls back exactly once.
 *
 * This module and service-port-proxy's dialer are the only places that open
 * sockets to endpoints: probes dial Pods, the proxy dials upstreams.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { ProbeSpec } from '../config/types.js';
import { errorCode, errorMessage } from '../errors.js';
import { runGrpcProbe } from './grpc-probe.js';
import type { ProbeResult } from './probe-result.js';

export type { ProbeResult } from './probe-result.js';

export type RunnableProbe = ProbeSpec;

/** Starts a probe; returns a function that cancels it (the callback is then not called). */
export function runProbe(probe: RunnableProbe, podAddress: string, callback: (result: ProbeResult) => void): () => void {
  const timeoutMs = probe.timeoutSeconds * 1000;
  if (probe.kind === 'grpc') return runGrpcProbe(podAddress, probe.port, probe.service, timeoutMs, callback);
  if (probe.kind === 'exec') {
    // The command cannot run here; a connection to the container's port stands in for it (state/ only plans exec probes that have one).
    const port = probe.fallbackPort ?? { port: 0, name: '' };
    return runProbe({ ...probe, kind: 'tcpSocket', port, host: '' }, podAddress, callback);
  }
  const host = probe.host === '' ? podAddress : probe.host;
  let done = false;
  let cleanup: () => void = () => undefined;
  const finish = (result: ProbeResult): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    cleanup();
    callback(result);
  };
  const timer = setTimeout(() => finish({ ok: false, reason: `timeout after ${timeoutMs} ms` }), timeoutMs);
  const failed = (err: unknown): void => finish({ ok: false, reason: errorCode(err) || errorMessage(err) });

  if (probe.kind === 'tcpSocket') {
    const socket = connect({ host, port: probe.port.port });
    cleanup = () => socket.destroy();
    socket.once('connect', () => finish({ ok: true, reason: 'tcp connect ok' }));
    socket.once('error', failed);
  } else {
    const request = probe.scheme === 'HTTPS' ? httpsRequest : httpRequest;
    const headers: Record<string, string> = { 'user-agent': 'kube-probe/svcproxy', accept: '*/*' };
    for (const h of probe.headers) headers[h.name.toLowerCase()] = h.value;
    const req = request({ host, port: probe.port.port, path: probe.path, method: 'GET', headers, agent: false, rejectUnauthorized: false });
    cleanup = () => req.destroy();
    req.once('error', failed);
    req.once('response', (res) => {
      res.resume(); // the body is not read, only drained
      const status = res.statusCode ?? 0;
      finish({ ok: status >= 200 && status < 400, reason: `http ${status}` });
    });
    req.end();
  }
  return () => {
    done = true;
    clearTimeout(timer);
    cleanup();
  };
}
