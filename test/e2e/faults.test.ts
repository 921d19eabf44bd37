/**
 * Declared Faults end to end, in-process: real files, the real watcher,
 * real sockets. Per-Pod targeting, live edits, seeded toxicity and the
 * visibility of toxics in the admin API and metrics.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Svcproxy } from '../../src/instance/instance.js';
import { startInstance } from '../helpers/instance.js';
import { eventually, freePort, startServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';

/** Sends its tag and ends; the client sees which backend answered, and how much of it. */
function startTagged(t: Test, tag: string): Promise<number> {
  return startServer(t, (s) => {
    s.end(tag);
    s.on('end', () => s.end());
  });
}

/** Connects, reads what comes until the server's FIN, and ends. */
async function fetchTag(port: number): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    socket.on('data', (c: Buffer) => (got += c.toString()));
    socket.on('end', () => socket.end());
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(got));
  });
}

function podYaml(name: string, port: number, labels: string): string {
  return `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {${labels}}}
spec:
  containers:
    - name: app
      ports: [{name: http, containerPort: ${port}}]
`;
}

function serviceYaml(port: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: ${port}, targetPort: http}]
`;
}

function faultYaml(target: string, toxics: string, extra = ''): string {
  return `apiVersion: svcproxy.dev/v1alpha1
kind: Fault
metadata: {name: chaos}
spec:
  target: ${target}
${extra}  toxics:
${toxics}`;
}

async function twoPods(t: Test, fault: string): Promise<{ port: number; dir: string; instance: Svcproxy }> {
  const a = await startTagged(t, 'alpha|');
  const b = await startTagged(t, 'beta|');
  const port = await freePort();
  const dir = await configDir(t, {
    'web.yaml': serviceYaml(port) + podYaml('web-a', a, 'app: web, track: canary') + podYaml('web-b', b, 'app: web, track: stable'),
    'fault.yaml': fault,
  });
  const instance = await startInstance(t, dir);
  return { port, dir, instance };
}

t.test("a toxic on one Pod leaves the other Pods' connections untouched", async (t) => {
  const { port } = await twoPods(t, faultYaml('{pod: web-a}', '    - {type: limit_data, attributes: {bytes: 2}}\n'));
  const seen: string[] = [];
  for (let i = 0; i < 8; i++) seen.push(await fetchTag(port));
  t.same([...new Set(seen)].sort(), ['al', 'beta|'], `web-a is cut to 2 bytes, web-b answers whole: ${seen.join(' ')}`);
  t.equal(seen.filter((s) => s === 'beta|').length, 4, 'every connection to web-b is untouched');
});

t.test('a label selector targets the Pods it matches', async (t) => {
  const { port, instance } = await twoPods(t, faultYaml('{podSelector: {matchLabels: {track: stable}}}', '    - {type: limit_data, attributes: {bytes: 1}}\n'));
  const seen: string[] = [];
  for (let i = 0; i < 6; i++) seen.push(await fetchTag(port));
  t.same([...new Set(seen)].sort(), ['alpha|', 'b']);
  // Visibility: the admin API shows the toxic on web-b's endpoint only, the metrics count its applications.
  const res = await fetch(`http://127.0.0.1:${instance.adminPort}/api/services`);
  const body = (await res.json()) as {
    servicePorts: Array<{ toxics: unknown[]; endpoints: Array<{ pod: string; toxics: Array<{ name: string; type: string; owner: string; source: string }> }> }>;
  };
  const sp = body.servicePorts[0];
  t.same(sp?.toxics, [], 'no toxic on the whole port');
  const byPod = Object.fromEntries((sp?.endpoints ?? []).map((e) => [e.pod, e.toxics.map((x) => `${x.source}:${x.owner}:${x.name}:${x.type}`)]));
  t.same(byPod, { 'default/web-a': [], 'default/web-b': ['config:default/chaos:limit_data_downstream:limit_data'] });
  const metrics = await (await fetch(`http://127.0.0.1:${instance.adminPort}/metrics`)).text();
  t.match(
    metrics,
    /svcproxy_toxic_applications_total\{namespace="default",service="web",port="\d+",toxic="limit_data_downstream",type="limit_data",stream="downstream",source="config",owner="default\/chaos"\} 3/,
  );
  t.match(metrics, /svcproxy_toxic_dropped_bytes_total\{[^}]*toxic="limit_data_downstream"[^}]*\} 12/, '3 connections x 4 bytes beyond the limit');
});

t.test('a live edit of the fault file applies to new connections', async (t) => {
  const { port, dir } = await twoPods(t, faultYaml('{service: web}', '    - {type: limit_data, attributes: {bytes: 1}}\n'));
  t.same(new Set([await fetchTag(port), await fetchTag(port)]), new Set(['a', 'b']), 'every connection cut to 1 byte');
  await writeFile(join(dir, 'fault.yaml'), faultYaml('{service: web}', '    - {type: limit_data, attributes: {bytes: 3}}\n'));
  await eventually(async () => (await fetchTag(port)).length === 3, 'new connections to see bytes: 3', 10_000);
  await writeFile(join(dir, 'fault.yaml'), '# no fault\n');
  await eventually(async () => ['alpha|', 'beta|'].includes(await fetchTag(port)), 'new connections to be whole again', 10_000);
});

t.test('an invalid fault file rejects the snapshot; the last good fault keeps applying', async (t) => {
  const { port, dir, instance } = await twoPods(t, faultYaml('{service: web}', '    - {type: limit_data, attributes: {bytes: 1}}\n'));
  await writeFile(join(dir, 'fault.yaml'), faultYaml('{service: web}', '    - {type: latency, toxicity: 2, attributes: {latency: -1}}\n'));
  await eventually(() => instance.status.failures > 0, 'the reload to be rejected', 10_000);
  t.match(instance.status.lastErrors.join('\n'), /fault\.yaml\[0\] Fault default\/chaos: spec\.toxics\[0\]\.toxicity: Invalid value: 2/);
  t.match(instance.status.lastErrors.join('\n'), /spec\.toxics\[0\]\.attributes\.latency: Invalid value: -1/);
  t.equal((await fetchTag(port)).length, 1, 'the last good fault still applies');
});

t.test('toxicity 0.5 with a seed makes the same choices run after run', async (t) => {
  const runs: string[] = [];
  for (let run = 0; run < 2; run++) {
    await t.test(`run ${run + 1}`, async (t) => {
      const { port } = await twoPods(t, faultYaml('{service: web}', '    - {type: limit_data, toxicity: 0.5, attributes: {bytes: 0}}\n', '  seed: 7\n'));
      let pattern = '';
      for (let i = 0; i < 16; i++) pattern += (await fetchTag(port)) === '' ? 'x' : '.';
      runs.push(pattern);
    });
  }
  t.equal(runs[0], runs[1], `the same sequence twice: ${runs[0]}`);
  t.match(runs[0], /x/, 'some connections got the toxic');
  t.match(runs[0], /\./, 'some did not');
});

t.test('after and for: a fault starts late and ends on time', async (t) => {
  const { port } = await twoPods(t, faultYaml('{service: web}', '    - {type: limit_data, attributes: {bytes: 1}}\n', '  after: 300ms\n  for: 600ms\n'));
  t.ok((await fetchTag(port)).length > 1, 'before `after`, connections are whole');
  await eventually(async () => (await fetchTag(port)).length === 1, 'the fault to start', 5000);
  await eventually(async () => (await fetchTag(port)).length > 1, 'the fault to end', 5000);
});
