/**
 * Clients of the admin surface for tests: HTTP GETs over real sockets
 * (Node's fetch), a Prometheus text parser, and a WebSocket feed client that
 * keeps every message and waits for the one a test needs.
 */
import type { Test } from 'tap';
import { WebSocket } from 'ws';

export interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers: Headers;
}

export async function get(port: number, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: await res.text(), headers: res.headers };
}

export async function getJson<T>(port: number, path: string): Promise<T> {
  const answer = await get(port, path);
  if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${answer.body}`);
  return JSON.parse(answer.body) as T;
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses exposition lines `name{a="b",c="d"} value` (label values unescaped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const raw = m[3] ?? '';
    samples.push({ name: m[1] ?? '', labels, value: raw === '+Inf' ? Infinity : Number(raw) });
  }
  return samples;
}

/** The value of the one sample with exactly these labels; throws when there is none. */
export function metric(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  const want = Object.entries(labels);
  const found = samples.filter((s) => s.name === name && Object.keys(s.labels).length === want.length && want.every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}`);
  return (found[0] as Sample).value;
}

export async function scrape(port: number): Promise<Sample[]> {
  const answer = await get(port, '/metrics');
  if (answer.status !== 200) throw new Error(`GET /metrics: ${answer.status}`);
  return parseMetrics(answer.body);
}

export type FeedMessage = Record<string, unknown> & { readonly type: string };

/** A WebSocket client of /api/events; closed at teardown. */
export class FeedClient {
  readonly messages: FeedMessage[] = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.messages.push(JSON.parse(data.toString()) as FeedMessage);
      for (const w of [...this.waiters]) w();
    });
    ws.on('close', () => {
      for (const w of [...this.waiters]) w();
    });
  }

  static async connect(t: Test, port: number): Promise<FeedClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/events`);
    ws.on('error', () => undefined);
    t.teardown(() => ws.terminate());
    const client = new FeedClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  /** The first message (received so far or later) that matches; fails after `timeoutMs`. */
  async next(match: (m: FeedMessage) => boolean, what: string, timeoutMs = 5000): Promise<FeedMessage> {
    await this.until(() => this.messages.some(match), what, timeoutMs);
    return this.messages.find(match) as FeedMessage;
  }

  /** Messages of one type received so far. */
  count(type: string): number {
    return this.messages.filter((m) => m.type === type).length;
  }

  /** Resolves when `ready()` holds, checked on every message; fails after `timeoutMs` or if the feed closes first. */
  until(ready: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (ready()) {
          done();
          resolve();
        } else if (this.ws.readyState === WebSocket.CLOSED) {
          done();
          reject(new Error(`feed closed while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; last messages: ${this.messages
              .slice(-10)
              .map((m) => m.type)
              .join(',')}`,
          ),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }
}

/** The entry of a stats message for one Service port key, if present. */
export function tickFor(message: FeedMessage, key: string): Record<string, unknown> | undefined {
  const ports = message['servicePorts'];
  if (!Array.isArray(ports)) return undefined;
  return (ports as Array<Record<string, unknown>>).find((p) => p['key'] === key);
}
