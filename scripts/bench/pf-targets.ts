/**
 * Step 7's two forwarders, each in a process group of its own (its CPU read from /proc as the other proxies'):
 *
 * - `kubectl port-forward pod/pf-1 --address 127.0.0.1 0:DISCARD 0:ECHO` as users run it (kubectl's defaults: since
 *   1.31 SPDY tunnelled over a WebSocket, one upgraded connection for the invocation, a stream pair per connection;
 *   it prints a "Handling connection" line per connection, which is part of what it costs);
 * - `svcproxy --cluster` with no `--pod-network` flag (the default, portforward) following the fake, serving the
 *   Services `pf-one` (Pod pf-1, the Pod kubectl reaches) and `pf-three` (three Pods) on their own loopback
 *   addresses. It is ready when /api/services lists both with every endpoint ready and reached by port-forward:
 *   a build whose endpoints are dialled directly is refused, so its figures cannot pass for port-forward ones.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { PortPair } from './configs.js';
import { PF_NAMESPACE, PF_SERVICE_PORTS, type PfCluster } from './pf-cluster.js';
import type { Processes, Tracked } from './processes.js';
import { freePort, which } from './targets.js';

export type PfTargetName = 'kubectl' | 'svcproxy' | 'svcproxy-3pods';

export interface PfTarget {
  readonly name: PfTargetName;
  /** Where the load generator connects. */
  readonly host: string;
  readonly ports: PortPair;
  /** The forwarder's process (group); svcproxy's two targets share one instance. */
  readonly process: Tracked;
  /** Pods behind it. */
  readonly pods: number;
}

export interface PfStart {
  readonly processes: Processes;
  readonly cluster: PfCluster;
  /** A fresh directory (kubectl's cache and HOME). */
  readonly dir: string;
  readonly cpus: string | undefined;
  readonly fdLimit: number;
}

/** kubectl's client version, or why the kubectl side is skipped. */
export function detectKubectl(given: string | undefined): { ok: true; path: string; version: string } | { ok: false; note: string } {
  const path = given === undefined ? which('kubectl') : existsSync(given) ? resolve(given) : undefined;
  if (path === undefined)
    return { ok: false, note: `${given ?? 'kubectl'} not found (kubectl not installed): the kubectl side of the port-forward step is skipped` };
  const out = spawnSync(path, ['version', '--client', '-o', 'json'], { encoding: 'utf8', timeout: 10_000 });
  const version = /"gitVersion":\s*"([^"]+)"/.exec(out.stdout ?? '')?.[1];
  if (out.status !== 0 || version === undefined) return { ok: false, note: `kubectl at ${path} did not tell its version: the kubectl side is skipped` };
  return { ok: true, path, version };
}

const FORWARDING = /^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$/;

/** kubectl port-forward to Pod pf-1's two ports; ready once it printed both "Forwarding from" lines. */
export async function startKubectl(ctx: PfStart, kubectl: string): Promise<PfTarget> {
  const pod = ctx.cluster.pods[0];
  if (pod === undefined) throw new Error('no Pod to forward to');
  const home = join(ctx.dir, 'kubectl-home');
  await mkdir(home, { recursive: true });
  const args = [
    ...['--kubeconfig', ctx.cluster.kubeconfig, '--cache-dir', join(home, 'cache'), '--request-timeout', '20s'],
    ...['port-forward', '-n', PF_NAMESPACE, `pod/${pod.name}`, '--address', '127.0.0.1', `0:${pod.ports.discard}`, `0:${pod.ports.echo}`],
  ];
  // HOME and KUBECONFIG of the run's own: nothing of the user's kubectl setup is read.
  const proc = ctx.processes.spawn('kubectl', 'env', [`HOME=${home}`, `KUBECONFIG=${ctx.cluster.kubeconfig}`, kubectl, ...args], {
    fdLimit: ctx.fdLimit,
    cpus: ctx.cpus,
  });
  try {
    const local = async (remote: number): Promise<number> => {
      const line = await proc.waitForLine((l) => FORWARDING.exec(l)?.[2] === String(remote), 20_000);
      return Number(FORWARDING.exec(line)?.[1]);
    };
    const ports = { discard: await local(pod.ports.discard), echo: await local(pod.ports.echo) };
    return { name: 'kubectl', host: '127.0.0.1', ports, process: proc, pods: 1 };
  } catch (err) {
    await ctx.processes.stop(proc);
    throw err;
  }
}

/** A corner of 127/8 for the Services' addresses, away from the Pods' and from the test suites'. */
function serviceCidr(): string {
  return `127.${50 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}.0/24`;
}

interface ServicesAnswer {
  readonly services?: ReadonlyArray<{ readonly namespace?: string; readonly name?: string; readonly addresses?: readonly string[] }>;
  readonly servicePorts?: ReadonlyArray<{
    readonly namespace?: string;
    readonly service?: string;
    readonly listeners?: ReadonlyArray<{ readonly state?: string }>;
    readonly endpoints?: ReadonlyArray<{ readonly ready?: boolean; readonly reachedBy?: string }>;
  }>;
}

/** The Service's address once both its ports listen with `pods` ready endpoints each; why not yet otherwise. */
export function readyAddress(answer: ServicesAnswer, name: string, pods: number): { address: string } | { waiting: string } {
  const address = answer.services?.find((s) => s.namespace === PF_NAMESPACE && s.name === name)?.addresses?.[0];
  if (address === undefined) return { waiting: `Service ${name} not listed yet` };
  const ports = answer.servicePorts?.filter((p) => p.namespace === PF_NAMESPACE && p.service === name) ?? [];
  if (ports.length !== 2) return { waiting: `Service ${name}: ${ports.length} of 2 ports` };
  for (const p of ports) {
    if (!(p.listeners ?? []).some((l) => l.state === 'listening')) return { waiting: `Service ${name}: not listening yet` };
    const endpoints = p.endpoints ?? [];
    const direct = endpoints.filter((e) => e.reachedBy !== 'portforward');
    if (direct.length > 0) return { waiting: `Service ${name}: endpoints reached by ${direct[0]?.reachedBy ?? 'a dial (no reachedBy)'}, not port-forward` };
    if (endpoints.filter((e) => e.ready === true).length !== pods) return { waiting: `Service ${name}: ${endpoints.length} endpoint(s), not ${pods} ready` };
  }
  return { address };
}

async function getServices(admin: string): Promise<ServicesAnswer | undefined> {
  try {
    const res = await fetch(`http://${admin}/api/services`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as ServicesAnswer) : undefined;
  } catch {
    return undefined;
  }
}

/** svcproxy --cluster (default --pod-network) following the fake; its two targets once both Services are served. */
export async function startSvcproxyCluster(ctx: PfStart, entry: string, nodeArgs: readonly string[] = []): Promise<PfTarget[]> {
  const path = resolve(entry);
  if (!existsSync(path)) throw new Error(`${path} not found (npm run build)`);
  const admin = `127.0.0.1:${await freePort('127.0.0.1')}`;
  const bind = `127.${100 + Math.floor(Math.random() * 20)}.${Math.floor(Math.random() * 256)}.1`;
  const args = [
    ...nodeArgs,
    ...['--enable-source-maps', path, '--cluster', '--kubeconfig', ctx.cluster.kubeconfig, '--namespace', PF_NAMESPACE],
    ...['--service-cidr', serviceCidr(), '--bind-address', bind, '--node-address', bind, '--admin-address', admin, '--log-level', 'warn'],
  ];
  const proc = ctx.processes.spawn('svcproxy --cluster', process.execPath, args, { fdLimit: ctx.fdLimit, cwd: process.cwd(), cpus: ctx.cpus });
  let exited = false;
  void proc.exited.then(() => (exited = true));
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const answer = await getServices(admin);
      const one = answer === undefined ? { waiting: 'admin not answering' } : readyAddress(answer, 'pf-one', 1);
      const three = answer === undefined ? one : readyAddress(answer, 'pf-three', ctx.cluster.pods.length);
      if ('address' in one && 'address' in three) {
        return [
          { name: 'svcproxy', host: one.address, ports: PF_SERVICE_PORTS, process: proc, pods: 1 },
          { name: 'svcproxy-3pods', host: three.address, ports: PF_SERVICE_PORTS, process: proc, pods: ctx.cluster.pods.length },
        ];
      }
      const why = 'waiting' in one ? one.waiting : 'waiting' in three ? three.waiting : '';
      if (exited) throw new Error(`svcproxy --cluster exited before serving: ${proc.stderr().trim()}`);
      if (Date.now() > deadline) throw new Error(`svcproxy --cluster: not serving after 30 s (${why}): ${proc.stderr().trim()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await ctx.processes.stop(proc);
    throw err;
  }
}
