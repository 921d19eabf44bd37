/**
 * Step 7 from start to end: the fake API server and its Pods (pf-cluster.ts), kubectl port-forward when installed
 * (skipped with a note otherwise, or when it does not start), svcproxy --cluster (skipped with a note when this
 * build does not serve the Services through port-forward: a baseline from before issue 21), the runs, then
 * everything stopped.
 */
import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BenchOptions } from './options.js';
import { startPfCluster } from './pf-cluster.js';
import { pfResults } from './pf-report.js';
import type { PfForwarder, PortForwardResults } from './pf-types.js';
import { pfRuns } from './pf-steps.js';
import { detectKubectl, startKubectl, startSvcproxyCluster, type PfStart, type PfTarget } from './pf-targets.js';
import type { Processes } from './processes.js';
import type { Tools } from './tools.js';

export interface PfStepInput {
  readonly options: BenchOptions;
  readonly sizes: BenchOptions['sizes'];
  readonly tools: Tools;
  readonly processes: Processes;
  /** The run's temp directory. */
  readonly tmp: string;
  readonly loadCpus: string | undefined;
  readonly proxyCpus: string | undefined;
  readonly progress: (line: string) => void;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

async function kubectlSide(ctx: PfStart, given: string | undefined, notes: string[]): Promise<{ report: PfForwarder; target?: PfTarget }> {
  const found = detectKubectl(given);
  if (!found.ok) {
    notes.push(found.note);
    return { report: { name: 'kubectl', available: false, version: '', setup: '', note: found.note } };
  }
  const pod = ctx.cluster.pods[0];
  const setup = `kubectl port-forward pod/${pod?.name ?? '?'} --address 127.0.0.1 0:${pod?.ports.discard ?? '?'} 0:${pod?.ports.echo ?? '?'} (its defaults)`;
  try {
    const target = await startKubectl(ctx, found.path);
    return { report: { name: 'kubectl', available: true, version: found.version, setup }, target };
  } catch (err) {
    const note = `kubectl ${found.version} did not start forwarding: ${message(err)}`;
    notes.push(note);
    return { report: { name: 'kubectl', available: false, version: found.version, setup, note } };
  }
}

async function svcproxySide(ctx: PfStart, options: BenchOptions, notes: string[]): Promise<{ reports: PfForwarder[]; targets: PfTarget[] }> {
  const entry = options.svcproxy;
  const version = spawnSync(process.execPath, [resolve(entry), '--version'], { encoding: 'utf8', timeout: 10_000 }).stdout?.trim() ?? '';
  const setup = `node --enable-source-maps ${entry} --cluster --kubeconfig K --namespace bench --log-level warn (default --pod-network)`;
  const both = (r: Omit<PfForwarder, 'name'>): PfForwarder[] => [
    { name: 'svcproxy', ...r },
    { name: 'svcproxy-3pods', ...r, setup: `${r.setup}, Service pf-three (3 Pods)` },
  ];
  try {
    // --cpu-prof: svcproxy's profile over step 7 too, next to steps 1-4's.
    const nodeArgs = options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${resolve(options.outDir, 'profiles')}`] : [];
    const targets = await startSvcproxyCluster(ctx, entry, nodeArgs);
    return { reports: both({ available: true, version: `${version} on Node ${process.version}`, setup }), targets };
  } catch (err) {
    const note = `svcproxy --cluster did not serve the Services through port-forward: ${message(err)}`;
    notes.push(note);
    return { reports: both({ available: false, version, setup, note }), targets: [] };
  }
}

export async function portForwardStep(input: PfStepInput): Promise<PortForwardResults> {
  const { processes, sizes, progress } = input;
  const dir = join(input.tmp, 'portforward');
  await mkdir(dir, { recursive: true });
  const cluster = await startPfCluster({ processes, tools: input.tools, dir, fdLimit: 4096, loadCpus: input.loadCpus });
  const notes: string[] = [];
  const started: PfTarget[] = [];
  try {
    const ctx: PfStart = { processes, cluster, dir, cpus: input.proxyCpus, fdLimit: 4096 };
    progress(`  fake API server ${cluster.server.url}; Pods ${cluster.pods.map((p) => `${p.name} ${p.ip}`).join(', ')}`);
    const before: Readonly<Record<string, number>> = { ...cluster.server.portForward.upgrades };
    const kubectl = await kubectlSide(ctx, input.options.kubectl, notes);
    if (kubectl.target !== undefined) started.push(kubectl.target);
    // kubectl upgrades once, as it starts (svcproxy upgrades on its first connection to each Pod, within the runs).
    const atStart: Record<string, number> = {};
    for (const [protocol, n] of Object.entries(cluster.server.portForward.upgrades))
      if (n > (before[protocol] ?? 0)) atStart[protocol] = n - (before[protocol] ?? 0);
    const svcproxy = await svcproxySide(ctx, input.options, notes);
    started.push(...svcproxy.targets);
    for (const t of started) progress(`  ${t.name}: ${t.host}:${t.ports.discard} (discard), :${t.ports.echo} (echo), ${t.pods} Pod(s)`);
    const runs = await pfRuns({ tools: input.tools, processes, cluster, sizes, loadCpus: input.loadCpus }, started, progress);
    return pfResults([kubectl.report, ...svcproxy.reports], cluster.pods.length, runs, notes, { kubectl: atStart });
  } finally {
    for (const t of started) await processes.stop(t.process);
    await cluster.close();
  }
}
