/**
 * The load generator and the backends: the C program (scripts/bench/loadgen.c)
 * compiled now with `cc -O2 -pthread` into the run's temp directory, or, when
 * no compiler works (or `--impl node`), the Node version (loadgen-node.ts)
 * with the same modes, arguments and JSON lines.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Impl } from './options.js';

export interface Tools {
  readonly impl: 'c' | 'node';
  /** What was used, for the report ("cc (Debian 12.2.0-14) 12.2.0, -O2", or why Node). */
  readonly description: string;
  /** The command line for one mode: `loadgen <mode> <args...>`. */
  command(mode: string, args: readonly (string | number)[]): { command: string; args: string[] };
}

const HERE = dirname(fileURLToPath(import.meta.url));

/** scripts/bench/loadgen.c, found by walking up from the compiled module (build/scripts/bench). */
function findCSource(start = HERE): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'scripts', 'bench', 'loadgen.c');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

function compile(source: string, outDir: string): { binary: string; compiler: string } | { error: string } {
  const binary = join(outDir, 'loadgen');
  for (const cc of [process.env['CC'], 'cc', 'gcc', 'clang']) {
    if (cc === undefined || cc === '') continue;
    const version = spawnSync(cc, ['--version'], { encoding: 'utf8' });
    if (version.status !== 0) continue;
    const built = spawnSync(cc, ['-O2', '-pthread', '-o', binary, source], { encoding: 'utf8' });
    if (built.status === 0) return { binary, compiler: `${(version.stdout.split('\n')[0] ?? cc).trim()}, -O2` };
    return { error: `${cc} failed to compile ${source}: ${built.stderr.trim()}` };
  }
  return { error: 'no C compiler found (tried $CC, cc, gcc, clang)' };
}

function nodeTools(reason: string): Tools {
  const script = join(HERE, 'loadgen-node.js');
  return {
    impl: 'node',
    description: `Node ${process.version} load generator (${reason}); it may be slower than the proxies it measures`,
    command: (mode, args) => ({ command: process.execPath, args: [script, mode, ...args.map(String)] }),
  };
}

export function prepareTools(impl: Impl, tmpDir: string): Tools {
  if (impl === 'node') return nodeTools('--impl node');
  const source = findCSource();
  const built = source === undefined ? { error: 'scripts/bench/loadgen.c not found' } : compile(source, tmpDir);
  if ('error' in built) {
    if (impl === 'c') throw new Error(`--impl c: ${built.error}`);
    return nodeTools(built.error);
  }
  return {
    impl: 'c',
    description: `C (${built.compiler})`,
    command: (mode, args) => ({ command: built.binary, args: [mode, ...args.map(String)] }),
  };
}
