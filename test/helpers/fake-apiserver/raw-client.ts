/**
 * A bare HTTPS client for the fake's own tests: one GET with the test CA, and a watch whose
 * newline-delimited events can be awaited with a deadline. Real clients (kubectl, client-node) are
 * what make the fake believable; this one checks the wire details they do not show.
 */
import { request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { FakeApiServer } from './server.js';
import { DEFAULT_TOKEN } from './server.js';

export interface RawOptions {
  /** Default: the server's default token; null sends no Authorization header. */
  readonly token?: string | null;
  readonly accept?: string;
  /** Present the generated client certificate. */
  readonly clientCert?: boolean;
}

export interface RawResponse {
  readonly code: number;
  readonly contentType: string;
  readonly body: string;
  /** The body parsed as JSON (undefined if it is not JSON). */
  readonly json: unknown;
}

function open(server: FakeApiServer, path: string, options: RawOptions): Promise<IncomingMessage> {
  const token = options.token === undefined ? DEFAULT_TOKEN : options.token;
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: server.port,
      path,
      ca: server.pki.caCert,
      agent: false,
      ...(options.clientCert === true ? { cert: server.pki.clientCert, key: server.pki.clientKey } : {}),
      headers: { accept: options.accept ?? 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      timeout: 10_000,
    });
    req.on('response', resolve);
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export async function rawGet(server: FakeApiServer, path: string, options: RawOptions = {}): Promise<RawResponse> {
  const res = await open(server, path, options);
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString();
  return { code: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body, json: parse(body) };
}

interface WatchEventJson {
  readonly type: string;
  readonly object: {
    readonly kind?: string;
    readonly code?: number;
    readonly reason?: string;
    readonly metadata?: { readonly name?: string; readonly resourceVersion?: string };
    readonly [field: string]: unknown;
  };
}

export interface RawWatch {
  readonly code: number;
  /** Every event so far. */
  readonly events: WatchEventJson[];
  /** Resolves when the stream has ended (cleanly or not). */
  readonly ended: Promise<void>;
  /** Resolves with the first event at index >= `from` that satisfies `match`; rejects at the deadline. */
  next(match: (e: WatchEventJson) => boolean, what: string, options?: { readonly from?: number; readonly timeoutMs?: number }): Promise<WatchEventJson>;
  close(): void;
}

export async function rawWatch(server: FakeApiServer, path: string, options: RawOptions = {}): Promise<RawWatch> {
  const res = await open(server, path, options);
  const events: WatchEventJson[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  res.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') events.push(JSON.parse(line) as WatchEventJson);
    for (const w of [...waiters]) w();
  });
  res.on('error', () => undefined);
  let done = false;
  const ended = new Promise<void>((resolve) =>
    res.on('close', () => {
      done = true;
      for (const w of [...waiters]) w();
      resolve();
    }),
  );
  return {
    code: res.statusCode ?? 0,
    events,
    ended,
    next(match, what, { from = 0, timeoutMs = 10_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = events.slice(from).find(match);
          if (found !== undefined || done) {
            clearTimeout(timer);
            waiters.delete(check);
            if (found !== undefined) resolve(found);
            else reject(new Error(`watch ended before ${what}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      res.destroy();
    },
  };
}
