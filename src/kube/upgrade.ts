/**
 * An HTTP upgrade on the API server (pods/{name}/portforward): the request
 * goes out with the context's auth (the caller applies client-node's
 * applyToHTTPSOptions to `request`), and the answer is either a 101 with the
 * raw socket, or any other status, read (capped) and turned into an
 * UpgradeRefused carrying the status and the Status object's message, the
 * way kubectl reports "error upgrading connection: ...".
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { KubeUpgrade, KubeUpgradeOptions } from './types.js';

/** At most this much of a refusal's body is read (a Status is a few hundred bytes). */
const MAX_REFUSAL_BODY_BYTES = 16 * 1024;
/** The message kept from a refusal, in characters. */
const MAX_REFUSAL_MESSAGE = 512;

/** The API server answered an upgrade with something other than 101 Switching Protocols. */
export class UpgradeRefused extends Error {
  override readonly name = 'UpgradeRefused';
  readonly code = 'E_UPGRADE_REFUSED';
  constructor(
    /** The HTTP status (403, 404, 400 for a Pod not Running...). */
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** No 101 nor any other answer within the upgrade's timeout. */
class UpgradeTimeout extends Error {
  override readonly name = 'UpgradeTimeout';
  readonly code = 'ETIMEDOUT';
}

/** The Status message of a refusal body, else its text, else the status line; truncated. */
function refusalMessage(status: number, statusText: string, body: string): string {
  let message = '';
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'message' in parsed && typeof parsed.message === 'string') message = parsed.message;
  } catch {
    message = body.trim();
  }
  if (message === '') message = `${status} ${statusText}`.trim();
  return message.length > MAX_REFUSAL_MESSAGE ? `${message.slice(0, MAX_REFUSAL_MESSAGE)}...` : message;
}

function readRefusal(res: IncomingMessage, done: (err: UpgradeRefused) => void): void {
  const chunks: Buffer[] = [];
  let bytes = 0;
  const finish = (): void => {
    const body = Buffer.concat(chunks).toString('utf8');
    const status = res.statusCode ?? 0;
    done(new UpgradeRefused(status, refusalMessage(status, res.statusMessage ?? '', body)));
  };
  res.on('data', (chunk: Buffer) => {
    if (bytes >= MAX_REFUSAL_BODY_BYTES) return;
    const room = MAX_REFUSAL_BODY_BYTES - bytes;
    chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    bytes += Math.min(chunk.length, room);
    if (bytes >= MAX_REFUSAL_BODY_BYTES) {
      res.destroy();
      finish();
    }
  });
  res.on('end', finish);
  res.on('error', finish);
}

/**
 * Sends `options.method` `url` with `Connection: Upgrade` and the given
 * headers (which name the protocol: `Upgrade: SPDY/3.1`, or a WebSocket
 * handshake) on top of `base` (the context's auth, from applyToHTTPSOptions).
 * Resolves once, with the upgraded socket (no 'error' listener yet: the
 * caller attaches one in the same tick), or rejects with an UpgradeRefused,
 * a timeout (code ETIMEDOUT), an AbortError or the network's error.
 */
export function upgradeRequest(url: URL, base: RequestOptions, options: KubeUpgradeOptions): Promise<KubeUpgrade> {
  options.signal.throwIfAborted();
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  const headers = { ...(base.headers as Record<string, string> | undefined), ...options.headers, Connection: 'Upgrade' };
  return new Promise<KubeUpgrade>((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | undefined, value?: KubeUpgrade): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err !== undefined) reject(err);
      else if (value !== undefined) resolve(value);
    };
    const req = send(url, { ...base, method: options.method, headers, signal: options.signal });
    const timer = setTimeout(() => req.destroy(new UpgradeTimeout(`no upgrade from ${url.host} within ${options.timeoutMs} ms`)), options.timeoutMs);
    req.on('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (settled) {
        socket.destroy(); // timed out or aborted just before: nobody wants it
        return;
      }
      settle(undefined, { socket, head, headers: res.headers });
    });
    req.on('response', (res: IncomingMessage) => readRefusal(res, (err) => settle(err)));
    req.on('error', (err) => settle(err));
    req.end();
  });
}
