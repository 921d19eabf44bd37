/**
 * The declared-fault schedule: the Faults of the config being served, each
 * with its clock (when its revision was first applied), its connection count
 * (its seeded choices are indexed by it) and its toxics' bindings. Pure: no
 * sockets, no timers; time comes in as an argument.
 *
 * The window of a Fault (`after`, `for`) is written once, here, for
 * admission, the admin views and the timer that wakes the instance when a
 * window opens or closes; its target filter once, in fault-plan.ts.
 */
import { ToxicBinding } from './binding.js';
import { reaches, type FaultPlan } from './fault-plan.js';
import type { ConnectionTarget } from './types.js';

/** One declared Fault while it is in force. */
export class DeclaredFault {
  /** Connections it has seen (its seeded choices are indexed by this). */
  connections = 0;
  /** Its `for` ran out: its toxics were retired and it acts no more. */
  expired = false;

  constructor(
    public plan: FaultPlan,
    /** When this revision was first applied (ms); its schedule counts from here. */
    readonly appliedAt: number,
    readonly bindings: readonly ToxicBinding[],
  ) {}

  /** When it starts acting (ms). */
  get startsAt(): number {
    return this.appliedAt + this.plan.afterMs;
  }

  /** When it stops acting (ms); undefined = until removed. */
  get endsAt(): number | undefined {
    return this.plan.forMs === 0 ? undefined : this.startsAt + this.plan.forMs;
  }

  /** Inside its window at `now`. */
  isActive(now: number): boolean {
    const end = this.endsAt;
    return !this.expired && now >= this.startsAt && (end === undefined || now < end);
  }

  /** Its window has closed at `now` (a Fault without `for` never closes). */
  hasEnded(now: number): boolean {
    const end = this.endsAt;
    return end !== undefined && now >= end;
  }

  /** Aimed at the whole Service port (no endpoint or Pod filter). */
  get portWide(): boolean {
    return this.plan.endpoints === undefined && this.plan.pods === undefined;
  }

  /** The target filter: whether a connection to `target` may get its toxics. */
  reaches(target: ConnectionTarget): boolean {
    return reaches(this.plan, target);
  }

  /** Its toxics are removed: the connections that met them are released. */
  retire(): void {
    for (const b of this.bindings) b.retire();
  }
}

/** The declared Faults of one snapshot, by id and by the Service ports they may touch. */
export class DeclaredFaults {
  private faults = new Map<string, DeclaredFault>();
  /** Service port key -> the declared faults that may touch it, in config order. */
  private byPort = new Map<string, DeclaredFault[]>();

  /**
   * Installs the Faults of a new snapshot. A fault whose revision is
   * unchanged keeps its clock, connection count and bindings (its targets
   * may have been re-resolved); a removed or changed one is retired.
   */
  set(plans: readonly FaultPlan[], now: number): void {
    const next = new Map<string, DeclaredFault>();
    for (const plan of plans) {
      const old = this.faults.get(plan.id);
      if (old !== undefined && old.plan.revision === plan.revision) {
        old.plan = plan;
        next.set(plan.id, old);
      } else {
        next.set(
          plan.id,
          new DeclaredFault(
            plan,
            now,
            plan.toxics.map((t) => new ToxicBinding('config', plan.id, t)),
          ),
        );
      }
    }
    for (const [id, old] of this.faults) if (next.get(id) !== old) old.retire();
    this.faults = next;
    this.byPort = new Map();
    for (const f of next.values()) {
      for (const key of f.plan.servicePorts) {
        const list = this.byPort.get(key) ?? [];
        list.push(f);
        this.byPort.set(key, list);
      }
    }
  }

  /** The faults that may touch Service port `key`, in config order; undefined when none (one map lookup). */
  forPort(key: string): readonly DeclaredFault[] | undefined {
    return this.byPort.get(key);
  }

  /** The next time (ms) a fault starts or ends, or undefined when none will. */
  nextChange(now: number): number | undefined {
    let next: number | undefined;
    for (const f of this.faults.values()) {
      if (f.expired) continue;
      for (const t of [f.startsAt, f.endsAt]) if (t !== undefined && t > now && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  /** Retires faults whose `for` ran out (releasing their connections); true when anything changed. */
  expire(now: number): boolean {
    let changed = false;
    for (const f of this.faults.values()) {
      if (f.expired || !f.hasEnded(now)) continue;
      f.expired = true;
      f.retire();
      changed = true;
    }
    return changed;
  }
}
