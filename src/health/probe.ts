/**
 * One readiness probe attempt, as the kubelet runs it: tcpSocket succeeds
 * when a connection opens; httpGet when the response status is 200-399
 * (HTTPS without certificate checks, as the kubelet does). Each attempt has
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

export interface ProbeResult {
  readonly ok: boolean;
  /** Why, in a few words: `tcp connect ok`, `http 503`, `ECONNREFUSED`, `timeout after 1000 ms`. */
  readonly reason: string;
}

export type RunnableProbe = Extract<ProbeSpec, { kind: 'tcpSocket' | 'httpGet' }>;

/** Starts a probe; returns a function that cancels it (the callback is then not called). */
export function runProbe(probe: RunnableProbe, podAddress: string, callback: (result: ProbeResult) => void): () => void {
  const host = probe.host === '' ? podAddress : probe.host;
  const timeoutMs = probe.timeoutSeconds * 1000;
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
