import t from 'tap';
import { formatIssue, type ConfigSnapshot } from '../../src/config/types.js';
import { parseLoopbackRange, type Ipv4Range } from '../../src/state/address-allocator.js';
import { desiredState, type ListenEnvironment } from '../../src/state/desired.js';
import { describeProbe } from '../../src/state/pod-info.js';
import type { DesiredState } from '../../src/state/types.js';
import { nextRemoval, workloadPods, type OwnedPod } from '../../src/state/workload-pods.js';
import { validateYaml } from '../helpers/config.js';

const RANGE = parseLoopbackRange('127.64.0.0/16') as Ipv4Range;

function snapshotOf(yaml: string): ConfigSnapshot {
  const { snapshot, issues } = validateYaml(yaml);
  if (issues.length > 0) throw new Error(issues.join('\n'));
  return snapshot;
}

function deployment(replicas: number, grace = 30, name = 'web'): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: ${grace}
      containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]
`;
}

function plan(yaml: string, previous: ReadonlyMap<string, OwnedPod> = new Map(), now = 1000, range = RANGE, resolved = new Map<string, readonly string[]>()) {
  return workloadPods(snapshotOf(yaml), { range, previous, resolved, now, taken: new Set(['127.64.0.1']) });
}

t.test('each Pod gets an address of the pod range, kept from the previous plan while it exists', async (t) => {
  const first = plan(deployment(3));
  t.same(first.issues, []);
  const addresses = [...first.owned.values()].map((o) => o.pod.address);
  t.equal(new Set(addresses).size, 3);
  for (const a of addresses) {
    t.match(a, /^127\.64\.\d+\.\d+$/);
    t.not(a, '127.64.0.1', 'never a taken address');
  }
  t.same(
    [...plan(deployment(3)).owned.values()].map((o) => o.pod.address),
    addresses,
    'a restart gives the same addresses (derived from the names)',
  );
  const scaled = plan(deployment(5), first.owned);
  for (const [key, o] of first.owned) t.equal(scaled.owned.get(key)?.pod.address, o.pod.address, `${key} keeps its address`);
  t.equal([...scaled.owned.values()].filter((o) => o.removeAt === 0).length, 5);
});

t.test('a Pod the config no longer makes terminates for its grace period, keeps its address meanwhile, then is gone', async (t) => {
  const first = plan(deployment(3, 2));
  const down = plan(deployment(1, 2), first.owned, 10_000);
  const terminating = [...down.owned.values()].filter((o) => o.removeAt !== 0);
  t.equal(terminating.length, 2);
  for (const o of terminating) {
    t.equal(o.removeAt, 12_000, 'now + terminationGracePeriodSeconds');
    t.equal(o.pod.terminating, true);
    t.equal(o.pod.address, first.owned.get(`default/${o.pod.name}`)?.pod.address, 'its address stays while it terminates');
  }
  t.equal(nextRemoval(down.owned), 12_000);
  const later = plan(deployment(1, 2), down.owned, 11_000);
  t.same(
    [...later.owned.values()].map((o) => o.removeAt).sort((x, y) => x - y),
    [0, 12_000, 12_000],
    'the deadline does not move on later plans',
  );
  const gone = plan(deployment(1, 2), later.owned, 12_000);
  t.same(
    [...gone.owned.values()].map((o) => o.removeAt),
    [0],
    'gone at the deadline',
  );
  t.equal(nextRemoval(gone.owned), undefined);
  const back = plan(deployment(3, 2), down.owned, 11_000);
  t.same(
    [...back.owned.values()].map((o) => [o.removeAt, o.pod.terminating]),
    [
      [0, false],
      [0, false],
      [0, false],
    ],
    'scaled back up in time: the same Pods, wanted again',
  );
  const zero = plan(deployment(1, 0), plan(deployment(3, 0)).owned, 10_000);
  t.equal(zero.owned.size, 1, 'a grace period of 0: gone at once');
});

t.test('a range too small for the Pods is one clear issue naming --pod-cidr', async (t) => {
  const tiny = parseLoopbackRange('127.64.0.0/30') as Ipv4Range;
  const result = plan(deployment(3), new Map(), 0, tiny);
  t.same(result.issues.map(formatIssue), [
    '--pod-cidr: 3 Pods need an address of the pod range 127.64.0.0/30, which has 2 usable addresses (1 taken by other addresses); give --pod-cidr a larger range',
  ]);
  t.equal(result.owned.size, 0);
});

t.test('a generated Pod with the name of a Pod written by hand is an error naming both', async (t) => {
  const sts =
    'apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  selector: {matchLabels: {app: db}}\n  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: c}]}}\n';
  const pod = 'apiVersion: v1\nkind: Pod\nmetadata: {name: db-0}\nspec: {containers: [{name: c}]}\n';
  t.same(plan(`${sts}---\n${pod}`).issues.map(formatIssue), [
    't.yaml[0] StatefulSet default/db: metadata.name: its Pod default/db-0 has the name of the Pod at t.yaml[1]; rename one of them',
  ]);
});

const env: ListenEnvironment = {
  bindAddress: '127.0.0.1',
  isLocalAddress: (ip) => ip.startsWith('127.'),
  reserved: [{ address: '127.0.0.1', port: 9901, what: 'admin server' }],
};

const SERVICE = 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}\n---\n';

function state(yaml: string, over: Partial<ListenEnvironment> = {}): DesiredState {
  const result = desiredState(snapshotOf(yaml), { ...env, ...over });
  if (result.issues.length > 0) throw new Error(result.issues.map(formatIssue).join('\n'));
  return result.state;
}

t.test('desired state: one endpoint per replica, at its Pod address and container port, probed (not ready until its port answers)', async (t) => {
  const s = state(SERVICE + deployment(3));
  const endpoints = s.servicePorts.get('default/web' as never)?.endpoints ?? [];
  t.equal(endpoints.length, 3);
  for (const e of endpoints) t.match(e, { port: 8080, source: 'Pod', probed: true, ready: false, pod: /^default\/web-/ });
  t.same(endpoints.map((e) => e.host).sort(), [...s.ownedPods.values()].map((o) => o.pod.address).sort());
  t.equal(s.probes.size, 3, 'one probe plan per Pod');
  const table = [...s.pods.values()];
  t.equal(table.length, 3);
  t.match(table[0], {
    workloadKind: 'Deployment',
    workloadName: 'web',
    binding: '',
    probed: true,
    terminating: false,
    services: ['default/web'],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
  t.equal(table[0]?.ports[0]?.servedAt, `${table[0]?.address ?? ''}:8080`);
  t.equal(table[0]?.readiness, 'tcpSocket :8080 (http) (implied: no readinessProbe)');
});

t.test('desired state: removed Pods are endpoints that are terminating, until they are gone', async (t) => {
  const first = state(SERVICE + deployment(2, 5), { now: 1000 });
  const down = state(SERVICE + deployment(1, 5), { now: 2000, previousOwnedPods: first.ownedPods });
  const endpoints = down.servicePorts.get('default/web' as never)?.endpoints ?? [];
  t.same(
    endpoints.map((e) => e.terminating).sort((x, y) => Number(x) - Number(y)),
    [false, true],
  );
  t.equal(down.probes.size, 2, 'a terminating Pod is still probed: serving follows its readiness');
  t.same(
    [...down.pods.values()].map((p) => [p.terminating, p.removeAt]).sort((x, y) => Number(x[1]) - Number(y[1])),
    [
      [false, 0],
      [true, 7000],
    ],
  );
});

t.test('desired state: Pods behind a headless Service are probed (DNS answers only ready ones), with StatefulSet hostnames', async (t) => {
  const yaml =
    'apiVersion: v1\nkind: Service\nmetadata: {name: nginx}\nspec: {clusterIP: None, selector: {app: web}, ports: [{name: web, port: 80}]}\n---\n' +
    'apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web}\nspec:\n  replicas: 2\n  serviceName: nginx\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, ports: [{name: web, containerPort: 80}]}]}\n';
  const s = state(yaml);
  t.same([...s.probes.keys()].sort(), ['default/web-0', 'default/web-1']);
  t.same(
    [...s.probes.values()].map((p) => p.services),
    [['default/nginx'], ['default/nginx']],
  );
  t.same(
    s.services
      .get('default/nginx')
      ?.endpoints.map((e) => e.hostname)
      .sort(),
    ['web-0', 'web-1'],
  );
});

t.test('desired state: a bound Pod is dialled where the binding serves the port', async (t) => {
  const yaml =
    SERVICE +
    deployment(3) +
    '---\napiVersion: svcproxy.dev/v1alpha1\nkind: WorkloadBinding\nmetadata: {name: local}\nspec: {workload: {kind: Deployment, name: web}, addresses: [127.0.0.1:3000]}\n';
  const s = state(yaml);
  t.same(
    s.servicePorts.get('default/web' as never)?.endpoints.map((e) => `${e.host}:${e.port}`),
    ['127.0.0.1:3000'],
  );
  t.match([...s.pods.values()], [{ binding: 'local', address: '127.0.0.1', ports: [{ port: 8080, servedAt: '127.0.0.1:3000' }] }]);
  const numeric = state(yaml.replace('targetPort: http', 'targetPort: 8080'));
  t.same(
    numeric.servicePorts.get('default/web' as never)?.endpoints.map((e) => `${e.host}:${e.port}`),
    ['127.0.0.1:3000'],
    'a numeric targetPort that is a declared container port is mapped too',
  );
  const dns = state(yaml.replace('addresses: [127.0.0.1:3000]', 'dnsName: app:3000'), { resolved: new Map([['app', ['10.0.0.5', '10.0.0.6']]]) });
  t.same(
    dns.servicePorts
      .get('default/web' as never)
      ?.endpoints.map((e) => `${e.host}:${e.port}`)
      .sort(),
    ['10.0.0.5:3000', '10.0.0.6:3000'],
  );
});

t.test('desired state: an exec probe is noted once per workload, not once per replica', async (t) => {
  const yaml = deployment(3).replace(
    'containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]',
    'containers: [{name: app, ports: [{name: http, containerPort: 8080}], readinessProbe: {exec: {command: ["true"]}}}]',
  );
  const result = desiredState(snapshotOf(yaml), env);
  t.same(
    result.notes.filter((n) => /exec/.test(n.msg)).map((n) => n.object),
    ['Deployment default/web'],
  );
});

t.test('probe descriptions for the Pods table', async (t) => {
  const timing = { container: 'c', initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 };
  t.equal(
    describeProbe({ ...timing, kind: 'httpGet', port: { port: 8080, name: '' }, host: '', path: '/healthz', scheme: 'HTTPS', headers: [] }),
    'httpGet https://:8080/healthz',
  );
  t.equal(describeProbe({ ...timing, kind: 'grpc', port: 9090, service: 'api' }), 'grpc :9090 service api');
  t.equal(describeProbe({ ...timing, kind: 'grpc', port: 9090, service: '' }), 'grpc :9090');
  t.equal(describeProbe({ ...timing, kind: 'exec', command: ['true'], fallbackPort: undefined }), 'exec (cannot run here; counted ready)');
  t.equal(
    describeProbe({ ...timing, kind: 'exec', command: ['true'], fallbackPort: { port: 80, name: 'web' } }),
    'exec (cannot run here; connects to :80 (web) instead)',
  );
});

t.test('fuzz: whatever survives validation of mangled workloads and bindings, planning never throws', async (t) => {
  const { mangle, random } = await import('../helpers/fuzz.js');
  const { validateSources } = await import('../../src/config/validate-sources.js');
  const base =
    SERVICE +
    deployment(3) +
    '---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  replicas: 2\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: c, ports: [{containerPort: 5432}]}]}}\n' +
    '---\napiVersion: svcproxy.dev/v1alpha1\nkind: WorkloadBinding\nmetadata: {name: db}\nspec: {workload: {kind: StatefulSet, name: db}, dnsName: "db:5432", ports: {"5432": 6432}}\n';
  const seed = 1_313;
  const rand = random(seed);
  let planned = 0;
  for (let i = 0; i < 120; i++) {
    const text = mangle(base, rand);
    let snapshot: ConfigSnapshot;
    try {
      snapshot = validateSources([{ file: 'f.yaml', text }]).snapshot;
    } catch {
      continue; // the parser's limits are the validation process's business (isolated-validation.ts)
    }
    try {
      desiredState(snapshot, { ...env, resolved: new Map([['db', ['10.0.0.1', '10.0.0.2']]]), now: i });
      planned++;
    } catch (err: unknown) {
      t.fail(`case ${i} (seed ${seed}): ${String(err)}`);
    }
  }
  t.ok(planned > 50, `${planned} mangled snapshots planned`);
});

t.test('terminating Pods are capped: beyond the cap, those due soonest go at once', async (t) => {
  const { MAX_TERMINATING_PODS } = await import('../../src/state/workload-pods.js');
  const previous = new Map<string, OwnedPod>();
  const template = [...plan(deployment(1)).owned.values()][0];
  if (template === undefined) throw new Error('no Pod');
  for (let i = 0; i < MAX_TERMINATING_PODS + 5; i++) {
    previous.set(`default/old-${i}`, {
      pod: { ...template.pod, name: `old-${i}`, address: `127.65.${Math.floor(i / 250)}.${(i % 250) + 1}` },
      removeAt: 10_000 + i,
    });
  }
  const result = plan(deployment(1), previous, 1000);
  const terminating = [...result.owned.values()].filter((o) => o.removeAt !== 0);
  t.equal(terminating.length, MAX_TERMINATING_PODS);
  t.notOk(result.owned.has('default/old-0'), 'the one due soonest went first');
  t.ok(result.owned.has(`default/old-${MAX_TERMINATING_PODS + 4}`));
  t.match(result.notes, [{ level: 'warn', msg: new RegExp(`${MAX_TERMINATING_PODS + 5} Pods are terminating`) }]);
});
