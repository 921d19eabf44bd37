/**
 * The bench's command line and its two sizes: the full run (`npm run bench`,
 * about a minute and a half) and `--smoke` (a few seconds, for the test suite).
 * Pure: argv in, settings or a usage error out.
 */
import { parseArgs } from 'node:util';
import { assertLoopback, NotLoopbackError } from './loopback.js';

/** svcproxy runs twice: with its native splice pump (`svcproxy`) and with its JavaScript pump (`svcproxy-js`). */
export const TARGET_NAMES = ['direct', 'svcproxy', 'svcproxy-js', 'node-pipe', 'haproxy', 'nginx'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];
export type Impl = 'auto' | 'c' | 'node';
const STEP_NAMES = ['bulk1', 'bulk16', 'rate', 'rtt', 'memory', 'reload', 'portforward'] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** How much each step does. Every loop is bounded in count and in time. */
export interface Sizes {
  /** Step 1: bytes uploaded on one connection. */
  readonly bulk1Bytes: number;
  /** Step 2: connections at once, and bytes uploaded on each. */
  readonly bulkConns: number;
  readonly bulkBytesPerConn: number;
  /** Step 3: concurrent clients; connections per run (after warm-up) and run length cap. */
  readonly rateClients: number;
  readonly rateConnections: number;
  readonly rateWarmup: number;
  readonly rateMaxMs: number;
  /** Step 4: round trips per run (after warm-up) and run length cap. */
  readonly rttCount: number;
  readonly rttWarmup: number;
  readonly rttMaxMs: number;
  /** Step 5: idle proxied connections held open. */
  readonly holdConns: number;
  /** Runs of steps 1-4 per target, interleaved across targets; the median is reported. */
  readonly reps: number;
  /** Step 6: config reloads per rep (reps x this many in all, per svcproxy target), and the deadline for each. */
  readonly reloadsPerRep: number;
  readonly reloadMaxMs: number;
  /** Step 7 (port-forward): bytes uploaded on one connection; connections at once and bytes on each. */
  readonly pfBulk1Bytes: number;
  readonly pfBulkConns: number;
  readonly pfBulkBytesPerConn: number;
  /** Step 7: new connections made one after the other (after warm-up), and the run length cap. */
  readonly pfConnects: number;
  readonly pfConnectWarmup: number;
  readonly pfConnectMaxMs: number;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export const FULL: Sizes = {
  bulk1Bytes: GiB,
  bulkConns: 16,
  bulkBytesPerConn: 64 * MiB, // 1 GiB in all
  rateClients: 64,
  rateConnections: 20_000,
  rateWarmup: 500,
  rateMaxMs: 2500,
  rttCount: 10_000,
  rttWarmup: 500,
  rttMaxMs: 3000,
  holdConns: 5000,
  reps: 3,
  reloadsPerRep: 7, // 21 reloads with the default 3 reps
  reloadMaxMs: 15_000,
  pfBulk1Bytes: 256 * MiB,
  pfBulkConns: 16,
  pfBulkBytesPerConn: 16 * MiB, // 256 MiB in all
  pfConnects: 1000,
  pfConnectWarmup: 50,
  pfConnectMaxMs: 5000,
};

export const SMOKE: Sizes = {
  bulk1Bytes: 8 * MiB,
  bulkConns: 16,
  bulkBytesPerConn: 512 * 1024,
  rateClients: 64,
  rateConnections: 500,
  rateWarmup: 50,
  rateMaxMs: 1000,
  rttCount: 300,
  rttWarmup: 20,
  rttMaxMs: 1000,
  holdConns: 100,
  reps: 1,
  reloadsPerRep: 3,
  reloadMaxMs: 15_000,
  pfBulk1Bytes: 4 * MiB,
  pfBulkConns: 16,
  pfBulkBytesPerConn: 256 * 1024,
  pfConnects: 100,
  pfConnectWarmup: 10,
  pfConnectMaxMs: 3000,
};

export interface BenchOptions {
  readonly smoke: boolean;
  readonly sizes: Sizes;
  readonly targets: readonly TargetName[];
  readonly steps: readonly StepName[];
  readonly impl: Impl;
  /** Run svcproxy (steps 1-4) under `node --cpu-prof`, profiles written to <out>/profiles. */
  readonly cpuProf: boolean;
  /** Pin each proxy to the last CPU and the generator and backends to the others (taskset). */
  readonly pin: boolean;
  /** Also write the results as <out>/example.json|svg, the copy kept in git. */
  readonly example: boolean;
  readonly svcproxy: string;
  /** Step 7: the kubectl to run beside svcproxy (undefined: the one on PATH). */
  readonly kubectl: string | undefined;
  /** svcproxy's --workers (1: a single process, as the peers run). */
  readonly workers: number;
  readonly host: string;
  readonly outDir: string;
  readonly updateReadme: boolean;
  readonly verbose: boolean;
  /** The whole run is aborted (everything cleaned up) after this long. */
  readonly maxSeconds: number;
}

export type Parsed =
  | { readonly kind: 'run'; readonly options: BenchOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

export const USAGE = `Usage: npm run bench -- [options]

Measures svcproxy (native pump, and --pump js) against a direct connection, a
bare Node pipe() proxy and, when installed, HAProxy and nginx (stream), on
loopback only, with its own backends and load generator.

Options:
  --smoke              tiny sizes, one run each (seconds; what the tests use)
  --targets LIST       comma-separated subset of ${TARGET_NAMES.join(',')} (direct is always run)
  --steps LIST         comma-separated subset of ${STEP_NAMES.join(',')} (default all)
  --impl auto|c|node   load generator and backends: C (compiled now with cc) or Node;
                       auto = C when a compiler is found (default)
  --svcproxy PATH      the svcproxy entry point to run (default dist/main.js)
  --kubectl PATH       the kubectl step 7 runs beside svcproxy (default: kubectl on PATH;
                       missing: that side is skipped with a note)
  --workers N          run svcproxy with --workers N (default 1)
  --host ADDR          loopback address everything binds and dials (default 127.0.0.1)
  --hold N             idle connections for the memory step (default ${FULL.holdConns})
  --reps N             runs per figure for steps 1-4 (default ${FULL.reps}; median reported);
                       step 6 (reload) does N x ${FULL.reloadsPerRep} reloads (${SMOKE.reloadsPerRep} with --smoke);
                       step 7 (portforward) runs N times per forwarder
  --out DIR            where the JSON and SVG go (default bench/results)
  --cpu-prof           run svcproxy under node --cpu-prof for steps 1-4
                       (profile in <out>/profiles; summarize with
                       node build/scripts/bench/profile-summary.js FILE)
  --pin                pin each proxy to the last CPU, the generator and backends
                       to the others (taskset; needs 2 or more CPUs)
  --update-readme      rewrite the figures section of bench/README.md
  --example            also write <out>/example.json and example.svg (committed)
  --max-seconds N      abort the whole run after N seconds (default 480)
  --verbose            a line per run and per process started or stopped
  --help               this text
`;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function positiveInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) === 0) throw new UsageError(`${flag}: "${text}" is not a positive integer`);
  return Number(text);
}

export function parseBenchArgs(argv: readonly string[]): Parsed {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        smoke: { type: 'boolean' },
        targets: { type: 'string' },
        steps: { type: 'string' },
        'cpu-prof': { type: 'boolean' },
        pin: { type: 'boolean' },
        example: { type: 'boolean' },
        impl: { type: 'string' },
        svcproxy: { type: 'string' },
        kubectl: { type: 'string' },
        workers: { type: 'string' },
        host: { type: 'string' },
        hold: { type: 'string' },
        reps: { type: 'string' },
        out: { type: 'string' },
        'update-readme': { type: 'boolean' },
        'max-seconds': { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err: unknown) {
    return { kind: 'usage-error', message: err instanceof Error ? err.message : String(err) };
  }
  if (values.help === true) return { kind: 'help' };
  const smoke = values.smoke === true;
  const base = smoke ? SMOKE : FULL;

  const wanted = (values.targets ?? TARGET_NAMES.join(',')).split(',').map((s) => s.trim());
  const unknown = wanted.filter((w) => !(TARGET_NAMES as readonly string[]).includes(w));
  if (unknown.length > 0) return { kind: 'usage-error', message: `--targets: unknown ${unknown.join(', ')}; choose from ${TARGET_NAMES.join(', ')}` };
  const targets = TARGET_NAMES.filter((n) => n === 'direct' || wanted.includes(n));

  const stepList = (values.steps ?? STEP_NAMES.join(',')).split(',').map((s) => s.trim());
  const badSteps = stepList.filter((w) => !(STEP_NAMES as readonly string[]).includes(w));
  if (badSteps.length > 0) return { kind: 'usage-error', message: `--steps: unknown ${badSteps.join(', ')}; choose from ${STEP_NAMES.join(', ')}` };
  const steps = STEP_NAMES.filter((n) => stepList.includes(n));

  const impl = values.impl ?? 'auto';
  if (impl !== 'auto' && impl !== 'c' && impl !== 'node') return { kind: 'usage-error', message: `--impl: "${impl}" is not auto, c or node` };

  const host = values.host ?? '127.0.0.1';
  let sizes: Sizes;
  let maxSeconds: number;
  let workers: number;
  try {
    assertLoopback(host, '--host');
    sizes = { ...base, holdConns: positiveInt(values.hold, '--hold', base.holdConns), reps: positiveInt(values.reps, '--reps', base.reps) };
    maxSeconds = positiveInt(values['max-seconds'], '--max-seconds', 480);
    workers = positiveInt(values.workers, '--workers', 1);
  } catch (err: unknown) {
    if (err instanceof NotLoopbackError || err instanceof UsageError) return { kind: 'usage-error', message: err.message };
    throw err;
  }
  return {
    kind: 'run',
    options: {
      smoke,
      sizes,
      targets,
      steps,
      impl,
      cpuProf: values['cpu-prof'] === true,
      pin: values.pin === true,
      example: values.example === true,
      svcproxy: values.svcproxy ?? 'dist/main.js',
      kubectl: values.kubectl,
      workers,
      host,
      outDir: values.out ?? 'bench/results',
      updateReadme: values['update-readme'] === true,
      verbose: values.verbose === true,
      maxSeconds,
    },
  };
}
