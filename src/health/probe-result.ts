/** The verdict of one probe attempt, whatever its kind. */
export interface ProbeResult {
  readonly ok: boolean;
  /** Why, in a few words: `tcp connect ok`, `http 503`, `ECONNREFUSED`, `timeout after 1000 ms`. */
  readonly reason: string;
}
