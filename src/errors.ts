/**
 * Errors svcproxy raises itself, each with a stable code so that callers and
 * logs can tell them apart without parsing messages: a listener that cannot
 * bind (the reload reports it and goes on), a dial that timed out (the
 * forwarder tries the next endpoint).
 */
export type ProxyErrorCode = 'E_LISTEN_FAILED' | 'E_DIAL_TIMEOUT';

export class ProxyError extends Error {
  override readonly name = 'ProxyError';
  constructor(
    readonly code: ProxyErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The `code` of a Node system error (ECONNREFUSED, EADDRINUSE, ...) or of a ProxyError; '' otherwise. */
export function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return '';
}

/** A message safe to print for any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * `CODE: what happened`, with the code said once. Node's own messages
 * already hold it (`listen EADDRINUSE: address already in use 127.0.0.1:9901`,
 * `ENOENT: no such file or directory, open 'x'`), so joining code and message
 * would say it twice; the code is put first and the syscall, if any, last:
 * `EADDRINUSE: address already in use 127.0.0.1:9901 (listen)`.
 */
export function describeError(err: unknown): string {
  const code = errorCode(err);
  const message = errorMessage(err);
  if (code === '') return message;
  if (message === code || message.startsWith(`${code}:`)) return message;
  const at = message.search(new RegExp(`\\b${code.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`));
  if (at === -1) return `${code}: ${message}`;
  const before = message.slice(0, at).trim();
  const after = message.slice(at + code.length).replace(/^:?\s*/, '');
  return `${code}: ${after === '' ? before : after}${before === '' || after === '' ? '' : ` (${before})`}`;
}

/** For switch exhaustiveness: a case the type system says cannot happen. */
export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
