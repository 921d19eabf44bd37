/**
 * Every problem of a broken manifest points at its place: the line and
 * column of the object and of the field (issue 23, point 4).
 */
import { join } from 'node:path';
import t from 'tap';
import { formatIssueAt, withObjectPositions } from '../../src/config/issue-format.js';
import type { ConfigIssue } from '../../src/config/types.js';
import { validateSources } from '../../src/config/validate-sources.js';
import { configDir, runCli } from '../helpers/process.js';

const FILE = `# a comment line
apiVersion: v1
kind: Service
metadata:
  name: details
spec:
  selector: {app: details}
  ports:
    - port: 9080
      nmae: http
---
apiVersion: v1
kind: Service
metadata:
  name: reviews
  labels:
    "app.kubernetes.io/name": "not ok!"
spec:
  ports:
    - {name: http, port: 9080}
    - name: http
      port: 70000
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: "2"
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: app:1
          ports:
            - {name: http, containerPort: 8080, protocl: TCP}
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata:
      name: list-one
    spec:
      ports: [{port: 80}]
  - apiVersion: v1
    kind: Service
    metadata:
      name: list-two
    spec:
      type: Nodeport
      ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata:
  name: details
spec:
  ports:
    - port: 9080
`;

type Where = [object: string, path: string, objectAt: string, fieldAt: string | undefined];

function located(issue: ConfigIssue): Where {
  const pos = (p: ConfigIssue['at']): string | undefined => (p === undefined ? undefined : `${p.line}:${p.col}`);
  const field = /^unknown field "([^"]+)"/.exec(issue.message)?.[1] ?? issue.path;
  return [issue.object, field, pos(issue.at) ?? '-', pos(issue.fieldAt)];
}

t.test('every problem of a multi-document file carries the line and column of its object and its field', async (t) => {
  const { issues } = validateSources([{ file: 'bookinfo.yaml', text: FILE }]);
  t.same(issues.map(located), [
    ['Service default/details', 'spec.ports[0].nmae', '2:1', '10:7'],
    ['Service default/reviews', 'metadata.labels[app.kubernetes.io/name]', '12:1', '17:5'],
    ['Service default/reviews', 'spec.ports[1].port', '12:1', '22:7'],
    ['Deployment default/web', 'spec.template.spec.containers[0].ports[0].protocl', '24:1', '40:49'],
    ['Deployment default/web', 'spec.replicas', '24:1', '29:3'],
    ['Service default/list-two', 'spec.type', '51:5', '56:7'],
    ['Service default/details', 'metadata.name', '59:1', '62:3'],
  ]);
  const all = issues.map(formatIssueAt);
  t.equal(
    all[0],
    'bookinfo.yaml[0] Service default/details: unknown field "spec.ports[0].nmae"; did you mean "name"? (at bookinfo.yaml:10:7, in the object at bookinfo.yaml:2:1)',
  );
  t.match(
    all[6],
    /^bookinfo\.yaml\[4\] Service default\/details: metadata\.name: Duplicate value: .* \(at bookinfo\.yaml:62:3, in the object at bookinfo\.yaml:59:1\)$/,
  );
});

t.test('a missing field points at the mapping it belongs in', async (t) => {
  const text = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n';
  const [issue] = validateSources([{ file: 'w.yaml', text }]).issues;
  t.equal(issue?.path, 'spec.ports');
  t.equal(
    issue === undefined ? '' : formatIssueAt(issue),
    'w.yaml[0] Service default/web: spec.ports: Required value (at w.yaml:5:1, in the object at w.yaml:1:1)',
  );
});

t.test('a YAML syntax error carries its line and column; a problem with no object stays as it was', async (t) => {
  const text = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {a: b\nspec: {}\n';
  const [issue] = validateSources([{ file: 's.yaml', text }]).issues;
  const [, line, col] = /at line (\d+), column (\d+)/.exec(issue?.message ?? '') ?? [];
  t.equal(line, '6', 'the message names the line where the unclosed flow map was due to end');
  t.same(issue?.at, { file: 's.yaml', line: Number(line), col: Number(col) });
  t.match(
    issue === undefined ? '' : formatIssueAt(issue),
    new RegExp(`^s\\.yaml\\[0\\]: YAML syntax error at line 6, column ${col}: .* \\(at s\\.yaml:6:${col}\\)$`),
  );
  const plain: ConfigIssue = { where: 'x.yaml', object: '', path: '', message: 'the file is empty' };
  t.equal(formatIssueAt(plain), 'x.yaml: the file is empty');
});

t.test('a problem found when the objects are planned (two Services on one address and port) carries its object position', async (t) => {
  const text = `apiVersion: v1
kind: Service
metadata: {name: a}
spec: {clusterIP: 127.0.0.10, ports: [{port: 8080}]}
---
# b takes a's address and port
apiVersion: v1
kind: Service
metadata: {name: b}
spec: {clusterIP: 127.0.0.10, ports: [{port: 8080}]}
`;
  const validated = validateSources([{ file: 'p.yaml', text }]);
  t.same(validated.issues, []);
  t.same(validated.objectsAt, { 'p.yaml[0]': { file: 'p.yaml', line: 1, col: 1 }, 'p.yaml[1]': { file: 'p.yaml', line: 7, col: 1 } });
  const conflict: ConfigIssue = { where: 'p.yaml[1]', object: 'Service default/b', path: 'spec.ports[0]', message: 'Duplicate value: …' };
  t.equal(
    formatIssueAt(withObjectPositions([conflict], validated.objectsAt)[0] ?? conflict),
    'p.yaml[1] Service default/b: spec.ports[0]: Duplicate value: … (at p.yaml:7:1)',
  );
});

t.test('--check: the planning problem ends with its object position', async (t) => {
  const dir = await configDir(t, {
    'p.yaml':
      'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {clusterIP: 127.0.0.10, ports: [{port: 8080}]}\n---\n# b\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {clusterIP: 127.0.0.10, ports: [{port: 8080}]}\n',
  });
  const run = await runCli(['--check', '--config', dir]);
  t.equal(run.code, 1);
  const file = join(dir, 'p.yaml');
  t.match(run.stderr, `${file}[1] Service default/b: spec.ports[0]: Duplicate value: "127.0.0.10:8080/TCP"`);
  t.match(run.stderr, `(clusterIP 127.0.0.10:8080/TCP) (at ${file}:7:1)\n`);
});
