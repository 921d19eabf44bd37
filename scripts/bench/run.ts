/**
 * The run itself: tools, backends, targets, then the six steps. Steps 1-4
 * interleave the targets (run 1 of every target, then run 2, ...), so a burst
 * of other work on the machine lands on all of them rather than on one.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BenchOptions, TargetName } from './options.js';
import { fdSoftLimit, type Processes, type Tracked } from './processes.js';
import { cpuOf, figuresOf, FIGURES, formatValue, ratiosOf, type BenchResults, type TargetReport } from './report.js';
import { memoryStep, runStep, STEP_TITLES, type MemoryResult, type RunRecord, type StepContext, type StepKey } from './steps.js';
import { direct, haproxyDriver, nginxDriver, nodePipeDriver, svcproxyDriver, which, type Driver, type StartContext, type Target } from './targets.js';
import { prepareTools } from './tools.js';
import { reloadStep } from './reload.js';
import { portForwardStep } from './pf-run.js';
import type { PortPair } from './configs.js';

type Partial1 = Omit<BenchResults, 'durationS' | 'machine'>;
type Assembled = Omit<Partial1, 'fdLimits'>;

/** The hard RLIMIT_NOFILE the bench may raise its children's soft limit to. */
function hardFdLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const hard = line?.split(/\s{2,}/)[2];
  return hard === undefined || hard === 'unlimited' ? 1 << 20 : Number(hard);
}

async function startBackends(
  options: BenchOptions,
  processes: Processes,
  ctx: Omit<StepContext, 'backend'>,
  fdLimit: number,
): Promise<{ backend: Tracked; ports: PortPair }> {
  const { command, args } = ctx.tools.command('serve', [options.host]);
  const backend = processes.spawn('backends', command, args, { fdLimit, cpus: ctx.loadCpus });
  const line = await backend.waitForLine((l) => l.includes('"discard"') || l.includes('"error"'), 10_000);
  const parsed = JSON.parse(line) as { discard?: unknown; echo?: unknown; error?: unknown };
  if (typeof parsed.discard !== 'number' || typeof parsed.echo !== 'number')
    throw new Error(`backends: ${typeof parsed.error === 'string' ? parsed.error : line}`);
  return { backend, ports: { discard: parsed.discard, echo: parsed.echo } };
}

function stepSummary(step: StepKey, figures: Partial<Record<TargetName, ReturnType<typeof figuresOf>['figures']>>): string {
  const defs = FIGURES.filter((f) => f.step === step);
  return Object.entries(figures)
    .map(([t, f]) => `${t} ${defs.map((d) => `${formatValue(f[d.key], d.unit)} ${d.unit}`).join(', ')}`)
    .join(' · ');
}

export async function runBench(options: BenchOptions, processes: Processes, tmp: string, progress: (line: string) => void): Promise<Partial1> {
  const notes: string[] = [];
  const sizes = { ...options.sizes };
  const hard = hardFdLimit();
  if (2 * sizes.holdConns + 1024 > hard) {
    const fits = Math.max(100, Math.floor((hard - 1024) / 2));
    notes.push(`the hard open-file limit is ${hard}: the memory step holds ${fits} connections instead of ${sizes.holdConns}`);
    sizes.holdConns = fits;
  }
  const tools = prepareTools(options.impl, tmp);
  progress(`load generator and backends: ${tools.description}; open-file limit for children: ${Math.min(hard, 2 * sizes.holdConns + 1024)} (hard ${hard})`);
  if (tools.impl === 'node') notes.push(`no C load generator: ${tools.description}`);
  const pin = placement(options.pin, notes);
  if (pin.proxy !== undefined) progress(`pinned: proxies on CPU ${pin.proxy}, generator and backends on CPU ${pin.load}`);
  const base = { host: options.host, tools, processes, sizes, loadCpus: pin.load };
  const { backend, ports: backends } = await startBackends(options, processes, base, sizes.holdConns + 1024);
  const ctx: StepContext = { ...base, backend };

  const profiles = resolve(options.outDir, 'profiles');
  const startCtx = async (name: string, profile = false): Promise<StartContext> => {
    const dir = join(tmp, name);
    await mkdir(dir, { recursive: true });
    const nodeArgs = profile ? ['--cpu-prof', `--cpu-prof-dir=${profiles}`] : [];
    return { host: options.host, backends, processes, dir, maxConnections: sizes.holdConns + 64, nodeArgs, cpus: pin.proxy };
  };
  // Step 7 alone (--steps portforward) needs none of the loopback targets.
  const loopback = options.steps.some((s) => s !== 'portforward');
  const { reports, running } = loopback
    ? await startTargets(options, (name) => startCtx(name, options.cpuProf && name.startsWith('svcproxy')), progress)
    : { reports: [], running: [] };

  const runs: RunRecord[] = [];
  const steps = (['bulk1', 'bulk16', 'rate', 'rtt'] as const).filter((s) => options.steps.includes(s));
  for (const step of steps) {
    progress(`step ${STEP_NUMBER[step]}/${STEP_COUNT}: ${STEP_TITLES[step]}, ${sizes.reps} run(s) per target`);
    for (let rep = 1; rep <= sizes.reps; rep++) {
      for (const { target } of running) {
        const { output, usage } = await runStep(ctx, step, target).catch((err: unknown) => {
          throw new Error(`${target.name}, ${STEP_TITLES[step]}, run ${rep}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        });
        runs.push({ step, target: target.name, rep, output, usage });
        if ((output['errors'] ?? 0) > 0) notes.push(`${target.name}, ${step} run ${rep}: ${output['errors']} connection(s) failed and were retried`);
      }
    }
    const sofar = Object.fromEntries(
      running.map(({ target }) => [
        target.name,
        figuresOf(
          runs.filter((r) => r.target === target.name),
          undefined,
        ).figures,
      ]),
    );
    progress(`  ${stepSummary(step, sofar)}`);
  }
  for (const { target } of running) if (target.process !== undefined) await processes.stop(target.process);
  if (options.cpuProf) progress(`svcproxy CPU profile written under ${profiles}`);

  const memory = options.steps.includes('memory') ? await memorySteps(ctx, running, startCtx, { progress, notes }) : {};
  if (options.steps.includes('reload')) runs.push(...(await reloadSteps(sizes, running, startCtx, { progress, notes })));
  const fdLimits = { hard, backends: fdSoftLimit(backend.pid) };
  await processes.stop(backend);
  const assembled = { ...assemble(options, { sizes, tools, targets: reports, runs, memory, notes }), fdLimits };
  if (!options.steps.includes('portforward')) return assembled;
  progress(`step ${STEP_NUMBER.portforward}/${STEP_COUNT}: ${STEP_TITLES.portforward}, ${sizes.reps} run(s) per forwarder`);
  const portforward = await portForwardStep({ options, sizes, tools, processes, tmp, loadCpus: pin.load, proxyCpus: pin.proxy, progress });
  return { ...assembled, portforward };
}

/** --pin: each proxy on the last CPU, the generator and backends on the others. */
function placement(pin: boolean, notes: string[]): { proxy: string | undefined; load: string | undefined } {
  if (!pin) return { proxy: undefined, load: undefined };
  const cpus = availableParallelism();
  if (cpus < 2 || which('taskset') === undefined) {
    notes.push(`--pin ignored: ${cpus < 2 ? 'one CPU' : 'taskset not found'}`);
    return { proxy: undefined, load: undefined };
  }
  notes.push(`pinned (--pin): proxies on CPU ${cpus - 1}, generator and backends on CPU ${cpus === 2 ? '0' : `0-${cpus - 2}`}`);
  return { proxy: String(cpus - 1), load: cpus === 2 ? '0' : `0-${cpus - 2}` };
}

/** Detects every wanted target and starts those found; a missing peer is a note, a missing svcproxy an error. */
async function startTargets(
  options: BenchOptions,
  startCtx: (name: string) => Promise<StartContext>,
  progress: (line: string) => void,
): Promise<{ reports: TargetReport[]; running: Array<{ driver: Driver; target: Target }> }> {
  const all: Driver[] = [
    direct,
    svcproxyDriver(options.svcproxy, 'native', options.workers),
    svcproxyDriver(options.svcproxy, 'js', options.workers),
    nodePipeDriver(),
    haproxyDriver(),
    nginxDriver(),
  ];
  const reports: TargetReport[] = [];
  const running: Array<{ driver: Driver; target: Target }> = [];
  for (const driver of all.filter((d) => options.targets.includes(d.name))) {
    const found = driver.detect();
    if (!found.ok) {
      if (found.required === true) throw new Error(`${driver.name}: ${found.note}`);
      progress(`${driver.name}: skipped: ${found.note}`);
      reports.push({ name: driver.name, available: false, version: '', setup: '', note: found.note });
      continue;
    }
    let target: Target;
    try {
      target = await driver.start(await startCtx(driver.name));
    } catch (err: unknown) {
      if (driver.name === 'svcproxy' || driver.name === 'svcproxy-js') throw err;
      const note = `installed but did not start: ${err instanceof Error ? err.message : String(err)}`;
      progress(`${driver.name}: skipped: ${note}`);
      reports.push({ name: driver.name, available: false, version: found.version, setup: found.setup, note });
      continue;
    }
    running.push({ driver, target });
    reports.push({
      name: driver.name,
      available: true,
      version: found.version,
      setup: found.setup,
      ...(target.fdLimit === undefined ? {} : { fdLimit: target.fdLimit }),
    });
    const limit = target.fdLimit === undefined ? '' : `, open-file limit ${target.fdLimit}`;
    progress(`${driver.name}: ${found.version}, listening on ${options.host}:${target.ports.discard} (discard) and :${target.ports.echo} (echo)${limit}`);
  }
  return { reports, running };
}

const STEP_NUMBER: Record<StepKey, number> = { bulk1: 1, bulk16: 2, rate: 3, rtt: 4, memory: 5, reload: 6, portforward: 7 };
const STEP_COUNT = Object.keys(STEP_NUMBER).length;

/** Where a step reports: progress lines as it goes, notes for the results. */
interface Journal {
  readonly progress: (line: string) => void;
  readonly notes: string[];
}

async function memorySteps(
  ctx: StepContext,
  running: ReadonlyArray<{ driver: Driver }>,
  startCtx: (name: string) => Promise<StartContext>,
  { progress, notes }: Journal,
): Promise<Partial<Record<TargetName, MemoryResult>>> {
  const memory: Partial<Record<TargetName, MemoryResult>> = {};
  const sizes = ctx.sizes;
  progress(`step 5/${STEP_COUNT}: ${STEP_TITLES.memory}: RSS with ${sizes.holdConns} connections held, fresh instance per proxy`);
  for (const { driver } of running) {
    if (driver.name === 'direct') continue;
    const m = await memoryStep(ctx, driver, await startCtx(`${driver.name}-memory`), sizes.holdConns).catch((err: unknown) => {
      throw new Error(`${driver.name}, ${STEP_TITLES.memory}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    memory[driver.name] = m;
    if (m.perConnBytes < 0)
      notes.push(
        `${driver.name}: RSS fell while ${m.held} connections were held (${(m.perConnBytes / 1024).toFixed(1)} KiB per connection): the process returned memory between the samples; rerun on a quieter machine`,
      );
    progress(
      `  ${driver.name}: ${formatValue(m.rssBeforeBytes / 2 ** 20, 'MiB')} MiB idle, ${formatValue(m.rssHeldBytes / 2 ** 20, 'MiB')} MiB held, ${formatValue(m.perConnBytes / 1024, 'KiB')} KiB per connection`,
    );
  }
  return memory;
}

/** Step 6 on a fresh instance of each svcproxy target; the peers have no config reload and are skipped with a note. */
async function reloadSteps(
  sizes: BenchOptions['sizes'],
  running: ReadonlyArray<{ driver: Driver }>,
  startCtx: (name: string) => Promise<StartContext>,
  { progress, notes }: Journal,
): Promise<RunRecord[]> {
  const count = sizes.reps * sizes.reloadsPerRep;
  progress(`step 6/${STEP_COUNT}: ${STEP_TITLES.reload}: ${count} reload(s) per svcproxy target, fresh instance each`);
  const peers = running.map(({ driver }) => driver.name).filter((n) => !n.startsWith('svcproxy'));
  if (peers.length > 0) notes.push(`reload step: ${peers.join(', ')} skipped (no config reload to measure; svcproxy targets only)`);
  const runs: RunRecord[] = [];
  for (const { driver } of running.filter((r) => r.driver.name.startsWith('svcproxy'))) {
    const done = await reloadStep(driver, await startCtx(`${driver.name}-reload`), { count, maxMs: sizes.reloadMaxMs }).catch((err: unknown) => {
      throw new Error(`${driver.name}, ${STEP_TITLES.reload}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    runs.push(...done.runs);
    notes.push(...done.notes);
    const f = figuresOf(done.runs, undefined).figures;
    progress(
      `  ${driver.name}: served p50 ${formatValue(f.reload_p50_ms, 'ms')} ms, p90 ${formatValue(f.reload_p90_ms, 'ms')} ms, ${formatValue(f.reload_cpu_ms, 'CPU-ms')} CPU-ms per reload`,
    );
  }
  return runs;
}

/** What a whole run collected, for the results file. */
interface Collected {
  readonly sizes: BenchOptions['sizes'];
  readonly tools: { impl: 'c' | 'node'; description: string };
  readonly targets: TargetReport[];
  readonly runs: RunRecord[];
  readonly memory: Partial<Record<TargetName, MemoryResult>>;
  readonly notes: string[];
}

function assemble(options: BenchOptions, { sizes, tools, targets, runs, memory, notes }: Collected): Assembled {
  const figures: BenchResults['figures'] = {};
  const spread: BenchResults['spread'] = {};
  const cpu: BenchResults['cpu'] = {};
  for (const t of targets.filter((r) => r.available)) {
    const mine = runs.filter((r) => r.target === t.name);
    const f = figuresOf(mine, memory[t.name]);
    figures[t.name] = f.figures;
    spread[t.name] = f.spread;
    cpu[t.name] = Object.fromEntries((['bulk1', 'bulk16', 'rate', 'rtt'] as const).map((s) => [s, cpuOf(mine, s)]));
    for (const s of ['bulk1', 'rate'] as const) {
      const share = cpu[t.name]?.[s];
      if (share !== undefined && share.generatorPct >= 85) {
        notes.push(`${t.name}, ${s}: the load generator used ${Math.round(share.generatorPct)}% of a core; that figure may be generator-bound`);
      }
    }
  }
  return {
    schema: 1,
    date: new Date().toISOString(),
    smoke: options.smoke,
    generator: { impl: tools.impl, description: tools.description },
    sizes,
    notes,
    targets,
    figures,
    spread,
    ratios: ratiosOf(figures),
    cpu,
    memory,
    runs,
  };
}
