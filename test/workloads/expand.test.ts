import t from 'tap';
import type { WorkloadBindingSpec, WorkloadSpec } from '../../src/config/types.js';
import { expandWorkload, IMPLICIT_PROBE_TIMING, MAX_GRACE_SECONDS, MAX_RESOLVED_PODS } from '../../src/workloads/expand.js';
import { encodeHash, generatedName, nameSuffix, podHostname } from '../../src/workloads/pod-names.js';
import { validateYaml } from '../helpers/config.js';

const ALPHABET = /^[bcdfghjklmnpqrstvwxz2456789]+$/;

function workload(kind: string, spec: string, name = 'web'): WorkloadSpec {
  const { snapshot, issues } = validateYaml(`apiVersion: apps/v1\nkind: ${kind}\nmetadata: {name: ${name}}\nspec:\n${spec}`);
  if (issues.length > 0) throw new Error(issues.join('\n'));
  const w = snapshot.workloads[0];
  if (w === undefined) throw new Error('no workload');
  return w;
}

const TEMPLATE = (
  extra = '',
  ports = '[{name: http, containerPort: 8080}, {name: metrics, containerPort: 9100}]',
): string => `  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          ports: ${ports}
${extra}`;

const none = { binding: undefined, resolved: new Map<string, readonly string[]>() };

t.test('pod-template-hash encoding: decimal digits through the alphabet, as ComputeHash is written', async (t) => {
  t.equal(encodeHash(0), '4');
  t.equal(encodeHash(1234567890), '56789bcdf4', '0-9 -> 4 5 6 7 8 9 b c d f');
  t.match(nameSuffix('x'), /^[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  t.equal(nameSuffix('x'), nameSuffix('x'), 'deterministic');
  t.not(nameSuffix('x'), nameSuffix('y'));
  t.equal(generatedName('a'.repeat(70), 'bcdfg'), `${'a'.repeat(58)}bcdfg`, 'the base is cut to 58 characters: the name fits a label');
  t.equal(podHostname(`${'w'.repeat(62)}-12`), 'w'.repeat(62), 'a hostname is cut to 63 characters, without a trailing dash');
  t.equal(podHostname('web-0'), 'web-0');
});

t.test('Deployment: <name>-<pod-template-hash>-<5>, one per replica, deterministic, with the pod-template-hash label', async (t) => {
  const d = workload('Deployment', `  replicas: 3\n${TEMPLATE()}`);
  const { pods } = expandWorkload(d, none);
  t.equal(pods.length, 3);
  const hash = encodeHash(d.templateHash);
  for (const p of pods) {
    t.match(p.name, new RegExp(`^web-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
    t.same(p.labels, { app: 'web', 'pod-template-hash': hash });
    t.equal(p.address, '', 'an address of the pod range comes later');
    t.same(p.owner, { kind: 'Deployment', name: 'web', binding: '' });
  }
  t.equal(new Set(pods.map((p) => p.name)).size, 3, 'distinct names');
  t.same(
    expandWorkload(d, none).pods.map((p) => p.name),
    pods.map((p) => p.name),
    'the same names every time',
  );
  const scaled = expandWorkload(workload('Deployment', `  replicas: 5\n${TEMPLATE()}`), none).pods.map((p) => p.name);
  t.same(
    scaled.slice(0, 3),
    pods.map((p) => p.name),
    'scaling up keeps the first Pods',
  );
  const edited = expandWorkload(workload('Deployment', `  replicas: 3\n${TEMPLATE('          image: app:2\n')}`), none).pods;
  t.notOk(
    edited.some((p) => pods.some((q) => q.name === p.name)),
    'a new template: new Pods, as a rollout makes',
  );
});

t.test('ReplicaSet and DaemonSet: <name>-<5>; a DaemonSet has one Pod (one node) and controller-revision-hash', async (t) => {
  const rs = expandWorkload(workload('ReplicaSet', `  replicas: 2\n${TEMPLATE()}`, 'rs'), none).pods;
  t.equal(rs.length, 2);
  for (const p of rs) {
    t.match(p.name, /^rs-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    t.same(p.labels, { app: 'web' });
  }
  const w = workload('DaemonSet', TEMPLATE(), 'agent');
  const ds = expandWorkload(w, none).pods;
  t.equal(ds.length, 1);
  t.match(ds[0]?.name, /^agent-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  t.same(ds[0]?.labels, { app: 'web', 'controller-revision-hash': encodeHash(w.templateHash) });
});

t.test('StatefulSet: <name>-<ordinal> from spec.ordinals.start, hostname and subdomain, its labels', async (t) => {
  const w = workload('StatefulSet', `  replicas: 2\n  serviceName: nginx\n  ordinals: {start: 3}\n${TEMPLATE()}`);
  const { pods } = expandWorkload(w, none);
  t.same(
    pods.map((p) => p.name),
    ['web-3', 'web-4'],
  );
  t.same(
    pods.map((p) => [p.hostname, p.subdomain]),
    [
      ['web-3', 'nginx'],
      ['web-4', 'nginx'],
    ],
  );
  t.same(pods[1]?.labels, {
    app: 'web',
    'controller-revision-hash': `web-${encodeHash(w.templateHash)}`,
    'statefulset.kubernetes.io/pod-name': 'web-4',
    'apps.kubernetes.io/pod-index': '4',
  });
  const plain = expandWorkload(workload('Deployment', TEMPLATE('      hostname: box\n      subdomain: grp\n')), none).pods[0];
  t.same([plain?.hostname, plain?.subdomain], ['box', 'grp'], 'other kinds keep the template hostname and subdomain');
});

t.test('readiness: the template probe; without one, a connect to the first TCP port, every 2 s; no TCP port: ready', async (t) => {
  const probed = expandWorkload(workload('Deployment', TEMPLATE('          readinessProbe: {httpGet: {port: http, path: /ready}}\n')), none).pods[0];
  t.match(probed, { implicitProbe: false, probes: [{ kind: 'httpGet', port: { port: 8080, name: 'http' }, path: '/ready', periodSeconds: 10 }] });
  const implicit = expandWorkload(workload('Deployment', TEMPLATE('', '[{containerPort: 53, protocol: UDP}, {name: http, containerPort: 8080}]')), none)
    .pods[0];
  t.same(implicit?.probes, [{ container: 'app', kind: 'tcpSocket', port: { port: 8080, name: 'http' }, host: '', ...IMPLICIT_PROBE_TIMING }]);
  t.equal(implicit?.implicitProbe, true);
  const portless = expandWorkload(workload('Deployment', TEMPLATE('', '[]')), none).pods[0];
  t.same([portless?.probes, portless?.implicitProbe], [[], false]);
});

t.test('terminationGracePeriodSeconds is kept, up to the cap', async (t) => {
  t.equal(expandWorkload(workload('Deployment', TEMPLATE('      terminationGracePeriodSeconds: 3\n')), none).pods[0]?.gracePeriodSeconds, 3);
  t.equal(
    expandWorkload(workload('Deployment', TEMPLATE('      terminationGracePeriodSeconds: 86400\n')), none).pods[0]?.gracePeriodSeconds,
    MAX_GRACE_SECONDS,
  );
});

function binding(over: Partial<WorkloadBindingSpec>): WorkloadBindingSpec {
  return {
    kind: 'WorkloadBinding',
    namespace: 'default',
    name: 'local',
    source: { file: 'b.yaml', doc: 0 },
    workload: { kind: 'Deployment', name: 'web' },
    addresses: [],
    dnsName: '',
    dnsPort: 0,
    ports: {},
    ...over,
  };
}

t.test('a binding with addresses: one Pod per address; the port given stands for the first TCP port; ports map others, probes follow', async (t) => {
  const w = workload('Deployment', `  replicas: 5\n${TEMPLATE('          readinessProbe: {tcpSocket: {port: metrics}}\n')}`);
  const b = binding({
    addresses: [
      { host: '127.0.0.1', port: 3000 },
      { host: '127.0.0.2', port: 0 },
    ],
    ports: { metrics: 9200 },
  });
  const { pods } = expandWorkload(w, { binding: b, resolved: new Map() });
  t.equal(pods.length, 2, 'the addresses, not the replicas');
  t.same(
    pods.map((p) => p.address),
    ['127.0.0.1', '127.0.0.2'],
  );
  t.same(
    pods[0]?.ports.map((p) => [p.name, p.port, p.servedPort]),
    [
      ['http', 8080, 3000],
      ['metrics', 9100, 9200],
    ],
  );
  t.same(
    pods[1]?.ports.map((p) => [p.name, p.port, p.servedPort]),
    [
      ['http', 8080, 8080],
      ['metrics', 9100, 9200],
    ],
  );
  t.match(pods[0]?.probes, [{ kind: 'tcpSocket', port: { port: 9200, name: 'metrics' } }], 'the probe goes where the port is served');
  t.same(pods[0]?.owner, { kind: 'Deployment', name: 'web', binding: 'local' });
  const implicit = expandWorkload(workload('Deployment', TEMPLATE()), { binding: b, resolved: new Map() }).pods[0];
  t.match(implicit?.probes, [{ kind: 'tcpSocket', port: { port: 3000 } }], 'the implicit probe too');
});

t.test('a binding with a DNS name: one Pod per resolved address; none until it resolves; capped', async (t) => {
  const w = workload('StatefulSet', `  serviceName: db\n${TEMPLATE()}`);
  const b = binding({ workload: { kind: 'StatefulSet', name: 'web' }, dnsName: 'app', dnsPort: 3000 });
  const pending = expandWorkload(w, { binding: b, resolved: new Map() });
  t.same(pending.pods, []);
  t.match(pending.notes, [{ level: 'info', msg: /app is not resolved yet/ }]);
  const three = expandWorkload(w, { binding: b, resolved: new Map([['app', ['172.20.0.2', '172.20.0.3', '172.20.0.4']]]) }).pods;
  t.same(
    three.map((p) => [p.name, p.address, p.ports[0]?.servedPort]),
    [
      ['web-0', '172.20.0.2', 3000],
      ['web-1', '172.20.0.3', 3000],
      ['web-2', '172.20.0.4', 3000],
    ],
  );
  const empty = expandWorkload(w, { binding: b, resolved: new Map([['app', []]]) });
  t.same(empty.pods, []);
  t.match(empty.notes, [{ level: 'warn', msg: /resolves to no address/ }]);
  const many = Array.from({ length: MAX_RESOLVED_PODS + 6 }, (_, i) => `10.1.0.${i + 1}`);
  const capped = expandWorkload(w, { binding: b, resolved: new Map([['app', many]]) });
  t.equal(capped.pods.length, MAX_RESOLVED_PODS);
  t.match(capped.notes, [{ level: 'warn', msg: new RegExp(`the first ${MAX_RESOLVED_PODS} are used`) }]);
});

t.test('Deployment Pods of a DNS name are named from their address: one address going away does not rename the others', async (t) => {
  const w = workload('Deployment', TEMPLATE());
  const b = binding({ dnsName: 'app' });
  const before = expandWorkload(w, { binding: b, resolved: new Map([['app', ['10.0.0.1', '10.0.0.2', '10.0.0.3']]]) }).pods;
  const after = expandWorkload(w, { binding: b, resolved: new Map([['app', ['10.0.0.1', '10.0.0.3']]]) }).pods;
  t.same(
    after.map((p) => p.name),
    [before[0]?.name, before[2]?.name],
  );
  for (const p of before) t.match(p.name.split('-').at(-1), ALPHABET);
});
