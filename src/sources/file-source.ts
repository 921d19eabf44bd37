/**
 * The config files as a Source: `--config` paths (files, directory trees,
 * `-` for standard input) read whole (config/load.ts), validated in a child
 * process (config/isolated-validation.ts) and watched (config/watch.ts:
 * fs.watch on the directory, debounced, with a slow poll as the backstop).
 */
import { describePaths, readConfig, STDIN_PATH, validateRead, type PathKind } from '../config/load.js';
import { ConfigWatcher } from '../config/watch.js';
import type { Source, SourceLog, SourceObjects, SourceRead, SourceTrigger } from './source.js';

/** Quiet time after the last file event before a reload. */
const WATCH_DEBOUNCE_MS = 150;

export interface FileSourceOptions {
  /** Files, directories (read recursively) and `-` (standard input), in the order given. */
  readonly paths: readonly string[];
  /** Standard input's bytes for the path `-`, read once by the caller: every read sees the same text. */
  readonly stdin?: Uint8Array;
  /** false: no fs.watch, only the poll (and whoever reloads directly: SIGHUP, the API). */
  readonly watch: boolean;
  /** How often to report a possible change regardless of events; 0 = never. */
  readonly pollIntervalMs: number;
}

export class FileSource implements Source {
  readonly description: string;
  /** What each path was at the first read: a later read that finds a directory turned into a file (or back) is an issue. */
  private expect: readonly (PathKind | undefined)[] | undefined;
  private watchers: ConfigWatcher[] = [];
  /** The last validated version and its objects. */
  private last: { readonly version: string; readonly objects: Promise<SourceObjects> } | undefined;

  constructor(private readonly options: FileSourceOptions) {
    this.description = describePaths(options.paths);
  }

  async read(): Promise<SourceRead> {
    const { paths, stdin } = this.options;
    const read = await readConfig(paths, { ...(this.expect === undefined ? {} : { expect: this.expect }), ...(stdin === undefined ? {} : { stdin }) });
    this.expect ??= read.kinds;
    return { version: read.hash, objects: () => this.validated(read, paths) };
  }

  /**
   * The files' objects, validated once per version: beside a cluster source,
   * a reload for a cluster change reads the files unchanged, and must not
   * start a validation child process for them every time.
   */
  private validated(read: Awaited<ReturnType<typeof readConfig>>, paths: readonly string[]): Promise<SourceObjects> {
    if (this.last?.version !== read.hash) this.last = { version: read.hash, objects: validateRead(read, paths) };
    const { objects } = this.last;
    // A failed validation is not kept: the next reload tries again.
    objects.catch(() => {
      if (this.last?.objects === objects) this.last = undefined;
    });
    return objects;
  }

  /** One watcher per path; standard input cannot change. Only the first path polls: one poll re-reads them all. */
  watch(onChange: (trigger: SourceTrigger) => void, log: SourceLog): void {
    this.stop();
    this.watchers = this.options.paths
      .filter((path) => path !== STDIN_PATH)
      .map(
        (path, i) =>
          new ConfigWatcher(
            path,
            { debounceMs: WATCH_DEBOUNCE_MS, pollIntervalMs: i === 0 ? this.options.pollIntervalMs : 0, watch: this.options.watch },
            onChange,
            log,
          ),
      );
    for (const watcher of this.watchers) watcher.start();
  }

  stop(): void {
    for (const watcher of this.watchers) watcher.stop();
    this.watchers = [];
  }
}
