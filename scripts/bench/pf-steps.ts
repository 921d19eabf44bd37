/**
 * Step 7: port-forward, svcproxy --cluster beside `kubectl port-forward`, against the fake API server (pf-cluster.ts)
 * and the same Pod. Three kinds of run, each one load generator process with a deadline, interleaved across the
 * forwarders (run 1 of each, then run 2, ...) as steps 1-4 are:
 *
 * - `pf-bulk1`: one connection uploads pfBulk1Bytes to the discard backend and half-closes; done when the backend's
 *   byte count comes back (so the FIN crossed the port-forward stream and the other direction stayed open);
 * - `pf-bulk16`: pfBulkConns connections at once, pfBulkBytesPerConn each;
 * - `pf-connect`: one client, new connections one after the other: connect, 64 bytes, their echo, close; the time
 *   of each (a new port-forward stream pair, its first round trip) gives p50 and p99.
 *
 * Around each run: the forwarder's CPU (its process group, /proc), the Pods' backends' CPU, the fake API server's
 * (the bench process, where it runs: process.cpuUsage, so the bench's own few ms are in it), and the fake's counters:
 * stream pairs forwarded per Pod, upgrades by protocol. A run whose connections did not all reach the fake's
 * port-forward fails the step rather than posting a figure.
 */
import type { Sizes } from './options.js';
import type { PfCluster } from './pf-cluster.js';
import type { PfTarget, PfTargetName } from './pf-targets.js';
import { groupUsage, type Processes } from './processes.js';
import { numbers } from './steps.js';
import type { Tools } from './tools.js';

export type PfRunKind = 'pf-bulk1' | 'pf-bulk16' | 'pf-connect';

interface PfUsage {
  readonly wallS: number;
  readonly generatorCpuS: number;
  readonly forwarderCpuS: number;
  readonly podsCpuS: number;
  /** The bench process, which hosts the fake API server. */
  readonly apiServerCpuS: number;
}

export interface PfRun {
  readonly kind: PfRunKind;
  readonly target: PfTargetName;
  readonly rep: number;
  /** The generator's JSON line (numbers only). */
  readonly output: Record<string, number>;
  readonly usage: PfUsage;
  /** Stream pairs the fake forwarded during the run, per Pod name. */
  readonly forwardsByPod: Readonly<Record<string, number>>;
  /** Upgrades the fake answered 101 during the run, by protocol. */
  readonly upgrades: Readonly<Record<string, number>>;
}

export interface PfContext {
  readonly tools: Tools;
  readonly processes: Processes;
  readonly cluster: PfCluster;
  readonly sizes: Sizes;
  readonly loadCpus: string | undefined;
}

/** Which kinds each forwarder runs: one connection always reaches one Pod, so the 3-Pod target skips pf-bulk1. */
const PF_KINDS: Readonly<Record<PfTargetName, readonly PfRunKind[]>> = {
  kubectl: ['pf-bulk1', 'pf-bulk16', 'pf-connect'],
  svcproxy: ['pf-bulk1', 'pf-bulk16', 'pf-connect'],
  'svcproxy-3pods': ['pf-bulk16', 'pf-connect'],
};

function generatorArgs(kind: PfRunKind, target: PfTarget, s: Sizes): { mode: string; args: number[]; timeoutMs: number; connections: number } {
  switch (kind) {
    case 'pf-bulk1':
      return { mode: 'bulk', args: [target.ports.discard, 1, s.pfBulk1Bytes], timeoutMs: 120_000, connections: 1 };
    case 'pf-bulk16':
      return { mode: 'bulk', args: [target.ports.discard, s.pfBulkConns, s.pfBulkBytesPerConn], timeoutMs: 120_000, connections: s.pfBulkConns };
    case 'pf-connect':
      return {
        mode: 'rate',
        args: [target.ports.echo, 1, 1, s.pfConnects, s.pfConnectWarmup, s.pfConnectMaxMs],
        timeoutMs: s.pfConnectMaxMs + 15_000,
        connections: 1, // at least: every connection of the run is checked below against what the fake forwarded
      };
  }
}

function counters(cluster: PfCluster): { forwards: Map<string, number>; upgrades: Record<string, number> } {
  const pf = cluster.server.portForward;
  return { forwards: new Map(pf.forwardsByPod), upgrades: { ...pf.upgrades } };
}

function delta(before: ReturnType<typeof counters>, after: ReturnType<typeof counters>): Pick<PfRun, 'forwardsByPod' | 'upgrades'> {
  const forwardsByPod: Record<string, number> = {};
  for (const [pod, n] of after.forwards) {
    const d = n - (before.forwards.get(pod) ?? 0);
    if (d > 0) forwardsByPod[pod.slice(pod.indexOf('/') + 1)] = d;
  }
  const upgrades: Record<string, number> = {};
  for (const [protocol, n] of Object.entries(after.upgrades)) {
    const d = n - (before.upgrades[protocol] ?? 0);
    if (d > 0) upgrades[protocol] = d;
  }
  return { forwardsByPod, upgrades };
}

/** One run of `kind` against `target`; rejects on the generator's error, a bad exit, the deadline, or a connection the fake never forwarded. */
async function runPf(ctx: PfContext, kind: PfRunKind, target: PfTarget, rep: number): Promise<PfRun> {
  const g = generatorArgs(kind, target, ctx.sizes);
  const { command, args } = ctx.tools.command(g.mode, [target.host, ...g.args, g.timeoutMs]);
  const before = { fwd: groupUsage(target.process.pid).cpuS, pods: ctx.cluster.podsCpuS(), api: process.cpuUsage(), counts: counters(ctx.cluster) };
  const t0 = performance.now();
  const gen = ctx.processes.spawn(`loadgen ${g.mode}`, command, args, { fdLimit: 4096, cpus: ctx.loadCpus });
  const kill = setTimeout(() => void ctx.processes.stop(gen, 500), g.timeoutMs + 5000);
  const exit = await gen.exited;
  clearTimeout(kill);
  const wallS = (performance.now() - t0) / 1000;
  const api = process.cpuUsage(before.api);
  const usage: PfUsage = {
    wallS,
    generatorCpuS: 0,
    forwarderCpuS: groupUsage(target.process.pid).cpuS - before.fwd,
    podsCpuS: ctx.cluster.podsCpuS() - before.pods,
    apiServerCpuS: (api.user + api.system) / 1e6,
  };
  const last = gen.lines.at(-1);
  if (last === undefined) throw new Error(`loadgen ${g.mode} printed nothing (exit ${exit.signal ?? String(exit.code)}): ${gen.stderr().trim()}`);
  const output = numbers(last);
  if (exit.code !== 0) throw new Error(`loadgen ${g.mode} exited ${exit.signal ?? String(exit.code)}: ${gen.stderr().trim()}`);
  const seen = delta(before.counts, counters(ctx.cluster));
  const forwarded = Object.values(seen.forwardsByPod).reduce((a, b) => a + b, 0);
  const made = kind === 'pf-connect' ? (output['connections'] ?? 0) : g.connections;
  if (forwarded < made) throw new Error(`${target.name}: ${made} connection(s) made, but the fake API server forwarded ${forwarded}: not through port-forward`);
  return { kind, target: target.name, rep, output, usage: { ...usage, generatorCpuS: (output['cpu_user_s'] ?? 0) + (output['cpu_sys_s'] ?? 0) }, ...seen };
}

/** Every kind, `reps` times, interleaved across the targets; `progress` gets a line per kind. */
export async function pfRuns(ctx: PfContext, targets: readonly PfTarget[], progress: (line: string) => void): Promise<PfRun[]> {
  const runs: PfRun[] = [];
  for (const kind of ['pf-bulk1', 'pf-bulk16', 'pf-connect'] as const) {
    const mine = targets.filter((t) => PF_KINDS[t.name].includes(kind));
    if (mine.length === 0) continue;
    for (let rep = 1; rep <= ctx.sizes.reps; rep++) {
      for (const target of mine) {
        runs.push(
          await runPf(ctx, kind, target, rep).catch((err: unknown) => {
            throw new Error(`${target.name}, ${kind}, run ${rep}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
          }),
        );
      }
    }
    const last = runs.filter((r) => r.kind === kind && r.rep === ctx.sizes.reps);
    progress(
      `  ${kind}: ${last.map((r) => `${r.target} ${kind === 'pf-connect' ? `p99 ${Math.round(r.output['p99_us'] ?? 0)} µs` : `${Math.round(r.output['mbps'] ?? 0)} MB/s`}`).join(' · ')}`,
    );
  }
  return runs;
}
