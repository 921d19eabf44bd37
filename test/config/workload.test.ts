import t from 'tap';
import { MAX_WORKLOAD_PODS, podTotalIssues, validateWorkload } from '../../src/config/workload.js';
import { IssueSink } from '../../src/config/fields.js';
import { validateYaml } from '../helpers/config.js';

/** A workload of `kind` with the given spec lines (indented under spec). */
function workload(kind: string, spec: string, name = 'web'): string {
  return `apiVersion: apps/v1\nkind: ${kind}\nmetadata: {name: ${name}}\nspec:\n${spec}`;
}

const TEMPLATE = `  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          ports: [{name: http, containerPort: 8080}]
`;
const SELECTOR = '  selector: {matchLabels: {app: web}}\n';

const cases: ReadonlyArray<{ name: string; yaml: string; issues: string[] }> = [
  { name: 'a Deployment with a selector and a template is valid', yaml: workload('Deployment', `  replicas: 3\n${SELECTOR}${TEMPLATE}`), issues: [] },
  {
    name: 'the template is validated as a Pod, each problem with the workload path',
    yaml: workload(
      'Deployment',
      `${SELECTOR}  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          ports: [{name: http, containerPort: 8080}, {name: HTTP_2, containerPort: 8081}]
          readinessProbe: {httpGet: {port: health}}
        - {name: app}
      hostname: Not_A_Label
`,
    ),
    issues: [
      't.yaml[0] Deployment default/web: spec.template.spec.containers[0].ports[1].name: Invalid value: "HTTP_2": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
      't.yaml[0] Deployment default/web: spec.template.spec.containers[0].readinessProbe.httpGet.port: Not found: "health": the container declares no port with this name',
      't.yaml[0] Deployment default/web: spec.template.spec.containers[1].name: Duplicate value: "app"',
      't.yaml[0] Deployment default/web: spec.template.spec.hostname: Invalid value: "Not_A_Label": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \'-\', and must start and end with an alphanumeric character',
    ],
  },
  {
    name: 'a template without containers',
    yaml: workload('StatefulSet', `${SELECTOR}  template: {metadata: {labels: {app: web}}}\n`),
    issues: ['t.yaml[0] StatefulSet default/web: spec.template.spec.containers: Required value'],
  },
  {
    name: 'the selector is required, and must not be empty',
    yaml: `${workload('Deployment', TEMPLATE)}---\n${workload('ReplicaSet', `  selector: {}\n${TEMPLATE}`, 'rs')}`,
    issues: [
      't.yaml[0] Deployment default/web: spec.selector: Required value',
      't.yaml[1] ReplicaSet default/rs: spec.selector: Invalid value: {}: empty selector is invalid for replicaset',
    ],
  },
  {
    name: "the selector must match the template's labels, as the API server requires",
    yaml: workload('Deployment', `  selector: {matchLabels: {app: other}}\n${TEMPLATE}`),
    issues: ['t.yaml[0] Deployment default/web: spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`'],
  },
  {
    name: 'matchExpressions: operators and values checked, and matched against the labels',
    yaml:
      workload(
        'Deployment',
        `  selector:\n    matchExpressions: [{key: app, operator: In, values: [web, api]}, {key: tier, operator: DoesNotExist}]\n${TEMPLATE}`,
      ) +
      '---\n' +
      workload(
        'Deployment',
        `  selector:\n    matchExpressions: [{key: app, operator: Near, values: [web]}, {key: app, operator: In}, {key: app, operator: Exists, values: [x]}]\n${TEMPLATE}`,
        'bad',
      ) +
      '---\n' +
      workload('Deployment', `  selector:\n    matchExpressions: [{key: app, operator: NotIn, values: [web]}]\n${TEMPLATE}`, 'miss'),
    issues: [
      't.yaml[1] Deployment default/bad: spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator',
      "t.yaml[1] Deployment default/bad: spec.selector.matchExpressions[1].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
      "t.yaml[1] Deployment default/bad: spec.selector.matchExpressions[2].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
      't.yaml[2] Deployment default/miss: spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`',
    ],
  },
  {
    name: 'replicas: not negative, not beyond the cap (no 100,000 probes)',
    yaml: `${workload('Deployment', `  replicas: -1\n${SELECTOR}${TEMPLATE}`)}---\n${workload('Deployment', `  replicas: 100000\n${SELECTOR}${TEMPLATE}`, 'huge')}`,
    issues: [
      't.yaml[0] Deployment default/web: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      `t.yaml[1] Deployment default/huge: spec.replicas: Invalid value: 100000: svcproxy makes at most ${MAX_WORKLOAD_PODS} Pods from workloads (each gets an address and a readiness probe); lower it, or bind the workload to processes already running with a WorkloadBinding`,
    ],
  },
  {
    name: 'replicas is strictly an integer (the OpenAPI table), and DaemonSets have none',
    yaml: `${workload('Deployment', `  replicas: three\n${SELECTOR}${TEMPLATE}`)}---\n${workload('DaemonSet', `  replicas: 2\n${SELECTOR}${TEMPLATE}`, 'ds')}`,
    issues: [
      't.yaml[0] Deployment default/web: spec.replicas: Invalid value: "three": must be an integer',
      't.yaml[1] DaemonSet default/ds: unknown field "spec.replicas"',
    ],
  },
  {
    name: 'StatefulSet: serviceName a DNS label, ordinals.start not negative',
    yaml: workload('StatefulSet', `  serviceName: Web_Svc\n  ordinals: {start: -2}\n${SELECTOR}${TEMPLATE}`),
    issues: [
      't.yaml[0] StatefulSet default/web: spec.serviceName: Invalid value: "Web_Svc": a DNS-1035 label must consist of lower case alphanumeric characters or \'-\', start with an alphabetic character, and end with an alphanumeric character',
      't.yaml[0] StatefulSet default/web: spec.ordinals.start: Invalid value: -2: must be greater than or equal to 0',
    ],
  },
  {
    name: 'terminationGracePeriodSeconds: 0 or more',
    yaml: workload('Deployment', `${SELECTOR}${TEMPLATE}      terminationGracePeriodSeconds: -5\n`),
    issues: ['t.yaml[0] Deployment default/web: spec.template.spec.terminationGracePeriodSeconds: Invalid value: -5: must be greater than or equal to 0'],
  },
  {
    name: 'an unknown field deep in a template: strict, with a suggestion',
    yaml: workload('Deployment', `${SELECTOR}${TEMPLATE}          readinesProbe: {tcpSocket: {port: 8080}}\n`),
    issues: ['t.yaml[0] Deployment default/web: unknown field "spec.template.spec.containers[0].readinesProbe"; did you mean "readinessProbe"?'],
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.same(validateYaml(c.yaml).issues, c.issues);
  });
}

t.test('what the workloads room gets: replicas, selector, template, hash, StatefulSet fields', async (t) => {
  const { snapshot, issues } = validateYaml(
    `${workload('StatefulSet', `  replicas: 2\n  serviceName: nginx\n  ordinals: {start: 3}\n${SELECTOR}${TEMPLATE}      terminationGracePeriodSeconds: 5\n`)}---\n` +
      workload('Deployment', `${SELECTOR}${TEMPLATE}`, 'd'),
  );
  t.same(issues, []);
  const [sts, deploy] = snapshot.workloads;
  t.match(sts, {
    kind: 'StatefulSet',
    replicas: 2,
    serviceName: 'nginx',
    ordinalStart: 3,
    selector: { matchLabels: { app: 'web' } },
    template: { labels: { app: 'web' }, gracePeriodSeconds: 5 },
  });
  t.match(deploy, {
    replicas: 1,
    serviceName: '',
    ordinalStart: 0,
    template: { gracePeriodSeconds: 30, ports: [{ name: 'http', port: 8080, servedPort: 8080 }] },
  });
  t.ok(Number.isInteger(sts?.templateHash) && (sts?.templateHash ?? -1) >= 0, 'a 32-bit hash');
});

t.test('the template hash ignores key order and follows every change', async (t) => {
  const hash = (spec: string): number | undefined => validateYaml(workload('Deployment', spec)).snapshot.workloads[0]?.templateHash;
  const a = hash(`${SELECTOR}${TEMPLATE}`);
  const reordered = hash(
    `${SELECTOR}  template:\n    spec:\n      containers:\n        - ports: [{containerPort: 8080, name: http}]\n          name: app\n    metadata: {labels: {app: web}}\n`,
  );
  t.equal(reordered, a, 'same template, other key order');
  t.not(hash(`${SELECTOR}${TEMPLATE}          image: app:2\n`), a, 'an edit is a new template');
  t.equal(hash(`  replicas: 5\n${SELECTOR}${TEMPLATE}`), a, 'replicas are not part of the template');
});

t.test('the total of Pods from workloads is capped over the whole config; a binding counts its addresses instead', async (t) => {
  const half = Math.ceil(MAX_WORKLOAD_PODS / 2) + 1;
  const yaml = `${workload('Deployment', `  replicas: ${half}\n${SELECTOR}${TEMPLATE}`, 'a')}---\n${workload('Deployment', `  replicas: ${half}\n${SELECTOR}${TEMPLATE}`, 'b')}`;
  t.same(validateYaml(yaml).issues, [
    `t.yaml[1] Deployment default/b: spec.replicas: with this workload the config makes ${half * 2} or more Pods from workloads; svcproxy makes at most ${MAX_WORKLOAD_PODS} (each gets an address and a readiness probe)`,
  ]);
  const bound = `${yaml}---\napiVersion: svcproxy.dev/v1alpha1\nkind: WorkloadBinding\nmetadata: {name: b}\nspec: {workload: {kind: Deployment, name: b}, addresses: [127.0.0.1:3000]}\n`;
  t.same(validateYaml(bound).issues, [], "b's Pods are its binding's one address");
  const ds = validateYaml(workload('DaemonSet', `${SELECTOR}${TEMPLATE}`)).snapshot.workloads;
  t.same(
    podTotalIssues(
      Array.from({ length: MAX_WORKLOAD_PODS + 1 }, () => ds[0]).filter((w) => w !== undefined),
      [],
    ).map((i) => i.path),
    [''],
    'a DaemonSet has no replicas to point at',
  );
});

t.test('validateWorkload: a spec that is not a mapping', async (t) => {
  const sink = new IssueSink({ file: 'f', doc: 0 }, '');
  t.equal(validateWorkload('Deployment', { metadata: { name: 'x' }, spec: 'nope' }, { file: 'f', doc: 0 }, sink), undefined);
  t.match(
    sink.issues.map((i) => `${i.path}: ${i.message}`),
    ['spec: Invalid value: "nope": must be a mapping', 'spec.selector: Required value', 'spec.template.spec.containers: Required value'],
  );
});

t.test('a named targetPort is checked against the Pod templates of the workloads a Service selects', async (t) => {
  const svc = (targetPort: string): string =>
    `apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: ${targetPort}}]\n---\n`;
  t.same(validateYaml(svc('http') + workload('Deployment', `${SELECTOR}${TEMPLATE}`)).notes, [], 'the template declares http');
  t.match(validateYaml(svc('grpc') + workload('Deployment', `${SELECTOR}${TEMPLATE}`)).notes, [
    /^warn t\.yaml\[0\] Service default\/web: spec\.ports\[0\]\.targetPort: no Pod or Pod template this Service selects defines a TCP container port named "grpc"/,
  ]);
  t.same(
    validateYaml(svc('grpc') + workload('Deployment', `  replicas: 0\n${SELECTOR}${TEMPLATE}`)).notes,
    [],
    'no replicas, no Pod: the endpoints say so, not this check',
  );
});

t.test('Jobs, CronJobs and bare Pod templates are accepted, make no Pods, and are counted as not read', async (t) => {
  const { issues, snapshot, ignored } = validateYaml(
    'apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\nspec: {template: {spec: {containers: [{name: m}], restartPolicy: Never}}}\n---\n' +
      'apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec: {schedule: "0 3 * * *", jobTemplate: {spec: {template: {spec: {containers: [{name: n}]}}}}}\n---\n' +
      'apiVersion: v1\nkind: PodTemplate\nmetadata: {name: base}\ntemplate: {metadata: {labels: {app: web}}, spec: {containers: [{name: c}]}}\n',
  );
  t.same(issues, []);
  t.same(snapshot.workloads, []);
  t.same(snapshot.pods, []);
  t.same(ignored, { 'batch/v1 Job': 1, 'batch/v1 CronJob': 1, 'v1 PodTemplate': 1 });
});
