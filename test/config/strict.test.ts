/**
 * svcproxy accepts what a cluster accepts and refuses what it refuses, the
 * way `kubectl apply` (strict validation, YAML 1.1) decides it.
 */
import t from 'tap';
import { KINDS, withKubernetesTypes } from '../../src/config/kinds.js';
import { checkFields } from '../../src/config/schema.js';
import { validateYaml } from '../helpers/config.js';

const SVC = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n';
const DEPLOY = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: registry.example/app:1
          ports:
            - {name: http, containerPort: 8080}
            - {name: admin, containerPort: 9090}
`;

// Each case: a manifest and the exact problem lines it must produce ([] = accepted).
const cases: ReadonlyArray<{ name: string; yaml: string; issues: string[] }> = [
  {
    name: 'an unknown field at the top of spec, with the field it most likely meant',
    yaml: `${SVC}spec:\n  selectr: {app: web}\n  ports: [{port: 80}]\n`,
    issues: ['t.yaml[0] Service default/web: unknown field "spec.selectr"; did you mean "selector"?'],
  },
  {
    name: 'an unknown field inside a list item: the wrong case is named',
    yaml: `${SVC}spec:\n  ports:\n    - {port: 80, targetport: 8080}\n`,
    issues: ['t.yaml[0] Service default/web: unknown field "spec.ports[0].targetport"; did you mean "targetPort"?'],
  },
  {
    name: 'an unknown field deep in a Deployment template',
    yaml: DEPLOY.replace('{name: admin, containerPort: 9090}', '{nmae: admin, containerPort: 9090}'),
    issues: ['t.yaml[0] Deployment default/web: unknown field "spec.template.spec.containers[0].ports[1].nmae"; did you mean "name"?'],
  },
  {
    name: 'an unknown field in metadata and one with no near name, both reported',
    yaml: `${SVC}  lables: {app: web}\nspec:\n  ports: [{port: 80}]\n  frobnicate: true\n`,
    issues: [
      't.yaml[0] Service default/web: unknown field "metadata.lables"; did you mean "labels"?',
      't.yaml[0] Service default/web: unknown field "spec.frobnicate"',
    ],
  },
  {
    name: 'an unknown field in an EndpointSlice endpoint and in a Pod probe',
    yaml:
      'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\n' +
      'endpoints:\n  - addresses: [127.0.0.1]\n    condition: {ready: true}\n---\n' +
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      readinessProbe: {tcpSocket: {port: 80}, periodSecond: 5}\n',
    issues: [
      't.yaml[0] EndpointSlice default/s: unknown field "endpoints[0].condition"; did you mean "conditions"?',
      't.yaml[1] Pod default/p: unknown field "spec.containers[0].readinessProbe.periodSecond"; did you mean "periodSeconds"?',
    ],
  },
  {
    name: 'YAML 1.1 booleans are booleans, as kubectl reads them (yes, on, No)',
    yaml: `${SVC}spec:\n  publishNotReadyAddresses: yes\n  ports: [{port: 80}]\n---\n${DEPLOY.replace('replicas: 2', 'replicas: 2\n  paused: off').replace('image:', 'tty: on\n          image:')}`,
    issues: [],
  },
  {
    name: 'a YAML 1.1 boolean where a string belongs is refused, as the API server refuses it',
    yaml: DEPLOY.replace('image: registry.example/app:1', 'image: registry.example/app:1\n          env: [{name: DEBUG, value: yes}]'),
    issues: ['t.yaml[0] Deployment default/web: spec.template.spec.containers[0].env[0].value: Invalid value: true: must be a string'],
  },
  {
    name: 'a string where an integer belongs, in a field svcproxy does not read',
    yaml: DEPLOY.replace('replicas: 2', 'replicas: "2"'),
    issues: ['t.yaml[0] Deployment default/web: spec.replicas: Invalid value: "2": must be an integer'],
  },
  {
    name: "a wrong type svcproxy reads is reported once, in the validator's words",
    yaml: `${SVC}spec:\n  ports: [{port: "80"}]\n`,
    issues: ['t.yaml[0] Service default/web: spec.ports[0].port: Invalid value: "80": must be between 1 and 65535, inclusive'],
  },
  {
    name: 'a lowercase kind is named as such',
    yaml: 'apiVersion: v1\nkind: service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n',
    issues: ['t.yaml[0] service web: kind: Invalid value: "service": kinds are case-sensitive; did you mean "Service"?'],
  },
  {
    name: 'a misspelt kind of a group svcproxy reads is named',
    yaml: 'apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: web}\n',
    issues: ['t.yaml[0] Deploymnet web: kind: Invalid value: "Deploymnet": no kind "Deploymnet" in apps/v1; did you mean "Deployment"?'],
  },
  {
    name: 'a missing apiVersion is named, whatever the kind',
    yaml: 'kind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n---\nkind: ConfigMap\nmetadata: {name: c}\n',
    issues: [
      't.yaml[0] Service web: apiVersion: Required value: every object names its API group and version (for example `apiVersion: v1` or `apps/v1`)',
      't.yaml[1] ConfigMap c: apiVersion: Required value: every object names its API group and version (for example `apiVersion: v1` or `apps/v1`)',
    ],
  },
  {
    name: 'a workload under a retired apiVersion is refused',
    yaml: DEPLOY.replace('apps/v1', 'extensions/v1beta1'),
    issues: ['t.yaml[0] Deployment web: apiVersion: Unsupported value: "extensions/v1beta1": supported values: "apps/v1"'],
  },
  {
    name: 'an unrendered Helm template is named, with the expression',
    yaml: `${SVC.replace('name: web', 'name: {{ .Values.name }}')}spec:\n  ports: [{port: 80}]\n`,
    issues: [
      't.yaml: could not be parsed: unrendered Helm template "{{ .Values.name }}" at line 4: this is a chart template, not a manifest; render it first (helm template …) and give svcproxy the output',
    ],
  },
  {
    name: 'a Helm control line is named too',
    yaml: `{{- if .Values.enabled }}\n${SVC}spec:\n  ports: [{port: 80}]\n{{- end }}\n`,
    issues: [
      't.yaml: could not be parsed: unrendered Helm template "{{- if .Values.enabled }}" at line 1: this is a chart template, not a manifest; render it first (helm template …) and give svcproxy the output',
    ],
  },
  {
    name: 'template text inside quoted and block strings is data, not a template (alert rules, Argo)',
    yaml: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  summary: "{{ $labels.instance }} is down"\n  tmpl: |\n    {{ range .Items }}\n    {{ end }}\n',
    issues: [],
  },
  {
    name: "kinds svcproxy does not read are accepted without a look, CRDs and other groups' Services included",
    yaml:
      'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {whatever: 1, anything: [goes]}\n---\n' +
      'apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {schedule: "* * * * *", unknownField: 1}\n---\n' +
      'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: k}\nspec: {template: {spec: {containers: [{image: x}]}}}\n---\n' +
      'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules: []\n---\n' +
      'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec: {group: example.com}\n---\n' +
      'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n',
    issues: [],
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.same(validateYaml(c.yaml).issues, c.issues);
  });
}

t.test('YAML 1.1 values resolve as yaml.v2 resolves them', async (t) => {
  const { issues, snapshot } = validateYaml(
    `${SVC}  annotations:\n    date: 2024-01-01\n    clock: 1:30\n    quoted: "yes"\nspec:\n  publishNotReadyAddresses: On\n  ports:\n    - {name: a, port: 0o17}\n    - {name: b, port: 0777}\n    - {name: c, port: 0x1F}\n    - {name: d, port: 1_000}\n`,
  );
  t.same(issues, []);
  const svc = snapshot.services[0];
  t.equal(svc?.publishNotReadyAddresses, true);
  t.same(
    svc?.ports.map((p) => p.port),
    [15, 511, 31, 1000],
    '0o17 = 15, 0777 = 511 (octal), 0x1F = 31, 1_000 = 1000',
  );
  t.same(svc?.annotations, { date: '2024-01-01', clock: '1:30', quoted: 'yes' }, 'timestamps and base-60 stay strings; quoted yes is a string');
});

t.test('duplicate keys: the last value wins, as kubectl has it, with a warning naming the line', async (t) => {
  const { issues, notes, snapshot } = validateYaml(`${SVC}spec:\n  ports: [{port: 80}]\n  ports: [{port: 81}]\n`);
  t.same(issues, []);
  t.same(
    snapshot.services[0]?.ports.map((p) => p.port),
    [81],
  );
  t.same(
    notes.filter((n) => n.includes('duplicate key')),
    ['warn t.yaml[0] : duplicate key at line 7, column 3: the last value is used, as kubectl does (kustomize refuses the file)'],
  );
});

t.test('keys that YAML 1.1 reads as the same boolean are duplicates too (y and on)', async (t) => {
  const { notes } = validateYaml('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  y: a\n  on: b\n');
  t.match(notes, [/duplicate key at line 6/]);
});

t.test('workloads are read with their identity, replicas and template, for the workloads room', async (t) => {
  const { issues, snapshot, ignored } = validateYaml(
    `${DEPLOY}---\n${DEPLOY.replace('Deployment', 'StatefulSet').replace('replicas: 2', 'serviceName: web')}---\n` +
      'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: ops}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}}\n---\n' +
      'apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}}\n',
  );
  t.same(issues, []);
  t.same(
    snapshot.workloads.map((w) => `${w.kind} ${w.namespace}/${w.name}`),
    ['Deployment default/web', 'StatefulSet default/web', 'DaemonSet ops/agent', 'ReplicaSet default/rs'],
  );
  t.match(snapshot.workloads[0], {
    replicas: 2,
    template: {
      labels: { app: 'web' },
      ports: [
        { name: 'http', port: 8080 },
        { name: 'admin', port: 9090 },
      ],
    },
  });
  t.same(
    snapshot.workloads.map((w) => w.replicas),
    [2, 1, 1, 1],
    'replicas default to 1; a DaemonSet has one Pod',
  );
  t.same(ignored, {});
});

t.test('two workloads of one kind with one name are refused; of two kinds they may share it', async (t) => {
  const { issues } = validateYaml(`${DEPLOY}---\n${DEPLOY}---\n${DEPLOY.replace('Deployment', 'StatefulSet')}`);
  t.same(issues, ['t.yaml[1] Deployment default/web: metadata.name: Duplicate value: "web": Deployment default/web is already defined at t.yaml[0]']);
});

t.test('an object that is not a mapping, a kind that is not a string', async (t) => {
  t.same(validateYaml('- a\n- b\n').issues, ['t.yaml[0]: must be a Kubernetes object (a mapping with apiVersion and kind)']);
  t.same(validateYaml('apiVersion: v1\nkind: [Service]\n').issues, ['t.yaml[0]: kind: Invalid value: ["Service"]: must be a string']);
  t.same(validateYaml('apiVersion: 1\nkind: Service\n').issues, ['t.yaml[0] Service: apiVersion: Invalid value: 1: must be a string']);
});

t.test("svcproxy's own kinds get the same strict checks through the registry's tables", async (t) => {
  const types = withKubernetesTypes({
    Mapping: { apiVersion: 'string', kind: 'string', metadata: 'V1ObjectMeta', spec: 'MappingSpec' },
    MappingSpec: { workload: 'string', addresses: '[]string' },
  });
  const own = {
    apiVersion: 'svcproxy.dev/v1alpha1',
    kind: 'Mapping',
    metadata: { name: 'm', lables: {} },
    spec: { workload: 'web', adresses: ['127.0.0.1:3000'] },
  };
  t.same(
    checkFields(own, 'Mapping', types).map((p) => p.message),
    ['unknown field "metadata.lables"; did you mean "labels"?', 'unknown field "spec.adresses"; did you mean "addresses"?'],
  );
  t.ok(
    KINDS.every((k) => k.types[k.rootType] !== undefined),
    'every registered kind has its root type',
  );
});

t.test(
  'a Fault (svcproxy.dev/v1alpha1) goes through the registry: its metadata checked by the table, its spec by its own validator, each unknown field named once',
  async (t) => {
    const { issues } = validateYaml(
      'apiVersion: svcproxy.dev/v1alpha1\nkind: Fault\nmetadata: {name: f, lables: {}}\nspec:\n  target: {service: web}\n  toxics: [{type: latency, attributes: {latency: 10}}]\n  after2: 1s\n',
    );
    t.same(issues, [
      't.yaml[0] Fault default/f: unknown field "metadata.lables"; did you mean "labels"?',
      't.yaml[0] Fault default/f: spec.after2: unknown field "spec.after2"',
    ]);
  },
);
