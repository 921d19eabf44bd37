/**
 * Every process the bench starts goes through {@link Processes}: it runs in a
 * process group of its own (so nginx's worker goes with its master), with a
 * raised open-file limit, and dies with the bench where the system allows
 * (setpriv --pdeathsig). `stopAll()` ends them by process group, gently then
 * with SIGKILL; `killAllSync()` is the last resort from an 'exit' handler.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Tracked {
  readonly role: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Every stdout line so far (the tools print one JSON object a line). */
  readonly lines: string[];
  readonly stderr: () => string;
  readonly exited: Promise<Exit>;
  /** Resolves with the first stdout line `match` accepts; rejects on exit or after `timeoutMs`. */
  waitForLine(match: (line: string) => boolean, timeoutMs: number): Promise<string>;
}

export interface SpawnOptions {
  /** The soft RLIMIT_NOFILE to ask for (capped at the hard limit). */
  readonly fdLimit: number;
  readonly stdin?: 'pipe' | 'ignore';
  readonly cwd?: string;
  /** A CPU list for `taskset -c` (the bench's --pin), or undefined to let the scheduler place it. */
  readonly cpus?: string | undefined;
}

/** Raise the fd limit, then exec the real program: the spawned PID is the program's own. */
const WRAPPER = 'ulimit -n "$1" 2>/dev/null || ulimit -n "$(ulimit -Hn)"; shift; exec "$@"';

function hasPdeathsig(): boolean {
  const probe = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
  return probe.status === 0 && probe.stdout.includes('--pdeathsig');
}

export class Processes {
  private readonly live = new Map<number, Tracked>();
  private readonly pdeathsig = hasPdeathsig();
  /** Called with a line for each process started and stopped (the bench's --verbose). */
  onEvent: (line: string) => void = () => undefined;

  get pids(): number[] {
    return [...this.live.keys()];
  }

  spawn(role: string, command: string, args: readonly string[], options: SpawnOptions): Tracked {
    const pinned = options.cpus === undefined ? [command, ...args] : ['taskset', '-c', options.cpus, command, ...args];
    const exec = this.pdeathsig ? ['setpriv', '--pdeathsig', 'KILL', '--', ...pinned] : pinned;
    const child = spawn('/bin/sh', ['-c', WRAPPER, 'sh', String(options.fdLimit), ...exec], {
      detached: true, // its own process group: we signal the group
      stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
      cwd: options.cwd,
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${role}: could not start ${command}`);
    const lines: string[] = [];
    const waiters = new Set<() => void>();
    let stderr = '';
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      for (const w of [...waiters]) w();
    });
    child.stderr!.on('data', (c: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += c.toString();
    });
    child.on('error', () => undefined); // reported through `exited`
    let done = false;
    const exited = new Promise<Exit>((resolve) => {
      child.once('close', (code, signal) => {
        done = true;
        this.live.delete(pid);
        this.onEvent(`${role}: pid ${pid} exited (${signal ?? `code ${String(code)}`})`);
        resolve({ code, signal });
        for (const w of [...waiters]) w();
      });
    });
    const waitForLine = (match: (line: string) => boolean, timeoutMs: number): Promise<string> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const found = lines.find(match);
          if (found !== undefined) finish(() => resolve(found));
          else if (done) finish(() => reject(new Error(`${role} exited before it was ready${stderr === '' ? '' : `: ${stderr.trim()}`}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`${role}: no answer within ${timeoutMs} ms`))), timeoutMs);
        const finish = (settle: () => void): void => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    const tracked: Tracked = { role, pid, child, lines, stderr: () => stderr, exited, waitForLine };
    this.live.set(pid, tracked);
    this.onEvent(`${role}: started pid ${pid} (process group ${pid})`);
    return tracked;
  }

  /** SIGTERM to the group, then SIGKILL after `graceMs`; resolves when the leader has exited. */
  async stop(tracked: Tracked, graceMs = 2000): Promise<void> {
    if (!this.live.has(tracked.pid)) return;
    signalGroup(tracked.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(tracked.pid, 'SIGKILL'), graceMs);
    await tracked.exited;
    clearTimeout(timer);
    signalGroup(tracked.pid, 'SIGKILL'); // a worker that outlived its master
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live.values()].map((t) => this.stop(t)));
  }

  /** Synchronous, for process.on('exit'): no waiting possible there. */
  killAllSync(): void {
    for (const pid of this.live.keys()) signalGroup(pid, 'SIGKILL');
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** CPU time and memory of a process group, from /proc. */
export interface GroupUsage {
  readonly pids: number[];
  /** user + system CPU seconds, all threads, all processes of the group. */
  readonly cpuS: number;
  /** Sum of the resident set sizes, bytes. */
  readonly rssBytes: number;
}

function sysconf(name: string, fallback: number): number {
  const out = spawnSync('getconf', [name], { encoding: 'utf8' });
  const value = Number(out.stdout?.trim());
  return out.status === 0 && Number.isInteger(value) && value > 0 ? value : fallback;
}

const CLK_TCK = sysconf('CLK_TCK', 100);
const PAGE_SIZE = sysconf('PAGESIZE', 4096);

/** Fields of /proc/PID/stat after the command name, which may itself hold spaces. */
function statFields(pid: string): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone between readdir and read
  }
}

export function groupUsage(pgid: number): GroupUsage {
  const pids: number[] = [];
  let ticks = 0;
  let pages = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(entry);
    // man proc(5): field 5 pgrp, 14 utime, 15 stime, 24 rss; f[0] is field 3.
    if (f === undefined || Number(f[2]) !== pgid) continue;
    pids.push(Number(entry));
    ticks += Number(f[11]) + Number(f[12]);
    pages += Number(f[21]);
  }
  return { pids, cpuS: ticks / CLK_TCK, rssBytes: pages * PAGE_SIZE };
}

/**
 * CPU seconds (user + system) of a process group including the children its
 * members have reaped: utime + stime + cutime + cstime of every live member.
 * A child that exited and was waited for (svcproxy's validation child, forked
 * into the same group) leaves /proc, and its time moves into its parent's
 * cutime/cstime, so it is counted once whether it is alive or gone. Not
 * counted: a child not yet reaped when read (briefly a zombie whose own
 * utime/stime is still read here, so it is not lost either).
 */
export function groupCpuWithReapedS(pgid: number): { pids: number[]; cpuS: number; reapedS: number } {
  const pids: number[] = [];
  let ticks = 0;
  let reaped = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(entry);
    // man proc(5): field 5 pgrp, 14 utime, 15 stime, 16 cutime, 17 cstime; f[0] is field 3.
    if (f === undefined || Number(f[2]) !== pgid) continue;
    pids.push(Number(entry));
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    reaped += Number(f[13]) + Number(f[14]);
  }
  return { pids, cpuS: ticks / CLK_TCK, reapedS: reaped / CLK_TCK };
}

/** The soft "Max open files" of a process, or undefined when it cannot be read. */
export function fdSoftLimit(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}
