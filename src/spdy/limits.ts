/**
 * What one SPDY session may hold or accept from its peer. Every number bounds memory or work that a hostile
 * or broken peer (an API server, a kubelet, a test's fake) could otherwise make unbounded.
 */
export interface SpdyLimits {
  /** A control frame's payload; the frame is buffered whole before it is parsed. Default 64 KiB. */
  readonly maxControlFrameBytes: number;
  /** A DATA frame's payload (the 24-bit length allows 16 MiB); also the largest frame this side writes. Default 1 MiB. */
  readonly maxDataFrameBytes: number;
  /** A header block after decompression; a zlib bomb stops here. Default 64 KiB. */
  readonly maxHeaderBytes: number;
  /** Open streams, both directions together; a peer's SYN_STREAM over it gets RST_STREAM REFUSED_STREAM. Default 1000. */
  readonly maxConcurrentStreams: number;
  /** Received bytes a stream holds for a slow reader; above it the transport is paused. Default 256 KiB. */
  readonly maxBufferedBytesPerStream: number;
}

export const DEFAULT_SPDY_LIMITS: SpdyLimits = {
  maxControlFrameBytes: 64 * 1024,
  maxDataFrameBytes: 1024 * 1024,
  maxHeaderBytes: 64 * 1024,
  maxConcurrentStreams: 1000,
  maxBufferedBytesPerStream: 256 * 1024,
};

/** The 24-bit length field of every SPDY frame: nothing larger can be expressed. */
const MAX_FRAME_LENGTH = 0xffffff;

/** Defaults filled in; a limit that is not a positive integer is a caller's bug and throws at construction. */
export function resolveLimits(partial: Partial<SpdyLimits> | undefined): SpdyLimits {
  const limits = { ...DEFAULT_SPDY_LIMITS, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`spdy: ${name} must be a positive integer, got ${String(value)}`);
  }
  if (limits.maxControlFrameBytes > MAX_FRAME_LENGTH || limits.maxDataFrameBytes > MAX_FRAME_LENGTH) {
    throw new TypeError(`spdy: frame limits must not exceed ${MAX_FRAME_LENGTH} (the 24-bit length field)`);
  }
  return limits;
}
