/**
 * Step 7's cluster: the test suite's fake API server (test/helpers/fake-apiserver/, HTTPS on 127.0.0.1, its
 * `pods/{name}/portforward` in the forms kubectl speaks) running inside the bench process, with three Pods whose
 * "containers" are the bench's own backends (the C program's `serve`, or its Node twin), each on its Pod's IP in a
 * corner of 127/8 of this run's own. Two Services select them: `pf-one` (Pod pf-1 only, the Pod kubectl forwards to)
 * and `pf-three` (all three). Their targetPorts are named (`discard`, `echo`): each Pod's backends listen on ports the
 * kernel gave them, and each Pod's containerPorts name them, as a Deployment's Pods name theirs.
 *
 * No tap Test here: the fake is started with FakeApiServer.start() and closed by {@link PfCluster.close}, and the
 * kubeconfig is written from kubeconfigDocument() into the run's temp directory (removed with it).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_TOKEN, FakeApiServer } from '../../test/helpers/fake-apiserver/server.js';
import { kubeconfigDocument } from '../../test/helpers/fake-apiserver/kubeconfig.js';
import { assertLoopback } from './loopback.js';
import { groupUsage, type Processes, type Tracked } from './processes.js';
import type { Tools } from './tools.js';
import type { PortPair } from './configs.js';

export const PF_NAMESPACE = 'bench';
/** The Service ports svcproxy serves (on each Service's own address), the same for both Services. */
export const PF_SERVICE_PORTS: PortPair = { discard: 7000, echo: 7001 };

interface PfPod {
  readonly name: string;
  readonly ip: string;
  /** The ports its backends listen on, on `ip`. */
  readonly ports: PortPair;
  readonly backend: Tracked;
}

export interface PfCluster {
  readonly server: FakeApiServer;
  readonly kubeconfig: string;
  readonly pods: readonly PfPod[];
  /** CPU seconds of every Pod's backends so far (their process groups). */
  podsCpuS(): number;
  close(): Promise<void>;
}

export interface PfClusterOptions {
  readonly processes: Processes;
  readonly tools: Tools;
  /** The run's temp directory (the kubeconfig goes there). */
  readonly dir: string;
  readonly fdLimit: number;
  readonly loadCpus: string | undefined;
  readonly pods?: number;
}

/** 127.A.B.0/24, A in 120-219: a Pod range of this run's own (the test suites use 127.0.10.x and others). */
function podNetwork(): string {
  return `127.${120 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 256)}`;
}

async function startPodBackends(options: PfClusterOptions, name: string, ip: string): Promise<PfPod> {
  assertLoopback(ip, `Pod ${name}`);
  const { command, args } = options.tools.command('serve', [ip]);
  const backend = options.processes.spawn(`pod ${name} backends`, command, args, { fdLimit: options.fdLimit, cpus: options.loadCpus });
  const line = await backend.waitForLine((l) => l.includes('"discard"') || l.includes('"error"'), 10_000);
  const parsed = JSON.parse(line) as { discard?: unknown; echo?: unknown; error?: unknown };
  if (typeof parsed.discard !== 'number' || typeof parsed.echo !== 'number')
    throw new Error(`Pod ${name} backends: ${typeof parsed.error === 'string' ? parsed.error : line}`);
  return { name, ip, ports: { discard: parsed.discard, echo: parsed.echo }, backend };
}

export async function startPfCluster(options: PfClusterOptions): Promise<PfCluster> {
  const net = podNetwork();
  const server = await FakeApiServer.start({ podNetwork: net });
  const pods: PfPod[] = [];
  try {
    for (let i = 1; i <= (options.pods ?? 3); i++) pods.push(await startPodBackends(options, `pf-${i}`, `${net}.${i}`));
    for (const pod of pods) {
      server.cluster.addPod({
        namespace: PF_NAMESPACE,
        name: pod.name,
        ip: pod.ip,
        labels: { app: 'pf', ...(pod.name === 'pf-1' ? { first: 'yes' } : {}) },
        containerPorts: [
          { name: 'discard', containerPort: pod.ports.discard, protocol: 'TCP' },
          { name: 'echo', containerPort: pod.ports.echo, protocol: 'TCP' },
        ],
      });
    }
    const ports = [
      { name: 'discard', port: PF_SERVICE_PORTS.discard, targetPort: 'discard', protocol: 'TCP' as const },
      { name: 'echo', port: PF_SERVICE_PORTS.echo, targetPort: 'echo', protocol: 'TCP' as const },
    ];
    server.cluster.addService({ namespace: PF_NAMESPACE, name: 'pf-one', selector: { first: 'yes' }, ports });
    server.cluster.addService({ namespace: PF_NAMESPACE, name: 'pf-three', selector: { app: 'pf' }, ports });
    const kubeconfig = join(options.dir, 'pf-kubeconfig.json');
    const doc = kubeconfigDocument({ server: server.url, caCert: server.pki.caCert, auth: { token: DEFAULT_TOKEN }, namespace: PF_NAMESPACE });
    await writeFile(kubeconfig, JSON.stringify(doc), { mode: 0o600 });
    return {
      server,
      kubeconfig,
      pods,
      podsCpuS: () => pods.reduce((sum, p) => sum + groupUsage(p.backend.pid).cpuS, 0),
      close: async () => {
        await server.close();
        for (const p of pods) await options.processes.stop(p.backend);
      },
    };
  } catch (err) {
    await server.close();
    for (const p of pods) await options.processes.stop(p.backend);
    throw err;
  }
}
