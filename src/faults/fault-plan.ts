/**
 * A declared Fault, compiled against one config snapshot: which Service
 * ports and endpoints it aims at, resolved (a Pod label selector becomes the
 * set of Pods it matches now), its toxics and its schedule. Plain data built
 * by state/faults.ts on every reload; the FaultTable runs it.
 */
import type { ToxicSpec } from './toxics.js';
import type { ConnectionTarget } from './types.js';

export interface FaultPlan {
  /** `namespace/name` of the Fault object. */
  readonly id: string;
  /**
   * Changes when anything of the fault changes (toxics, target, schedule,
   * seed): a new revision restarts its schedule and its connection count;
   * an unchanged one keeps both across reloads.
   */
  readonly revision: string;
  readonly toxics: readonly ToxicSpec[];
  /** undefined: random choices differ on every run. */
  readonly seed: number | undefined;
  /** The fault starts this long after it is first applied. */
  readonly afterMs: number;
  /** It lasts this long once started; 0 = until removed. */
  readonly forMs: number;
  /** Keys of the TCP Service ports whose connections it may affect. */
  readonly servicePorts: ReadonlySet<string>;
  /** Only connections to these endpoints (`host:port`); undefined = no endpoint filter. */
  readonly endpoints: ReadonlySet<string> | undefined;
  /** Only connections to endpoints of these Pods (`namespace/name`); undefined = no Pod filter. */
  readonly pods: ReadonlySet<string> | undefined;
  /** What it targets, for humans: `Service default/web port 80`, `Pod default/web-1`... */
  readonly target: string;
}

/**
 * The target filter, the one place it is written: whether a connection to
 * `target` may get the Fault's toxics (used at admission, by the admin
 * views, and by the planner to find the Service ports a Pod target reaches).
 */
export function reaches(plan: Pick<FaultPlan, 'endpoints' | 'pods'>, target: ConnectionTarget): boolean {
  const { endpoints, pods } = plan;
  return (endpoints === undefined || endpoints.has(target.id)) && (pods === undefined || pods.has(target.pod));
}
