/**
 * Tells when the config may have changed. It watches *directories* (every
 * directory of a config tree, or the directory holding a config file), never
 * a file: a watch on a file dies silently when the file is replaced by a
 * rename (an editor's atomic save) or when a Kubernetes ConfigMap mount swaps
 * its `..data` symlink (see ../shared/toolchain.md §5.7: the events there are
 * named `..data_tmp`, `..data`, never the file's own name, so any event
 * counts). A directory's own watch sees every entry renamed into it, however
 * often. Node's `recursive: true` is not used: on Linux it watches each file
 * by inode and sees only the first rename-save of a file (issue 25). So the
 * tree is walked and each directory watched on its own; the walk is redone
 * after every event (a directory added, removed or replaced is re-armed) and
 * at every poll. Bursts are debounced; a slow poll is the backstop for
 * anything inotify misses (network file systems). It reports only "maybe
 * changed": the reload reads the whole snapshot and compares its hash, so a
 * spurious event costs one read.
 */
import { readdirSync, statSync, watch, type Dirent, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
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

/** More directories than this in one config tree: the rest are left to the poll (warned about once). */
const MAX_WATCHED_DIRECTORIES = 1000;

interface Watched {
  readonly watcher: FSWatcher;
  readonly ino: number;
}

/** Every directory of the tree at `root` (root first), by inode; symbolic links are not followed. At most `limit`. */
function walkDirectories(root: string, rootIno: number, limit: number): Map<string, number> {
  const out = new Map<string, number>([[root, rootIno]]);
  const queue = [root];
  while (queue.length > 0 && out.size < limit) {
    const dir = queue.shift() as string;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue; // gone or unreadable since: the next walk sees what is there
    }
    for (const entry of entries) {
      if (!entry.isDirectory() || out.size >= limit) continue;
      const path = join(dir, entry.name);
      try {
        out.set(path, statSync(path).ino);
        queue.push(path);
      } catch {
        // removed in between
      }
    }
  }
  return out;
}

export class ConfigWatcher {
  /** One watch per directory, by path. */
  private readonly watched = new Map<string, Watched>();
  private debounceTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private warnedLimit = false;

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
    for (const dir of [...this.watched.keys()]) this.unwatch(dir);
  }

  /** The directories to watch: the whole tree when the config is a directory, else the file's parent. */
  private directories(): Map<string, number> {
    for (const dir of [this.path, dirname(this.path)]) {
      try {
        const info = statSync(dir);
        if (!info.isDirectory()) continue;
        if (dir !== this.path) return new Map([[dir, info.ino]]);
        const found = walkDirectories(dir, info.ino, MAX_WATCHED_DIRECTORIES);
        if (found.size >= MAX_WATCHED_DIRECTORIES && !this.warnedLimit) {
          this.warnedLimit = true;
          this.log.warn({ dir, limit: MAX_WATCHED_DIRECTORIES }, 'config tree has too many directories to watch each; the rest rely on polling');
        }
        return found;
      } catch {
        // missing or unreadable: try the parent, then give up until the next poll
      }
    }
    return new Map();
  }

  /** Brings the set of watches in line with the directories there now: new ones and replaced ones (another inode) watched, gone ones closed. */
  private rewatch(): void {
    if (this.stopped || !this.options.watch) return;
    const wanted = this.directories();
    for (const [dir, current] of this.watched) if (wanted.get(dir) !== current.ino) this.unwatch(dir);
    for (const [dir, ino] of wanted) if (!this.watched.has(dir)) this.watchOne(dir, ino);
  }

  private watchOne(dir: string, ino: number): void {
    try {
      const watcher = watch(dir, { persistent: true }, () => this.onEvent());
      watcher.on('error', (err) => {
        this.log.warn({ dir, err: errorMessage(err) }, 'config watch failed; relying on polling until it can be restored');
        this.unwatch(dir);
      });
      this.watched.set(dir, { watcher, ino });
      this.log.debug({ dir }, 'watching config directory');
    } catch (err: unknown) {
      this.log.warn({ dir, err: errorMessage(err) }, 'cannot watch config directory; relying on polling');
    }
  }

  private unwatch(dir: string): void {
    this.watched.get(dir)?.watcher.close();
    this.watched.delete(dir);
  }

  private onEvent(): void {
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.rewatch(); // the event may have been a directory added, removed or replaced
      this.onChange('watch');
    }, this.options.debounceMs);
  }
}
