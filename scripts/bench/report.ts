/**
 * From runs to figures, ratios and the printed tables. Pure: the results
 * object in, text out. A ratio is always value / reference: for a "higher is
 * better" figure above 1 means ahead; for "lower is better", below 1 does.
 */
import { TARGET_NAMES, type Sizes, type TargetName } from './options.js';
import type { PortForwardResults } from './pf-types.js';
import { median, percentile, ratio } from './stats.js';
import type { MemoryResult, RunRecord, StepKey } from './steps.js';

export const FIGURE_KEYS = [
  'bulk1_MBps',
  'bulk16_MBps',
  'rate_per_s',
  'rate_p50_us',
  'rate_p99_us',
  'rtt_p50_us',
  'rtt_p99_us',
  'rtt_p999_us',
  'bulk1_cpu_s_per_GiB',
  'bulk16_cpu_s_per_GiB',
  'rate_cpu_us_per_conn',
  'rtt_cpu_us_per_rt',
  'rss_idle_MiB',
  'rss_held_MiB',
  'rss_per_conn_KiB',
  'reload_p50_ms',
  'reload_p90_ms',
  'reload_cpu_ms',
] as const;
export type FigureKey = (typeof FIGURE_KEYS)[number];

export interface FigureDef {
  readonly key: FigureKey;
  readonly step: StepKey;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /** Where a run's value comes from: the generator's JSON field (steps 1-4)... */
  readonly field?: string;
  /** ...or a function of the whole run (the proxy's CPU per unit of work); undefined where there is no proxy. */
  readonly perRun?: (run: RunRecord) => number | undefined;
  /** How the runs' values become the figure: their median (the default) or their 90th percentile (nearest rank). */
  readonly aggregate?: 'p90';
}

const GiB = 1024 ** 3;

/**
 * The proxy's CPU time (user + system, its whole process group: every thread,
 * the native pump's included) per unit of work. Steady on a shared machine,
 * where wall-clock figures are not. A run's CPU includes its warm-up, so the
 * per-connection and per-round-trip figures are a few % high for every
 * target alike.
 */
function proxyCpuPer(run: RunRecord, units: number | undefined, scale: number): number | undefined {
  const cpu = run.usage.proxyCpuS;
  if (cpu === undefined || units === undefined || units <= 0) return undefined;
  return (cpu * scale) / units;
}

export const FIGURES: readonly FigureDef[] = [
  { key: 'bulk1_MBps', step: 'bulk1', label: '1. bulk, 1 conn', unit: 'MB/s', better: 'higher', field: 'mbps' },
  { key: 'bulk16_MBps', step: 'bulk16', label: '2. bulk, 16 conns', unit: 'MB/s', better: 'higher', field: 'mbps' },
  { key: 'rate_per_s', step: 'rate', label: '3. conn rate', unit: 'conn/s', better: 'higher', field: 'per_s' },
  { key: 'rate_p50_us', step: 'rate', label: '3. conn time p50', unit: 'µs', better: 'lower', field: 'p50_us' },
  { key: 'rate_p99_us', step: 'rate', label: '3. conn time p99', unit: 'µs', better: 'lower', field: 'p99_us' },
  { key: 'rtt_p50_us', step: 'rtt', label: '4. round trip p50', unit: 'µs', better: 'lower', field: 'p50_us' },
  { key: 'rtt_p99_us', step: 'rtt', label: '4. round trip p99', unit: 'µs', better: 'lower', field: 'p99_us' },
  { key: 'rtt_p999_us', step: 'rtt', label: '4. round trip p99.9', unit: 'µs', better: 'lower', field: 'p999_us' },
  {
    key: 'bulk1_cpu_s_per_GiB',
    step: 'bulk1',
    label: '1. proxy CPU per GiB',
    unit: 'CPU-s',
    better: 'lower',
    perRun: (r) => proxyCpuPer(r, r.output['bytes'], GiB),
  },
  {
    key: 'bulk16_cpu_s_per_GiB',
    step: 'bulk16',
    label: '2. proxy CPU per GiB',
    unit: 'CPU-s',
    better: 'lower',
    perRun: (r) => proxyCpuPer(r, r.output['bytes'], GiB),
  },
  {
    key: 'rate_cpu_us_per_conn',
    step: 'rate',
    label: '3. proxy CPU per conn',
    unit: 'CPU-µs',
    better: 'lower',
    perRun: (r) => proxyCpuPer(r, r.output['connections'], 1e6),
  },
  {
    key: 'rtt_cpu_us_per_rt',
    step: 'rtt',
    label: '4. proxy CPU per round trip',
    unit: 'CPU-µs',
    better: 'lower',
    perRun: (r) => proxyCpuPer(r, r.output['count'], 1e6),
  },
  { key: 'rss_idle_MiB', step: 'memory', label: '5. RSS, no conns', unit: 'MiB', better: 'lower' },
  { key: 'rss_held_MiB', step: 'memory', label: '5. RSS, conns held', unit: 'MiB', better: 'lower' },
  { key: 'rss_per_conn_KiB', step: 'memory', label: '5. RSS per conn', unit: 'KiB', better: 'lower' },
  // Step 6: one run per reload; latency from the rename to the first connection the new backend answers.
  { key: 'reload_p50_ms', step: 'reload', label: '6. reload served p50', unit: 'ms', better: 'lower', field: 'latency_ms' },
  { key: 'reload_p90_ms', step: 'reload', label: '6. reload served p90', unit: 'ms', better: 'lower', field: 'latency_ms', aggregate: 'p90' },
  { key: 'reload_cpu_ms', step: 'reload', label: '6. proxy CPU per reload', unit: 'CPU-ms', better: 'lower', field: 'cpu_ms' },
];

export type Figures = Partial<Record<FigureKey, number>>;

/** CPU use during a step, in % of one core, summed over the step's runs. */
export interface CpuShare {
  readonly wallS: number;
  readonly generatorPct: number;
  readonly proxyPct: number | undefined;
  readonly backendPct: number;
}

export interface TargetReport {
  readonly name: TargetName;
  readonly available: boolean;
  readonly version: string;
  readonly setup: string;
  readonly note?: string;
  /** The proxy's soft open-file limit as it ran (checked in /proc), when there is a proxy process. */
  readonly fdLimit?: number;
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly kernel: string;
  readonly os: string;
  readonly node: string;
  readonly memoryGiB: number;
  readonly loadAverageStart: readonly number[];
  readonly loadAverageEnd: readonly number[];
  /** CPU use of the whole machine (all CPUs, %) in the second before the bench started. */
  readonly busyBeforePct: number;
}

export interface BenchResults {
  readonly schema: 1;
  readonly date: string;
  readonly smoke: boolean;
  readonly durationS: number;
  readonly machine: Machine;
  readonly generator: { readonly impl: 'c' | 'node'; readonly description: string };
  readonly sizes: Sizes;
  /** Open-file limits: the hard limit children inherit, and the backends' soft limit as raised. */
  readonly fdLimits: { readonly hard: number; readonly backends: number | undefined };
  readonly notes: readonly string[];
  readonly targets: readonly TargetReport[];
  readonly figures: Partial<Record<TargetName, Figures>>;
  /** Lowest and highest run of each figure (steps 1-4), to show the spread behind a median. */
  readonly spread: Partial<Record<TargetName, Partial<Record<FigureKey, readonly [number, number]>>>>;
  readonly ratios: Partial<Record<TargetName, Partial<Record<TargetName, Figures>>>>;
  readonly cpu: Partial<Record<TargetName, Partial<Record<StepKey, CpuShare>>>>;
  readonly memory: Partial<Record<TargetName, MemoryResult>>;
  readonly runs: readonly RunRecord[];
  /** Step 7, when it ran: its own forwarders (kubectl, svcproxy --cluster), figures, ratios and targets. */
  readonly portforward?: PortForwardResults;
}

const MiB = 1024 * 1024;

/** Medians per figure, and their spread, for one target. */
export function figuresOf(
  runs: readonly RunRecord[],
  memory: MemoryResult | undefined,
): { figures: Figures; spread: Partial<Record<FigureKey, readonly [number, number]>> } {
  const figures: Figures = {};
  const spread: Partial<Record<FigureKey, readonly [number, number]>> = {};
  for (const f of FIGURES) {
    const { field, perRun } = f;
    const valueOf = field !== undefined ? (r: RunRecord): number | undefined => r.output[field] : perRun;
    if (valueOf === undefined) continue;
    const values = runs
      .filter((r) => r.step === f.step)
      .map(valueOf)
      .filter((v): v is number => v !== undefined);
    if (values.length === 0) continue;
    figures[f.key] = f.aggregate === 'p90' ? percentile(values, 0.9) : median(values);
    spread[f.key] = [Math.min(...values), Math.max(...values)];
  }
  if (memory !== undefined) {
    figures.rss_idle_MiB = memory.rssBeforeBytes / MiB;
    figures.rss_held_MiB = memory.rssHeldBytes / MiB;
    figures.rss_per_conn_KiB = memory.perConnBytes / 1024;
  }
  return { figures, spread };
}

export function cpuOf(runs: readonly RunRecord[], step: StepKey): CpuShare | undefined {
  const mine = runs.filter((r) => r.step === step);
  if (mine.length === 0) return undefined;
  const wallS = mine.reduce((a, r) => a + r.usage.wallS, 0);
  const pct = (sum: number): number => (100 * sum) / wallS;
  const proxy = mine.every((r) => r.usage.proxyCpuS !== undefined) ? pct(mine.reduce((a, r) => a + (r.usage.proxyCpuS ?? 0), 0)) : undefined;
  return {
    wallS,
    generatorPct: pct(mine.reduce((a, r) => a + r.usage.generatorCpuS, 0)),
    proxyPct: proxy,
    backendPct: pct(mine.reduce((a, r) => a + r.usage.backendCpuS, 0)),
  };
}

export function ratiosOf(figures: Partial<Record<TargetName, Figures>>): BenchResults['ratios'] {
  const out: BenchResults['ratios'] = {};
  for (const t of TARGET_NAMES) {
    const mine = figures[t];
    if (mine === undefined) continue;
    const row: Partial<Record<TargetName, Figures>> = {};
    for (const ref of TARGET_NAMES) {
      const theirs = figures[ref];
      if (ref === t || theirs === undefined) continue;
      const r: Figures = {};
      for (const k of FIGURE_KEYS) {
        const v = ratio(mine[k], theirs[k]);
        if (v !== undefined) r[k] = v;
      }
      row[ref] = r;
    }
    out[t] = row;
  }
  return out;
}

export function formatValue(value: number | undefined, unit: string): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  if (unit === 'MiB' || unit === 'KiB') return value.toFixed(1);
  if (unit === 'CPU-s') return value.toFixed(3);
  if (unit === 'CPU-µs' || unit === 'CPU-ms') return value.toFixed(1);
  if (unit === 'ms') return value.toFixed(1);
  if (unit === 'µs' && value < 100) return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

export function formatRatio(value: number | undefined): string {
  return value === undefined ? '-' : `${value.toFixed(2)}x`;
}

/**
 * The ratio columns printed: svcproxy (native pump) against everything else,
 * its JS pump against the bare Node pipe proxy (the issue 16 target), then
 * each peer against direct.
 */
export function ratioColumns(present: readonly TargetName[]): Array<[TargetName, TargetName]> {
  const cols: Array<[TargetName, TargetName]> = [];
  for (const ref of present) if (ref !== 'svcproxy' && present.includes('svcproxy')) cols.push(['svcproxy', ref]);
  if (present.includes('svcproxy-js') && present.includes('node-pipe')) cols.push(['svcproxy-js', 'node-pipe']);
  if (present.includes('svcproxy-js') && present.includes('haproxy')) cols.push(['svcproxy-js', 'haproxy']);
  for (const t of present) if (t !== 'direct' && t !== 'svcproxy') cols.push([t, 'direct']);
  return cols;
}

/** Rows of cells: header first. Used for both the terminal table and the Markdown one. */
export function tableRows(results: BenchResults): string[][] {
  const present = TARGET_NAMES.filter((t) => results.figures[t] !== undefined);
  const cols = ratioColumns(present);
  const header = ['figure', 'unit', 'better', ...present, ...cols.map(([a, b]) => `${a}/${b}`)];
  const rows = FIGURES.map((f) => [
    f.key === 'rss_held_MiB' ? `5. RSS, ${results.sizes.holdConns} conns` : f.label,
    f.unit,
    f.better,
    ...present.map((t) => formatValue(results.figures[t]?.[f.key], f.unit)),
    ...cols.map(([a, b]) => formatRatio(results.ratios[a]?.[b]?.[f.key])),
  ]);
  return [header, ...rows];
}

export function cpuRows(results: BenchResults): string[][] {
  const present = TARGET_NAMES.filter((t) => results.cpu[t] !== undefined);
  const header = ['step (CPU % of one core: generator / proxy / backends)', ...present];
  const steps: StepKey[] = ['bulk1', 'bulk16', 'rate', 'rtt'];
  const pct = (v: number | undefined): string => (v === undefined ? '-' : `${Math.round(v)}`);
  const rows = steps.map((s) => [
    s,
    ...present.map((t) => {
      const c = results.cpu[t]?.[s];
      return c === undefined ? '-' : `${pct(c.generatorPct)} / ${pct(c.proxyPct)} / ${pct(c.backendPct)}`;
    }),
  ]);
  return [header, ...rows];
}

/** Fixed-width text table: numbers right-aligned, the first column left-aligned. */
export function textTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}

export function markdownTable(rows: readonly (readonly string[])[]): string {
  const [header, ...body] = rows;
  if (header === undefined) return '';
  const line = (r: readonly string[]): string => `| ${r.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...body.map(line)].join('\n');
}
