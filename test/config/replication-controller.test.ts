/**
 * v1 ReplicationController, read as the API server reads it (issue 23,
 * point 10): a selector that is a plain map, defaulted to the template's
 * labels; Pods named and labelled as its controller makes them.
 */
import t from 'tap';
import { expandWorkload } from '../../src/workloads/expand.js';
import { validateYaml } from '../helpers/config.js';

const rc = (spec: string): string => `apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
${spec}`;
const TEMPLATE = `  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]
`;

t.test('a selector map is read as matchLabels; left out, it is the template labels', async (t) => {
  const given = validateYaml(rc(`  replicas: 2\n  selector: {app: web}\n${TEMPLATE}`));
  t.same(given.issues, []);
  t.match(given.snapshot.workloads, [
    { kind: 'ReplicationController', name: 'web', replicas: 2, selector: { matchLabels: { app: 'web' }, matchExpressions: [] } },
  ]);
  const defaulted = validateYaml(rc(TEMPLATE));
  t.same(defaulted.issues, []);
  t.match(defaulted.snapshot.workloads, [{ replicas: 1, selector: { matchLabels: { app: 'web', tier: 'front' } } }]);
});

t.test('what the API server refuses is refused, with its words', async (t) => {
  t.same(validateYaml(rc(`  selector: {app: other}\n${TEMPLATE}`)).issues, [
    't.yaml[0] ReplicationController default/web: spec.template.metadata.labels: Invalid value: {"app":"web","tier":"front"}: `selector` does not match template `labels`',
  ]);
  t.same(validateYaml(rc('  replicas: 1\n')).issues, [
    't.yaml[0] ReplicationController default/web: spec.template: Required value',
    't.yaml[0] ReplicationController default/web: spec.template.spec.containers: Required value',
  ]);
  t.same(validateYaml(rc('  template:\n    spec:\n      containers: [{name: app}]\n')).issues, [
    't.yaml[0] ReplicationController default/web: spec.selector: Required value: a ReplicationController selects its Pods by labels: give spec.selector or spec.template.metadata.labels',
  ]);
  t.match(validateYaml(rc(`  selector: {matchLabels: {app: web}}\n${TEMPLATE}`)).issues, [
    /spec\.selector\[matchLabels\]: Invalid value: \{"app":"web"\}: must be a string/,
  ]);
  t.same(validateYaml(rc(`  selectr: {app: web}\n${TEMPLATE}`)).issues, [
    't.yaml[0] ReplicationController default/web: unknown field "spec.selectr"; did you mean "selector"?',
  ]);
  t.same(validateYaml(rc(TEMPLATE).replace('apiVersion: v1', 'apiVersion: apps/v1')).issues, [
    't.yaml[0] ReplicationController web: apiVersion: Unsupported value: "apps/v1": supported values: "v1"',
  ]);
});

t.test('its Pods are named <name>-<5> and carry the template labels only, as a ReplicaSet', async (t) => {
  const [workload] = validateYaml(rc(`  replicas: 3\n${TEMPLATE}`)).snapshot.workloads;
  if (workload === undefined) throw new Error('no workload');
  const { pods } = expandWorkload(workload, { binding: undefined, resolved: new Map() });
  t.equal(pods.length, 3);
  t.equal(new Set(pods.map((p) => p.name)).size, 3);
  for (const pod of pods) {
    t.match(pod.name, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    t.same(pod.labels, { app: 'web', tier: 'front' });
    t.same(pod.owner, { kind: 'ReplicationController', name: 'web', binding: '' });
  }
});
