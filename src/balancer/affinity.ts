/**
 * sessionAffinity: ClientIP, with kube-proxy's semantics
 * (pkg/proxy/userspace/roundrobin.go): records are keyed on the client IP
 * only; a hit within the timeout refreshes the record and does not advance
 * the rotation; a failed dial re-pins the client (the caller asks for a
 * reset); records pointing at an endpoint that is gone are dropped; expired
 * records are purged. Age is compared in whole seconds, as kube-proxy does.
 *
 * Memory is bounded: the Map is kept in least-recently-used order (a hit
 * moves the record to the end), so expired records are always at the front
 * and are purged as new clients arrive; a hard cap evicts the oldest.
 * Pure: the caller passes the time.
 */

interface Pin {
  endpoint: string;
  lastUsedMs: number;
}

const MAX_AFFINITY_RECORDS = 100_000;

export class ClientIpAffinity {
  private readonly pins = new Map<string, Pin>();

  constructor(
    private timeoutSeconds: number,
    private readonly maxRecords = MAX_AFFINITY_RECORDS,
  ) {}

  setTimeout(seconds: number): void {
    this.timeoutSeconds = seconds;
  }

  get size(): number {
    return this.pins.size;
  }

  /** The endpoint `clientIp` is pinned to, if the pin is still fresh; refreshes it. */
  lookup(clientIp: string, nowMs: number): string | undefined {
    const pin = this.pins.get(clientIp);
    if (pin === undefined) return undefined;
    if (Math.floor((nowMs - pin.lastUsedMs) / 1000) >= this.timeoutSeconds) {
      this.pins.delete(clientIp);
      return undefined;
    }
    pin.lastUsedMs = nowMs;
    this.pins.delete(clientIp); // move to the end: the Map stays in last-used order
    this.pins.set(clientIp, pin);
    return pin.endpoint;
  }

  /** Pins `clientIp` to `endpoint` (a miss, or a re-pin after a failed dial). */
  pin(clientIp: string, endpoint: string, nowMs: number): void {
    this.pins.delete(clientIp);
    this.pins.set(clientIp, { endpoint, lastUsedMs: nowMs });
    this.purge(nowMs);
  }

  /** Drops every record that points at an endpoint not in `endpoints` (removeStaleAffinity). */
  retain(endpoints: ReadonlySet<string>): void {
    for (const [ip, pin] of this.pins) if (!endpoints.has(pin.endpoint)) this.pins.delete(ip);
  }

  /** Removes expired records from the front, and the oldest beyond the cap. */
  purge(nowMs: number): void {
    for (const [ip, pin] of this.pins) {
      const expired = Math.floor((nowMs - pin.lastUsedMs) / 1000) >= this.timeoutSeconds;
      if (!expired && this.pins.size <= this.maxRecords) break;
      this.pins.delete(ip);
    }
  }
}
