/**
 * Types shared by the running instance (instance/instance.ts) and the admin surface
 * that reads it. They live in this leaf module so that neither imports the
 * other: the instance is given an admin server by whoever composes the
 * process (app.ts), and the admin server sees the instance only through
 * these types and its own read-only view (admin/view.ts).
 */
import type { SourceTrigger } from './sources/source.js';
import type { ReadinessChange } from './health/probe-manager.js';

export type ReloadTrigger = 'start' | SourceTrigger | 'signal' | 'api';

/** What the admin surface reports about reloads. */
export interface ReloadStatus {
  successes: number;
  failures: number;
  /** ms since the epoch; 0 before the first success. */
  lastSuccessAt: number;
  lastAttemptAt: number;
  lastResult: 'none' | 'success' | 'failure';
  /** The problems of the last failed reload, one line each. */
  lastErrors: string[];
  /** The same, each with where it is in its file (`… (at web.yaml:12:7, in the object at web.yaml:5:1)`): what users read. */
  lastProblems?: string[];
  /** The hash and load time of the snapshot being served. */
  appliedHash: string;
  appliedAt: number;
}

/** What happens in a running svcproxy, for the admin feed. Emitted off the data path only. */
export interface SvcproxyEvents {
  reload: [{ readonly trigger: ReloadTrigger; readonly result: 'success' | 'failure'; readonly errors: readonly string[]; readonly changes: number }];
  readiness: [ReadinessChange];
  listener: [{ readonly key: string; readonly servicePort: string; readonly state: string; readonly error: string }];
  /** The toxics in force changed (a Fault applied, started or ended; an API toxic added or removed). */
  toxics: [];
  /** Pods were added, removed or changed (a reload, a binding name resolved anew, a removed Pod's grace period ended). */
  pods: [];
}

/** What the instance needs of an admin server: bind, report the port, close. The composer builds it. */
export interface AdminHandle {
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}
