/**
 * Why a session or a stream ended, with stable codes: 'ESPDYPROTO' (a frame that breaks SPDY/3: bad version,
 * bad length, a stream id out of order), 'ESPDYHEADERS' (a header block that does not decompress, is malformed or
 * is over the cap), 'ESPDYLIMIT' (a control frame or a DATA frame over the session's limits).
 */
export type SpdyErrorCode = 'ESPDYPROTO' | 'ESPDYHEADERS' | 'ESPDYLIMIT';

export class SpdyProtocolError extends Error {
  override readonly name = 'SpdyProtocolError';
  constructor(
    readonly code: SpdyErrorCode,
    message: string,
  ) {
    super(`spdy: ${message}`);
  }
}

/**
 * A stream that the peer reset, or that died with its session: err.code 'ECONNRESET' as a reset TCP socket's, so
 * the carrier's pumps report it with the end reason they already know. `status` is the RST_STREAM status when the
 * peer sent one.
 */
export class SpdyStreamError extends Error {
  override readonly name = 'SpdyStreamError';
  readonly code = 'ECONNRESET';
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
