import t from 'tap';
import { formatIssue } from '../../src/config/types.js';
import { desiredState } from '../../src/state/desired.js';
import { findPort, selects } from '../../src/state/pod-endpoints.js';
import { validateYaml } from '../helpers/config.js';

const env = { bindAddress: '127.0.0.1', isLocalAddress: () => true, reserved: [] };

function pod(name: string, labels: string, ports: string, extra = ''): string {
  return `---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  labels: {${labels}}\n${extra}spec:\n  containers:\n    - name: app\n      ports: [${ports}]\n`;
}

function run(yaml: string) {
  const { snapshot, issues } = validateYaml(yaml);
  if (issues.length > 0) throw new Error(issues.join('\n'));
  const result = desiredState(snapshot, env);
  return {
    endpoints: [...result.state.servicePorts.values()].map((p) =>
      p.endpoints.map((e) => `${e.host}:${e.port} ${e.pod}${e.ready ? ' ready' : ''}${e.serving ? ' serving' : ''}${e.terminating ? ' terminating' : ''}`),
    ),
    notes: result.notes.map((n) => `${n.level} ${n.object}: ${n.msg}`),
    issues: result.issues.map(formatIssue),
    probes: [...result.state.probes.values()],
  };
}

const service = (ports: string, selector = 'app: web', extra = ''): string =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {${selector}}\n${extra}  ports: [${ports}]\n`;

t.test('a named targetPort resolves per Pod to its own container port', async (t) => {
  const r = run(
    service('{port: 80, targetPort: http}') +
      pod('a', 'app: web', '{name: http, containerPort: 8080}', '').replace('spec:', 'status: {podIP: 127.0.0.2}\nspec:') +
      pod('b', 'app: web', '{name: http, containerPort: 9090}').replace('spec:', 'status: {podIP: 127.0.0.3}\nspec:'),
  );
  t.same(r.endpoints, [['127.0.0.2:8080 default/a ready serving', '127.0.0.3:9090 default/b ready serving']]);
});

t.test('a numeric targetPort is used as is; the selector needs every pair; other namespaces do not count', async (t) => {
  const r = run(
    service('{port: 80, targetPort: 7000}', 'app: web, tier: front') +
      pod('a', 'app: web, tier: front, extra: x', '') +
      pod('b', 'app: web', '') +
      pod('c', 'app: web, tier: front', '', '  namespace: other\n'),
  );
  t.same(r.endpoints, [['127.0.0.1:7000 default/a ready serving']]);
});

t.test('a named port with another protocol does not match; the Pod is left out with a debug line', async (t) => {
  const r = run(service('{port: 53, targetPort: dns}') + pod('a', 'app: web', '{name: dns, containerPort: 5353, protocol: UDP}'));
  t.same(r.endpoints, [[]]);
  t.match(r.notes, ['debug Pod default/a: Pod has no TCP container port named "dns"; left out of Service port 53']);
});

t.test('the first container port with the name wins, across containers', async (t) => {
  const yaml =
    service('{port: 80, targetPort: http}') +
    '---\napiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {app: web}}\nspec:\n  containers:\n    - name: one\n      ports: [{name: http, containerPort: 1111}]\n    - name: two\n      ports: [{name: http, containerPort: 2222}]\n';
  t.same(run(yaml).endpoints, [['127.0.0.1:1111 default/a ready serving']]);
});

t.test('terminating Pods are not ready but serving and terminating; finished Pods are left out', async (t) => {
  const r = run(
    service('{port: 80, targetPort: 8080}') +
      pod('a', 'app: web', '', '  deletionTimestamp: "2026-11-24T00:00:00Z"\n') +
      pod('b', 'app: web', '').replace('spec:', 'status: {phase: Succeeded}\nspec:'),
  );
  t.same(r.endpoints, [['127.0.0.1:8080 default/a serving terminating']]);
});

t.test('publishNotReadyAddresses makes even terminating Pods ready', async (t) => {
  const r = run(
    service('{port: 80, targetPort: 8080}', 'app: web', '  publishNotReadyAddresses: true\n') +
      pod('a', 'app: web', '', '  deletionTimestamp: "2026-11-24T00:00:00Z"\n'),
  );
  t.same(r.endpoints, [['127.0.0.1:8080 default/a ready serving terminating']]);
});

t.test('probed Pods start not ready and get a probe plan naming their Services', async (t) => {
  const r = run(
    service('{port: 80, targetPort: 8080}') +
      pod('a', 'app: web', '{name: http, containerPort: 8080}').replace(
        'ports: [{name: http, containerPort: 8080}]',
        'ports: [{name: http, containerPort: 8080}]\n      readinessProbe: {tcpSocket: {port: http}}',
      ),
  );
  t.same(r.endpoints, [['127.0.0.1:8080 default/a']]);
  t.match(r.probes, [{ pod: 'default/a', address: '127.0.0.1', services: ['default/web'], probes: [{ kind: 'tcpSocket', port: { port: 8080 } }] }]);
});

t.test('an exec probe of a container without ports: a warning, and the Pod counts as ready', async (t) => {
  const r = run(
    service('{port: 80, targetPort: 8080}') +
      pod('a', 'app: web', '').replace('      ports: []', '      ports: []\n      readinessProbe: {exec: {command: ["true"]}}'),
  );
  t.same(r.endpoints, [['127.0.0.1:8080 default/a ready serving']]);
  t.same(r.probes, []);
  t.match(r.notes, [
    'warn Pod default/a: container app: an exec readiness probe cannot run here and the container declares no port to connect to instead; it counts as ready',
  ]);
});

t.test("an exec probe connects to the container's first TCP port instead, with a warning", async (t) => {
  const probe = '      readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 2}';
  const r = run(
    service('{port: 80, targetPort: 8080}') +
      pod('a', 'app: web', '{name: metrics, containerPort: 9000, protocol: UDP}, {name: http, containerPort: 8080}').replace(
        /(      ports: .*)\n/,
        `$1\n${probe}\n`,
      ),
  );
  t.same(r.endpoints, [['127.0.0.1:8080 default/a']], 'probed, so not ready until the first success');
  t.match(r.probes, [
    { pod: 'default/a', probes: [{ kind: 'exec', command: ['cat', '/tmp/ready'], fallbackPort: { port: 8080, name: 'http' }, periodSeconds: 2 }] },
  ]);
  t.match(r.notes, ['warn Pod default/a: container app: an exec readiness probe cannot run here; svcproxy connects to its port http (8080) instead']);
});

t.test('a grpc probe is planned with its port and service, without a warning', async (t) => {
  const probe = '      readinessProbe: {grpc: {port: 9090, service: reviews}}';
  const r = run(service('{port: 80, targetPort: 9090}') + pod('a', 'app: web', '{containerPort: 9090}').replace(/(      ports: .*)\n/, `$1\n${probe}\n`));
  t.match(r.probes, [{ pod: 'default/a', probes: [{ kind: 'grpc', port: 9090, service: 'reviews', timeoutSeconds: 1, periodSeconds: 10 }] }]);
  t.same(r.notes, []);
});

t.test('a selector that matches nothing: no endpoints and one warning', async (t) => {
  const r = run(service('{name: a, port: 80}, {name: b, port: 81}', 'app: nothing'));
  t.same(r.endpoints, [[], []]);
  t.same(r.notes, ['warn Service default/web: selector app=nothing matches no Pod; the Service has no endpoints']);
});

t.test('selects and findPort', async (t) => {
  t.ok(selects({}, { a: 'b' }));
  t.notOk(selects({ a: 'b' }, {}));
  t.equal(
    findPort(
      {
        kind: 'Pod',
        namespace: 'd',
        name: 'p',
        source: { file: 'f', doc: 0 },
        labels: {},
        address: '',
        terminating: false,
        finished: false,
        hostname: '',
        subdomain: '',
        ports: [],
        probes: [],
        owner: undefined,
        gracePeriodSeconds: 30,
        implicitProbe: false,
      },
      { name: '', protocol: 'TCP', port: 80, targetPort: { kind: 'name', name: 'http' }, nodePort: 0 },
    ),
    undefined,
  );
});
