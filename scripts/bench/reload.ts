/**
 * Step 6: how fast svcproxy serves a watched change of its endpoints, and what
 * a reload costs it in CPU. A fresh instance per svcproxy target gets one more
 * Service whose EndpointSlice points at backend A (a TCP server in the bench
 * process that writes its name and closes); each reload saves the slice the
 * way an editor does (temp file + rename) pointing at the other backend, then
 * connects through svcproxy every ~10 ms until the new backend answers.
 *
 * Latency: from the rename to the first connection answered by the new
 * backend (so it includes the watcher's debounce, the read, the validation
 * child, the swap, and up to one probe interval). CPU: the instance's process
 * group before the rename and once the reload is over (the group is back to
 * the processes it had: the validation child has exited and been reaped),
 * user + system, reaped children included (see groupCpuWithReapedS). It also
 * includes proxying the probe connections, a few dozen small ones per reload.
 * Peers have no config reload: only svcproxy targets take this step.
 */
import { rename, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { reloadService, reloadSlice } from './configs.js';
import { groupCpuWithReapedS } from './processes.js';
import type { RunRecord } from './steps.js';
import { freePort, type Driver, type StartContext } from './targets.js';

const PROBE_EVERY_MS = 10;
const SLICE = 'bench-reload-slice.yaml';
/** A dot file with no manifest extension: svcproxy's loader skips it until it is renamed. */
const TEMP = '.bench-reload-slice.yaml.tmp';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A backend that writes its name and closes each connection. */
export async function nameServer(host: string, name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end(name);
  });
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, host, ok));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { server, port: address.port };
}

/** One connection through the proxy: what it was told before the close, or '' on an error. */
export function whoAnswers(host: string, port: number, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const socket = connect({ host, port });
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c: Buffer) => (text += c.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

/** Probes every PROBE_EVERY_MS until `name` answers; the probes made, or undefined past the deadline. */
async function until(host: string, port: number, name: string, deadline: number): Promise<number | undefined> {
  for (let probes = 1; Date.now() < deadline; probes++) {
    if ((await whoAnswers(host, port)) === name) return probes;
    await sleep(PROBE_EVERY_MS);
  }
  return undefined;
}

/** Waits (bounded) until the group holds no process it did not hold before: the validation child is gone. */
async function settled(pgid: number, before: readonly number[], deadline: number): Promise<ReturnType<typeof groupCpuWithReapedS> & { settled: boolean }> {
  for (;;) {
    const now = groupCpuWithReapedS(pgid);
    const extra = now.pids.some((p) => !before.includes(p));
    if (!extra || Date.now() >= deadline) return { ...now, settled: !extra };
    await sleep(5);
  }
}

export interface ReloadOptions {
  readonly count: number;
  readonly maxMs: number;
}

/** Step 6 on a fresh instance of `driver`: `count` reloads, alternating A -> B -> A ... */
export async function reloadStep(driver: Driver, start: StartContext, { count, maxMs }: ReloadOptions): Promise<{ runs: RunRecord[]; notes: string[] }> {
  const host = start.host;
  const backends = [await nameServer(host, 'A'), await nameServer(host, 'B')] as const;
  const notes: string[] = [];
  try {
    const listen = await freePort(host);
    await writeFile(join(start.dir, 'bench-reload-service.yaml'), reloadService(host, listen));
    await writeFile(join(start.dir, SLICE), reloadSlice(host, backends[0].port));
    const target = await driver.start(start);
    const proc = target.process;
    if (proc === undefined) throw new Error(`${driver.name}: no proxy process to measure`);
    try {
      if ((await until(host, listen, 'A', Date.now() + maxMs)) === undefined)
        throw new Error(`backend A not answering through ${host}:${listen} after ${maxMs} ms`);
      const runs: RunRecord[] = [];
      for (let rep = 1; rep <= count; rep++) {
        const [next, to] = rep % 2 === 1 ? ['B', backends[1]] : ['A', backends[0]];
        await writeFile(join(start.dir, TEMP), reloadSlice(host, to.port));
        const before = groupCpuWithReapedS(proc.pid);
        const t0 = performance.now();
        await rename(join(start.dir, TEMP), join(start.dir, SLICE));
        const probes = await until(host, listen, next, Date.now() + maxMs);
        const latencyMs = performance.now() - t0;
        if (probes === undefined) throw new Error(`reload ${rep}: backend ${next} not answering ${maxMs} ms after the rename`);
        const after = await settled(proc.pid, before.pids, Date.now() + 2000);
        if (!after.settled) notes.push(`${driver.name}, reload ${rep}: a child of svcproxy was still running 2 s after the switch; its CPU so far is counted`);
        const cpuS = after.cpuS - before.cpuS;
        runs.push({
          step: 'reload',
          target: driver.name,
          rep,
          // children_cpu_ms: the part of cpu_ms that came from reaped children (the validation child).
          output: {
            latency_ms: latencyMs,
            cpu_ms: Math.round(cpuS * 1e6) / 1e3,
            children_cpu_ms: Math.round((after.reapedS - before.reapedS) * 1e6) / 1e3,
            probes,
          },
          usage: { wallS: latencyMs / 1000, generatorCpuS: 0, proxyCpuS: cpuS, backendCpuS: 0 },
        });
      }
      return { runs, notes };
    } finally {
      await start.processes.stop(proc);
    }
  } finally {
    for (const b of backends) b.server.close();
  }
}
