/**
 * Steps 1-5 (step 6, reload, is in reload.ts). Each run of the load generator is its own process with a
 * deadline; around it the bench reads the CPU time of the proxy's process
 * group and of the backends from /proc, and the generator reports its own.
 */
import type { Sizes, StepName, TargetName } from './options.js';
import { groupUsage, type Processes, type Tracked } from './processes.js';
import type { Driver, StartContext, Target } from './targets.js';
import type { Tools } from './tools.js';

export type StepKey = StepName;

export const STEP_TITLES: Record<StepKey, string> = {
  bulk1: 'bulk upload, 1 connection',
  bulk16: 'bulk upload, 16 connections',
  rate: 'connection rate, 64 clients',
  rtt: 'round trip, 1-byte ping-pong',
  memory: 'memory, idle proxied connections',
  reload: 'config reload, a watched EndpointSlice change',
  portforward: 'port-forward: svcproxy --cluster beside kubectl port-forward, the fake API server',
};

/** CPU seconds over one run's wall time; proxyCpuS is undefined for `direct`. */
export interface Usage {
  readonly wallS: number;
  readonly generatorCpuS: number;
  readonly proxyCpuS: number | undefined;
  readonly backendCpuS: number;
}

export interface RunRecord {
  readonly step: StepKey;
  readonly target: TargetName;
  readonly rep: number;
  /** The generator's JSON line (numbers only). */
  readonly output: Record<string, number>;
  readonly usage: Usage;
}

export interface StepContext {
  readonly host: string;
  readonly tools: Tools;
  readonly processes: Processes;
  readonly backend: Tracked;
  readonly sizes: Sizes;
  /** With --pin: the CPUs the generator and backends run on. */
  readonly loadCpus: string | undefined;
}

export function numbers(line: string): Record<string, number> {
  const parsed: unknown = JSON.parse(line);
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`not a JSON object: ${line}`);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (k === 'error') throw new Error(`load generator: ${String(v)}`);
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}

/** Runs one generator process to its end; rejects on its error line, a bad exit or the deadline. */
export async function runGenerator(
  ctx: StepContext,
  target: Target,
  mode: string,
  args: (string | number)[],
  timeoutMs: number,
): Promise<{ output: Record<string, number>; usage: Usage }> {
  const { command, args: argv } = ctx.tools.command(mode, [ctx.host, ...args, timeoutMs]);
  const proxyBefore = target.process === undefined ? undefined : groupUsage(target.process.pid).cpuS;
  const backendBefore = groupUsage(ctx.backend.pid).cpuS;
  const t0 = performance.now();
  const gen = ctx.processes.spawn(`loadgen ${mode}`, command, argv, { fdLimit: 4096, cpus: ctx.loadCpus });
  const kill = setTimeout(() => void ctx.processes.stop(gen, 500), timeoutMs + 5000);
  const exit = await gen.exited;
  clearTimeout(kill);
  const wallS = (performance.now() - t0) / 1000;
  const last = gen.lines.at(-1);
  if (last === undefined) throw new Error(`loadgen ${mode} printed nothing (exit ${exit.signal ?? String(exit.code)}): ${gen.stderr().trim()}`);
  const output = numbers(last);
  if (exit.code !== 0) throw new Error(`loadgen ${mode} exited ${exit.signal ?? String(exit.code)}: ${gen.stderr().trim()}`);
  const proxyCpuS = target.process === undefined || proxyBefore === undefined ? undefined : groupUsage(target.process.pid).cpuS - proxyBefore;
  const generatorCpuS = (output['cpu_user_s'] ?? 0) + (output['cpu_sys_s'] ?? 0);
  return { output, usage: { wallS, generatorCpuS, proxyCpuS, backendCpuS: groupUsage(ctx.backend.pid).cpuS - backendBefore } };
}

/** One run of steps 1-4 against a running target. */
export function runStep(ctx: StepContext, step: Exclude<StepKey, 'memory' | 'reload' | 'portforward'>, target: Target): ReturnType<typeof runGenerator> {
  const s = ctx.sizes;
  const p = target.ports;
  switch (step) {
    case 'bulk1':
      return runGenerator(ctx, target, 'bulk', [p.discard, 1, s.bulk1Bytes], 60_000);
    case 'bulk16':
      return runGenerator(ctx, target, 'bulk', [p.discard, s.bulkConns, s.bulkBytesPerConn], 60_000);
    case 'rate':
      return runGenerator(ctx, target, 'rate', [p.echo, 1, s.rateClients, s.rateConnections, s.rateWarmup, s.rateMaxMs], s.rateMaxMs + 15_000);
    case 'rtt':
      return runGenerator(ctx, target, 'rtt', [p.echo, s.rttCount, s.rttWarmup, s.rttMaxMs], s.rttMaxMs + 15_000);
  }
}

export interface MemoryResult {
  readonly held: number;
  /** Medians of the samples with no connection held and with `held` held. */
  readonly rssBeforeBytes: number;
  readonly rssHeldBytes: number;
  /** (held - before) / held; see memoryStep for why it cannot go negative by accident. */
  readonly perConnBytes: number;
  /** Lowest and highest sample of each state: the spread behind the medians. */
  readonly rssBeforeSpread: readonly [number, number];
  readonly rssHeldSpread: readonly [number, number];
  /** A full garbage collection was forced (through the inspector) before each state was sampled: Node targets. */
  readonly gcForced: boolean;
  readonly openSeconds: number;
  readonly fdLimit: number | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** RSS samples taken after each state settled. */
const SAMPLES = 5;

/** Samples the group's RSS every 100 ms until two samples in a row move less than 0.5% (2 s at most). */
async function settledRss(pgid: number): Promise<number> {
  let last = groupUsage(pgid).rssBytes;
  let calm = 0;
  for (let i = 0; i < 20 && calm < 2; i++) {
    await sleep(100);
    const now = groupUsage(pgid).rssBytes;
    calm = Math.abs(now - last) <= last * 0.005 ? calm + 1 : 0;
    last = now;
  }
  return last;
}

/** Once settled, SAMPLES readings 100 ms apart: their median and their spread. */
async function steadyRss(pgid: number): Promise<{ median: number; spread: readonly [number, number] }> {
  await settledRss(pgid);
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    if (i > 0) await sleep(100);
    samples.push(groupUsage(pgid).rssBytes);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)] ?? 0, spread: [samples[0] ?? 0, samples.at(-1) ?? 0] };
}

/** The inspector URL a process started with --inspect=HOST:0 printed on stderr. */
function inspectorUrl(stderr: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
}

/** Asks V8 for a full garbage collection through the inspector protocol (HeapProfiler.collectGarbage). */
async function forceGc(url: string): Promise<void> {
  const ws = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve());
      ws.addEventListener('error', () => reject(new Error(`inspector at ${url}: cannot connect`)));
    });
    const answered = new Promise<void>((resolve) => {
      ws.addEventListener('message', (event: MessageEvent) => {
        if ((JSON.parse(String(event.data)) as { id?: number }).id === 1) resolve();
      });
    });
    ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    const timeout = sleep(10_000).then(() => {
      throw new Error(`inspector at ${url}: no answer to collectGarbage`);
    });
    await Promise.race([answered, timeout]);
  } finally {
    ws.close();
  }
}

/**
 * Step 5 on a fresh instance: a short warm-up (connections opened and closed),
 * RSS with no connection, then `held` connections opened through the proxy
 * (each proven with a 1-byte echo) and left idle, RSS again.
 *
 * Why the per-connection figure cannot go negative by accident: a Node proxy's
 * heap holds whatever garbage the warm-up left until V8 gets round to it, and
 * when that collection fell between the two samples the difference went below
 * zero on a busy machine. So for a Node target (started with the inspector on
 * loopback) a full GC is forced before each state is sampled, and each state is
 * sampled SAMPLES times once settled; the medians are compared and the spread
 * reported. C proxies have no collector: the samples alone.
 */
export async function memoryStep(ctx: StepContext, driver: Driver, start: StartContext, held: number): Promise<MemoryResult> {
  const gcForced = driver.node === true;
  const target = await driver.start(gcForced ? { ...start, nodeArgs: [...(start.nodeArgs ?? []), `--inspect=${ctx.host}:0`] } : start);
  const proc = target.process;
  if (proc === undefined) throw new Error(`${driver.name}: no proxy process to measure`);
  const collect = async (): Promise<void> => {
    if (!gcForced) return;
    const url = inspectorUrl(proc.stderr());
    if (url === undefined) throw new Error(`${driver.name}: started with --inspect but printed no inspector URL`);
    await forceGc(url);
  };
  try {
    await runGenerator(ctx, target, 'rate', [target.ports.echo, 1, 16, 200, 0, 2000], 15_000);
    await sleep(300);
    await collect();
    const before = await steadyRss(proc.pid);
    const { command, args } = ctx.tools.command('hold', [ctx.host, target.ports.echo, held, 60_000]);
    const gen = ctx.processes.spawn('loadgen hold', command, args, { fdLimit: held + 1024, stdin: 'pipe', cpus: ctx.loadCpus });
    try {
      const line = await gen.waitForLine((l) => l.includes('"held"') || l.includes('"error"'), 65_000);
      const opened = numbers(line);
      await collect();
      const heldRss = await steadyRss(proc.pid);
      return {
        held,
        rssBeforeBytes: before.median,
        rssHeldBytes: heldRss.median,
        perConnBytes: (heldRss.median - before.median) / held,
        rssBeforeSpread: before.spread,
        rssHeldSpread: heldRss.spread,
        gcForced,
        openSeconds: opened['seconds'] ?? 0,
        fdLimit: target.fdLimit,
      };
    } finally {
      gen.child.stdin?.end(); // the generator closes its connections and exits
      const timer = setTimeout(() => void ctx.processes.stop(gen, 500), 10_000);
      await gen.exited;
      clearTimeout(timer);
    }
  } finally {
    await ctx.processes.stop(proc);
  }
}
