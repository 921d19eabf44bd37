/**
 * Step 7's figures, ratios to kubectl, the issue's targets (met or not) and its tables. Pure: runs in, results and
 * text out. A ratio is value / kubectl's: above 1 is ahead for throughput, below 1 is ahead for times and CPU.
 */
import { formatRatio, formatValue } from './report.js';
import type { PfRun, PfRunKind } from './pf-steps.js';
import type { PfTargetName } from './pf-targets.js';
import { PF_FIGURE_KEYS, type PfFigureKey, type PfFigures, type PfForwarder, type PfGoal, type PortForwardResults } from './pf-types.js';
import { median } from './stats.js';

const PF_TARGETS: readonly PfTargetName[] = ['kubectl', 'svcproxy', 'svcproxy-3pods'];

interface PfFigureDef {
  readonly key: PfFigureKey;
  readonly kind: PfRunKind;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly value: (run: PfRun) => number | undefined;
}

const GiB = 1024 ** 3;

/** Connections the fake forwarded in the run (warm-up included): what the CPU of the run was spent on. */
function forwarded(run: PfRun): number {
  return Object.values(run.forwardsByPod).reduce((a, b) => a + b, 0);
}

function per(cpuS: number, units: number | undefined, scale: number): number | undefined {
  return units === undefined || units <= 0 ? undefined : (cpuS * scale) / units;
}

const PF_FIGURES: readonly PfFigureDef[] = [
  { key: 'pf_bulk1_MBps', kind: 'pf-bulk1', label: '7. port-forward bulk, 1 conn', unit: 'MB/s', better: 'higher', value: (r) => r.output['mbps'] },
  { key: 'pf_bulk16_MBps', kind: 'pf-bulk16', label: '7. port-forward bulk, 16 conns', unit: 'MB/s', better: 'higher', value: (r) => r.output['mbps'] },
  { key: 'pf_connect_p50_us', kind: 'pf-connect', label: '7. new connection p50', unit: 'µs', better: 'lower', value: (r) => r.output['p50_us'] },
  { key: 'pf_connect_p99_us', kind: 'pf-connect', label: '7. new connection p99', unit: 'µs', better: 'lower', value: (r) => r.output['p99_us'] },
  { key: 'pf_connect_per_s', kind: 'pf-connect', label: '7. new connections, one client', unit: 'conn/s', better: 'higher', value: (r) => r.output['per_s'] },
  {
    key: 'pf_bulk1_cpu_s_per_GiB',
    kind: 'pf-bulk1',
    label: '7. forwarder CPU per GiB, 1 conn',
    unit: 'CPU-s',
    better: 'lower',
    value: (r) => per(r.usage.forwarderCpuS, r.output['bytes'], GiB),
  },
  {
    key: 'pf_bulk16_cpu_s_per_GiB',
    kind: 'pf-bulk16',
    label: '7. forwarder CPU per GiB, 16 conns',
    unit: 'CPU-s',
    better: 'lower',
    value: (r) => per(r.usage.forwarderCpuS, r.output['bytes'], GiB),
  },
  {
    key: 'pf_connect_cpu_us_per_conn',
    kind: 'pf-connect',
    label: '7. forwarder CPU per new conn',
    unit: 'CPU-µs',
    better: 'lower',
    value: (r) => per(r.usage.forwarderCpuS, forwarded(r), 1e6),
  },
  {
    key: 'pf_api_cpu_s_per_GiB',
    kind: 'pf-bulk16',
    label: '7. fake API server CPU per GiB, 16 conns',
    unit: 'CPU-s',
    better: 'lower',
    value: (r) => per(r.usage.apiServerCpuS, r.output['bytes'], GiB),
  },
  {
    key: 'pf_api_cpu_us_per_conn',
    kind: 'pf-connect',
    label: '7. fake API server CPU per new conn',
    unit: 'CPU-µs',
    better: 'lower',
    value: (r) => per(r.usage.apiServerCpuS, forwarded(r), 1e6),
  },
];

const GOALS: ReadonlyArray<{ goal: string; key: PfFigureKey; target: PfTargetName }> = [
  { goal: 'throughput, 1 connection: svcproxy >= kubectl', key: 'pf_bulk1_MBps', target: 'svcproxy' },
  { goal: 'throughput, 16 connections: svcproxy >= kubectl', key: 'pf_bulk16_MBps', target: 'svcproxy' },
  { goal: 'new-connection p99: svcproxy <= kubectl', key: 'pf_connect_p99_us', target: 'svcproxy' },
  { goal: 'throughput, 16 connections over 3 Pods (kubectl: 1 Pod): svcproxy >= kubectl', key: 'pf_bulk16_MBps', target: 'svcproxy-3pods' },
  { goal: 'new-connection p99 over 3 Pods (kubectl: 1 Pod): svcproxy <= kubectl', key: 'pf_connect_p99_us', target: 'svcproxy-3pods' },
];

function sum(records: ReadonlyArray<Readonly<Record<string, number>>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function figuresOf(runs: readonly PfRun[]): { figures: PfFigures; spread: Partial<Record<PfFigureKey, readonly [number, number]>> } {
  const figures: PfFigures = {};
  const spread: Partial<Record<PfFigureKey, readonly [number, number]>> = {};
  for (const f of PF_FIGURES) {
    const values = runs
      .filter((r) => r.kind === f.kind)
      .map(f.value)
      .filter((v): v is number => v !== undefined && Number.isFinite(v));
    if (values.length === 0) continue;
    figures[f.key] = median(values);
    spread[f.key] = [Math.min(...values), Math.max(...values)];
  }
  return { figures, spread };
}

export function pfResults(
  forwarders: readonly PfForwarder[],
  pods: number,
  runs: readonly PfRun[],
  notes: readonly string[],
  startUpgrades: Partial<Record<PfTargetName, Readonly<Record<string, number>>>> = {},
): PortForwardResults {
  const out: {
    figures: Partial<Record<PfTargetName, PfFigures>>;
    spread: PortForwardResults['spread'];
    ratios: Partial<Record<PfTargetName, PfFigures>>;
    bulk16ByPod: Partial<Record<PfTargetName, Record<string, number>>>;
    upgrades: Partial<Record<PfTargetName, Record<string, number>>>;
  } = { figures: {}, spread: {}, ratios: {}, bulk16ByPod: {}, upgrades: {} };
  for (const name of PF_TARGETS) {
    const mine = runs.filter((r) => r.target === name);
    if (mine.length === 0) continue;
    const f = figuresOf(mine);
    out.figures[name] = f.figures;
    out.spread = { ...out.spread, [name]: f.spread };
    out.bulk16ByPod[name] = sum(mine.filter((r) => r.kind === 'pf-bulk16').map((r) => r.forwardsByPod));
    out.upgrades[name] = sum([startUpgrades[name] ?? {}, ...mine.map((r) => r.upgrades)]);
  }
  const kubectl = out.figures.kubectl;
  for (const name of ['svcproxy', 'svcproxy-3pods'] as const) {
    const mine = out.figures[name];
    if (mine === undefined || kubectl === undefined) continue;
    const r: PfFigures = {};
    for (const k of PF_FIGURE_KEYS) {
      const a = mine[k];
      const b = kubectl[k];
      if (a !== undefined && b !== undefined && b !== 0) r[k] = a / b;
    }
    out.ratios[name] = r;
  }
  const goals = GOALS.map((g): PfGoal => {
    const value = out.figures[g.target]?.[g.key];
    const ref = kubectl?.[g.key];
    const ratio = out.ratios[g.target]?.[g.key];
    const higher = PF_FIGURES.find((f) => f.key === g.key)?.better === 'higher';
    return { ...g, value, kubectl: ref, ratio, met: ratio === undefined ? undefined : higher ? ratio >= 1 : ratio <= 1 };
  });
  return { forwarders, pods, ...out, goals, notes, runs };
}

/** The table: every figure for each forwarder, then svcproxy's ratios to kubectl. */
function pfTableRows(results: PortForwardResults): string[][] {
  const present = PF_TARGETS.filter((t) => results.figures[t] !== undefined);
  const ratioCols = (['svcproxy', 'svcproxy-3pods'] as const).filter((t) => results.ratios[t] !== undefined);
  const header = ['figure', 'unit', 'better', ...present, ...ratioCols.map((t) => `${t}/kubectl`)];
  const rows = PF_FIGURES.map((f) => [
    f.label,
    f.unit,
    f.better,
    ...present.map((t) => formatValue(results.figures[t]?.[f.key], f.unit)),
    ...ratioCols.map((t) => formatRatio(results.ratios[t]?.[f.key])),
  ]);
  return [header, ...rows];
}

/** One line per target of the issue: the two figures, the ratio, met or not. */
function pfGoalLines(results: PortForwardResults): string[] {
  return results.goals.map((g) => {
    const unit = PF_FIGURES.find((f) => f.key === g.key)?.unit ?? '';
    const verdict = g.met === undefined ? 'not measured (no kubectl figure)' : g.met ? 'MET' : 'NOT MET';
    return `${g.goal}: ${formatValue(g.value, unit)} vs ${formatValue(g.kubectl, unit)} ${unit} = ${formatRatio(g.ratio)}: ${verdict}`;
  });
}

/** How the connections spread over the Pods, and the protocols the upgrades used, one line per forwarder. */
function pfDetailLines(results: PortForwardResults): string[] {
  const show = (r: Readonly<Record<string, number>> | undefined): string =>
    r === undefined || Object.keys(r).length === 0
      ? 'none'
      : Object.entries(r)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
  return PF_TARGETS.filter((t) => results.figures[t] !== undefined).map(
    (t) => `${t}: 16-connection runs forwarded to ${show(results.bulk16ByPod[t])}; upgrades ${show(results.upgrades[t])}`,
  );
}

/** Step 7's section: who ran, the table, the targets, the spread over Pods; `table` renders rows (text or Markdown). */
export function pfSection(results: PortForwardResults, table: (rows: readonly (readonly string[])[]) => string, bullet = ''): string[] {
  const who = results.forwarders.map((f) => `${bullet}${f.name}: ${f.available ? `${f.version} (${f.setup})` : `skipped: ${f.note ?? ''}`}`);
  return [
    `Step 7, port-forward through the fake API server (test/helpers/fake-apiserver, ${results.pods} Pods, the bench's backends on their IPs):`,
    '',
    ...who,
    '',
    table(pfTableRows(results)),
    '',
    'Targets (issue 21):',
    '',
    ...pfGoalLines(results).map((l) => `${bullet}${l}`),
    '',
    ...pfDetailLines(results).map((l) => `${bullet}${l}`),
    ...results.notes.map((n) => `${bullet}Note: ${n}`),
  ];
}
