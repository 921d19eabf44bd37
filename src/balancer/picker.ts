/**
 * Chooses the endpoint for one connection (or UDP flow) of a Service port:
 * ClientIP affinity first when enabled, else the round robin, passing over
 * endpoints passive health is skipping. One Picker lives as long as its
 * Service port; reloads and readiness changes call update(), which keeps the
 * rotation and the affinity records when the endpoint set is unchanged.
 * Pure: the caller passes the time.
 */
import { ClientIpAffinity } from './affinity.js';
import { PassiveHealth, type PassiveHealthOptions } from './passive-health.js';
import { RoundRobin, type Balanced, type Shuffle } from './round-robin.js';

export class Picker<T extends Balanced> {
  private readonly rotation: RoundRobin<T>;
  readonly health: PassiveHealth;
  private affinity: ClientIpAffinity | undefined;
  private byId = new Map<string, T>();
  private now = 0;
  private readonly skip = (item: T): boolean => this.health.isEjected(item.id, this.now);

  constructor(shuffle: Shuffle | undefined, health: PassiveHealthOptions | undefined) {
    this.rotation = new RoundRobin<T>(shuffle);
    this.health = new PassiveHealth(health);
  }

  /** Installs the usable endpoints. Returns true when the set changed (the rotation restarted). */
  update(items: readonly T[], affinityTimeoutSeconds: number): boolean {
    this.byId = new Map(items.map((x) => [x.id, x]));
    if (affinityTimeoutSeconds <= 0) this.affinity = undefined;
    else if (this.affinity === undefined) this.affinity = new ClientIpAffinity(affinityTimeoutSeconds);
    else this.affinity.setTimeout(affinityTimeoutSeconds);
    const changed = this.rotation.update(items);
    if (changed) this.affinity?.retain(new Set(this.byId.keys()));
    return changed;
  }

  /**
   * The endpoint for a client. `repin` (after a failed dial) bypasses the
   * client's record and pins it to the next endpoint in turn.
   */
  pick(clientIp: string, repin: boolean, nowMs: number): T | undefined {
    this.now = nowMs;
    const affinity = this.affinity;
    if (affinity !== undefined && !repin) {
      const pinned = affinity.lookup(clientIp, nowMs);
      const item = pinned === undefined ? undefined : this.byId.get(pinned);
      if (item !== undefined && !this.health.isEjected(item.id, nowMs)) return item;
    }
    const item = this.rotation.next(this.health.empty ? undefined : this.skip);
    if (item !== undefined) affinity?.pin(clientIp, item.id, nowMs);
    return item;
  }

  get size(): number {
    return this.rotation.size;
  }

  /** Number of live affinity records (bounded; see ClientIpAffinity). */
  get affinityRecords(): number {
    return this.affinity?.size ?? 0;
  }
}
