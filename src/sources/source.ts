/**
 * Where an instance's Kubernetes objects come from. A source yields whole
 * snapshots of objects and says when they may have changed; the instance
 * (src/instance/) reads every source, merges their objects (merge.ts),
 * plans and applies. The file and directory watcher is the first source
 * (file-source.ts); a cluster source (list+watch through a kubeconfig) is
 * meant to be a second implementation of the same interface, with nothing
 * else moving.
 *
 * Reading is split in two so that a change costs little until it is real:
 * read() is cheap and returns a version (equal versions = equal objects);
 * only a read whose version is new is turned into objects (objects(), which
 * may parse and validate in a child process).
 */
import type { ConfigIssue, ConfigNote, ConfigSnapshot, SourcePosition } from '../config/types.js';

/** Why a source thinks its objects may have changed. */
export type SourceTrigger = 'watch' | 'poll';

/** The validated objects of one read, or the problems that keep them from being applied. */
export interface SourceObjects {
  readonly snapshot: ConfigSnapshot;
  /** Any issue rejects the whole snapshot (of every source): nothing of it is applied. */
  readonly issues: readonly ConfigIssue[];
  readonly notes: readonly ConfigNote[];
  /** Objects of kinds svcproxy does not read, by `apiVersion kind`. */
  readonly ignored: Readonly<Record<string, number>>;
  /** Where each object starts in its file, by `file[doc]` (file sources): later problems point there too. */
  readonly objectsAt?: Readonly<Record<string, SourcePosition>>;
}

/** What a source holds at one moment. */
export interface SourceRead {
  /** Equal versions mean equal objects; a changed read problem is a new version too. */
  readonly version: string;
  /** This read as validated objects. */
  objects(): Promise<SourceObjects>;
}

/** The log a source may write to while watching. */
export interface SourceLog {
  warn(fields: Record<string, unknown>, msg: string): void;
  debug(fields: Record<string, unknown>, msg: string): void;
}

export interface Source {
  /** How problems and the admin API name this source (for files: the paths as given). */
  readonly description: string;
  /** Reads what the source holds now (cheap: decides whether anything changed). */
  read(): Promise<SourceRead>;
  /** From now on, calls `onChange` whenever the objects may have changed ("may": the reload compares versions). */
  watch(onChange: (trigger: SourceTrigger) => void, log: SourceLog): void;
  /** Stops watching; a stopped source calls `onChange` no more. */
  stop(): void;
}
