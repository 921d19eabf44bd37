#!/usr/bin/env node
/**
 * Summarizes a V8 .cpuprofile (from `npm run bench -- --cpu-prof`): where the
 * proxy's main thread spent its samples, by category and by function (self
 * time). Kernel time inside a syscall shows as the JS or native frame that
 * made the call (often "(program)" or a libuv write/read binding).
 *
 *   node build/scripts/bench/profile-summary.js FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly hitCount?: number;
}
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface Line {
  readonly name: string;
  readonly hits: number;
  readonly pct: number;
}

/** idle, GC, native (program), node internals, dependencies, svcproxy itself. */
export function category(frame: CallFrame): string {
  const name = frame.functionName;
  if (name === '(idle)') return 'idle (waiting in epoll)';
  if (name === '(garbage collector)') return 'garbage collector';
  if (name === '(program)' || name === '(root)') return 'native (V8/libuv/syscalls, no JS frame)';
  if (frame.url.startsWith('node:')) return 'Node internals (streams, net, timers)';
  if (frame.url.includes('/node_modules/')) return 'dependencies (node_modules)';
  if (frame.url === '') return 'native bindings called from JS';
  return 'svcproxy code';
}

function top(map: Map<string, number>, total: number, n: number): Line[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, hits]) => ({ name, hits, pct: (100 * hits) / total }));
}

export function summarize(profile: CpuProfile, n = 25): { seconds: number; categories: Line[]; functions: Line[]; busyFunctions: Line[] } {
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    total += hits;
    const f = node.callFrame;
    if (f.functionName === '(idle)') idle += hits;
    const cat = category(f);
    byCategory.set(cat, (byCategory.get(cat) ?? 0) + hits);
    const where = f.url === '' ? '' : ` ${f.url.replace(/^file:\/\/.*?\/(dist|build)\//, '$1/')}:${f.lineNumber + 1}`;
    const key = `${f.functionName || '(anonymous)'}${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + hits);
  }
  const busy = new Map([...byFunction].filter(([k]) => !k.startsWith('(idle)')));
  return {
    seconds: (profile.endTime - profile.startTime) / 1e6,
    categories: top(byCategory, total, 10),
    functions: top(byFunction, total, n),
    busyFunctions: top(busy, total - idle, n),
  };
}

function main(argv: readonly string[]): number {
  const [file, topText] = argv;
  if (file === undefined) {
    process.stderr.write('usage: node build/scripts/bench/profile-summary.js FILE.cpuprofile [TOP]\n');
    return 2;
  }
  const s = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(topText ?? 25));
  const fmt = (l: Line): string => `${l.pct.toFixed(1).padStart(5)}%  ${l.name}`;
  process.stdout.write(
    [
      `${file}: ${s.seconds.toFixed(1)} s profiled`,
      '',
      'by category (% of all samples):',
      ...s.categories.map(fmt),
      '',
      'by function, self time (% of non-idle samples):',
      ...s.busyFunctions.map(fmt),
      '',
    ].join('\n'),
  );
  return 0;
}

if (process.argv[1]?.endsWith('profile-summary.js') === true) process.exitCode = main(process.argv.slice(2));
