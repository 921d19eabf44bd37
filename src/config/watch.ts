/**
 * Tells when the config may have changed. It watches the *directory* (the
 * config directory, or the directory holding the config file), because a
 * watch on a file dies silently when the file is replaced by a rename (an
 * editor's atomic save) or when a Kubernetes ConfigMap mount swaps its
 * `..data` symlink (see ../shared/toolchain.md §5.7: the events there are
 * named `..data_tmp`, `..data`, never the file's own name, so any event
 * counts). Bursts are debounced; a slow poll is the backstop for anything
 * inotify misses (network file systems, a watched directory that was
 * replaced). It reports only "maybe changed": the reload reads the whole
 * snapshot and compares its hash, so a spurious event costs one read.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { errorMessage } from '../errors.js';

export type WatchTrigger = 'watch' | 'poll';

export interface WatchOptions {
  /** Quiet time after the last event before reporting (bursts collapse into one reload). */
  readonly debounceMs: number;
  /** How often to report regardless of events; 0 disables polling. */
  readonly pollIntervalMs: number;
  /** false: no fs.watch at all, only the poll (and whoever calls reload directly). */
  readonly watch: boolean;
}

interface WatchLog {
  warn(fields: Record<string, unknown>, msg: string): void;
  debug(fields: Record<string, unknown>, msg: string): void;
}

export class ConfigWatcher {
  private watcher: FSWatcher | undefined;
  private watchedDir = '';
  private watchedIno = -1;
  private debounceTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly path: string,
    private readonly options: WatchOptions,
    private readonly onChange: (trigger: WatchTrigger) => void,
    private readonly log: WatchLog,
  ) {}

  start(): void {
    this.rewatch();
    if (this.options.pollIntervalMs > 0) {
      this.pollTimer = setInterval(() => {
        this.rewatch();
        this.onChange('poll');
      }, this.options.pollIntervalMs);
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.debounceTimer);
    clearInterval(this.pollTimer);
    this.closeWatcher();
  }

  /** The directory to watch: the config itself when it is a directory, else its parent. */
  private directory(): { dir: string; ino: number } | undefined {
    for (const dir of [this.path, dirname(this.path)]) {
      try {
        const info = statSync(dir);
        if (info.isDirectory()) return { dir, ino: info.ino };
      } catch {
        // missing or unreadable: try the parent, then give up until the next poll
      }
    }
    return undefined;
  }

  /** (Re)creates the fs.watch handle when there is none or the directory was replaced. */
  private rewatch(): void {
    if (this.stopped || !this.options.watch) return;
    const target = this.directory();
    if (target === undefined) {
      this.closeWatcher();
      return;
    }
    if (this.watcher !== undefined && target.dir === this.watchedDir && target.ino === this.watchedIno) return;
    this.closeWatcher();
    try {
      // A config directory is a tree (read recursively), so its subdirectories are watched too; the parent of a config file is not.
      const watcher = watch(target.dir, { persistent: true, recursive: target.dir === this.path }, () => this.onEvent());
      watcher.on('error', (err) => {
        this.log.warn({ dir: target.dir, err: errorMessage(err) }, 'config watch failed; relying on polling until it can be restored');
        this.closeWatcher();
      });
      this.watcher = watcher;
      this.watchedDir = target.dir;
      this.watchedIno = target.ino;
      this.log.debug({ dir: target.dir }, 'watching config directory');
    } catch (err: unknown) {
      this.log.warn({ dir: target.dir, err: errorMessage(err) }, 'cannot watch config directory; relying on polling');
    }
  }

  private closeWatcher(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.watchedIno = -1;
  }

  private onEvent(): void {
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.rewatch(); // the event may have been the directory itself going away
      this.onChange('watch');
    }, this.options.debounceMs);
  }
}
