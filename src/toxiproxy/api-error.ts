/** A toxiproxy error: its message and HTTP status, as toxiproxy's `ApiError`; server.ts maps it to HTTP. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** Extra fields of the error body (populate's `proxies`). */
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}
