import t from 'tap';
import { desiredState } from '../../src/state/desired.js';
import { validateYaml } from '../helpers/config.js';

const env = { bindAddress: '127.0.0.1', isLocalAddress: () => true, reserved: [] };

const base = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080, targetPort: 80}, {name: dns, port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web, track: canary}}
spec: {containers: [{name: a}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, labels: {app: web}}
spec: {containers: [{name: a}]}
`;

function plans(target: string): { plans: ReturnType<typeof desiredState>['state']['faults']; notes: string[] } {
  const yaml = `${base}---\napiVersion: svcproxy.dev/v1alpha1\nkind: Fault\nmetadata: {name: f}\nspec:\n  target: ${target}\n  toxics: [{type: latency}]\n`;
  const { snapshot, issues } = validateYaml(yaml);
  if (issues.length > 0) throw new Error(issues.join('\n'));
  const result = desiredState(snapshot, env);
  return { plans: result.state.faults, notes: result.notes.filter((n) => n.object.startsWith('Fault')).map((n) => n.msg) };
}

t.test('a Service target takes its TCP ports only', async (t) => {
  const { plans: p } = plans('{service: web}');
  t.same([...(p[0]?.servicePorts ?? [])], ['default/web:http']);
  t.equal(p[0]?.pods, undefined);
  t.equal(p[0]?.target, 'Service default/web');
});

t.test('a port by name or number', async (t) => {
  t.same([...(plans('{service: web, port: http}').plans[0]?.servicePorts ?? [])], ['default/web:http']);
  t.same([...(plans('{service: web, port: 8080}').plans[0]?.servicePorts ?? [])], ['default/web:http']);
  const none = plans('{service: web, port: 9999}');
  t.same([...(none.plans[0]?.servicePorts ?? [])], []);
  t.match(none.notes, [/targets no TCP Service port now/]);
});

t.test('a Pod or a selector: the Pods resolved now, on every Service port that sends to them', async (t) => {
  const pod = plans('{pod: web-1}').plans[0];
  t.same([...(pod?.pods ?? [])], ['default/web-1']);
  t.same([...(pod?.servicePorts ?? [])], ['default/web:http']);
  t.same([...(plans('{podSelector: {matchLabels: {track: canary}}}').plans[0]?.pods ?? [])], ['default/web-1']);
  t.match(plans('{pod: ghost}').notes, [/no Pod default\/ghost is declared/, /targets no TCP Service port/]);
  t.match(plans('{podSelector: {matchLabels: {track: none}}}').notes, [/matches no Pod/, /targets no TCP Service port/]);
  const ep = plans('{endpoint: "127.0.0.1:80"}').plans[0];
  t.same([...(ep?.endpoints ?? [])], ['127.0.0.1:80']);
  t.same([...(ep?.servicePorts ?? [])], ['default/web:http']);
});
