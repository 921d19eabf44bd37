/**
 * One toxic of one source (a declared Fault's, or an API proxy's), shared by
 * every connection that met it. The stages of open connections register in
 * `live`, so that removing the toxic releases them and an API update reaches
 * them (toxiproxy does both).
 */
import type { ToxicSpec } from './toxics.js';
import type { LiveToxic, ToxicBindingState, ToxicSource } from './types.js';

export class ToxicBinding implements ToxicBindingState {
  readonly live = new Set<LiveToxic>();
  retired = false;

  constructor(
    readonly source: ToxicSource,
    /** The Fault's `namespace/name`, or the API proxy's name. */
    readonly owner: string,
    /** Current; only an API update changes it (its name, type and stream never change). */
    public spec: ToxicSpec,
  ) {}

  /** Removed: every live connection that met it is released (it flushes what it holds, in order). */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    const live = [...this.live];
    this.live.clear();
    for (const l of live) l.release();
  }

  /** An API update: the new spec for new connections, and for the live ones that use the toxic (toxiproxy does both). */
  update(spec: ToxicSpec): void {
    this.spec = spec;
    for (const l of [...this.live]) l.reconfigure(spec);
  }
}
