/**
 * The order in which an instance changes itself: one reload or one re-plan
 * at a time, as an explicit state machine.
 *
 *   idle --reload(t)--> reloading --done--> (pending reload? reloading : re-plan wanted? replanning : idle)
 *   idle --replan()---> replanning --done--> (same)
 *
 * - A reload asked for while one runs is not started beside it: it becomes
 *   the one pending reload (triggers coalesce: any number of file events
 *   during a reload cost one more reload; a forced trigger, 'signal', is
 *   never downgraded by a later 'watch'), and its caller hears the running
 *   reload's outcome.
 * - A reload asked for during a re-plan waits for it and then runs as if
 *   asked then: its caller hears its own outcome.
 * - A re-plan asked for while anything runs (or before open()) is remembered
 *   as one flag and runs once nothing else is pending.
 * - A reload that ends 'unsettled' (the source was still being written)
 *   leaves a 'watch' reload pending when nothing else is, so the change is
 *   read again.
 * - After close() nothing pending is started.
 */
import type { ReloadTrigger } from '../instance-types.js';

export type ReloadOutcome = 'applied' | 'invalid' | 'unchanged' | 'unsettled';

export type LoopState = 'idle' | 'reloading' | 'replanning';

/** The two kinds of work the loop orders; the instance supplies them. */
export interface LoopSteps {
  /** Reads every source and applies what changed. */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome>;
  /** Plans the applied snapshot again without reading it (names resolved anew, time passed). */
  replan(): Promise<ReloadOutcome>;
}

/** Forced triggers win over the others when two coalesce. */
function coalesce(pending: ReloadTrigger | undefined, next: ReloadTrigger): ReloadTrigger {
  return pending === 'signal' ? pending : next;
}

export class ReloadLoop {
  private current: LoopState = 'idle';
  private running: Promise<ReloadOutcome> | undefined;
  private pending: ReloadTrigger | undefined;
  private replanWanted = false;
  private opened = false;
  private closed = false;

  constructor(private readonly steps: LoopSteps) {}

  get state(): LoopState {
    return this.current;
  }

  /** The reload that will run next, if any (for tests and the admin view). */
  get pendingTrigger(): ReloadTrigger | undefined {
    return this.pending;
  }

  get replanPending(): boolean {
    return this.replanWanted;
  }

  /** Re-plans may run from now on (the first config is applied); one asked for earlier runs now. */
  open(): void {
    this.opened = true;
    if (this.current === 'idle' && this.replanWanted && !this.closed) this.startReplan();
  }

  /** Nothing more starts once the running step ends (draining). */
  close(): void {
    this.closed = true;
    this.pending = undefined;
    this.replanWanted = false;
  }

  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    switch (this.current) {
      case 'replanning':
        return (this.running ?? Promise.resolve('unchanged')).then(() => this.reload(trigger));
      case 'reloading':
        this.pending = coalesce(this.pending, trigger);
        return this.running ?? Promise.resolve('unchanged');
      case 'idle':
        return this.run('reloading', () => this.steps.reload(trigger));
    }
  }

  replan(): void {
    if (this.closed) return;
    if (this.current !== 'idle' || !this.opened) {
      this.replanWanted = true;
      return;
    }
    this.startReplan();
  }

  private startReplan(): void {
    this.replanWanted = false;
    void this.run('replanning', () => this.steps.replan());
  }

  private run(state: Exclude<LoopState, 'idle'>, step: () => Promise<ReloadOutcome>): Promise<ReloadOutcome> {
    this.current = state;
    const run = step().then(
      (outcome) => {
        this.finish(outcome);
        return outcome;
      },
      (err: unknown) => {
        this.finish(undefined);
        throw err;
      },
    );
    this.running = run;
    return run;
  }

  /** The transition out of a step: the pending reload first, else a wanted re-plan, else idle. */
  private finish(outcome: ReloadOutcome | undefined): void {
    if (outcome === 'unsettled' && !this.closed) this.pending ??= 'watch';
    this.current = 'idle';
    this.running = undefined;
    if (this.closed) return;
    const next = this.pending;
    this.pending = undefined;
    if (next !== undefined) void this.reload(next);
    else if (this.replanWanted && this.opened) this.startReplan();
  }
}
