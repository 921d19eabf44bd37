import t from 'tap';
import { splitHostPort } from '../../src/config/workload-binding.js';
import { validateYaml } from '../helpers/config.js';

function binding(spec: string, name = 'local'): string {
  return `apiVersion: svcproxy.dev/v1alpha1\nkind: WorkloadBinding\nmetadata: {name: ${name}}\nspec:\n${spec}`;
}

const DEPLOY = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          ports: [{name: http, containerPort: 8080}, {name: metrics, containerPort: 9100}]
---
`;

const cases: ReadonlyArray<{ name: string; yaml: string; issues: string[] }> = [
  {
    name: 'addresses, each one Pod',
    yaml: DEPLOY + binding('  workload: {kind: Deployment, name: web}\n  addresses: [127.0.0.1:3000, "[::1]:3001", localhost]\n'),
    issues: [],
  },
  {
    name: 'a DNS name and ports by name and number',
    yaml: DEPLOY + binding('  workload: {kind: Deployment, name: web}\n  dnsName: web:8080\n  ports: {metrics: 9200, 8080: 8081}\n'),
    issues: [],
  },
  {
    name: 'strict fields, with a suggestion',
    yaml: DEPLOY + binding('  workload: {kind: Deployment, name: web}\n  adresses: [127.0.0.1:3000]\n'),
    issues: [
      't.yaml[1] WorkloadBinding default/local: unknown field "spec.adresses"; did you mean "addresses"?',
      't.yaml[1] WorkloadBinding default/local: spec.addresses: Required value: one of spec.addresses (one Pod each) or spec.dnsName (one Pod per address it resolves to)',
    ],
  },
  {
    name: 'the workload reference: a kind svcproxy makes Pods of, and a name',
    yaml: binding('  workload: {kind: Job, name: Web}\n  addresses: [127.0.0.1]\n') + '\n---\n' + binding('  addresses: [127.0.0.1]\n', 'b'),
    issues: [
      't.yaml[0] WorkloadBinding default/local: spec.workload.kind: Unsupported value: "Job": supported values: "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController"',
      "t.yaml[0] WorkloadBinding default/local: spec.workload.name: Invalid value: \"Web\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
      't.yaml[1] WorkloadBinding default/b: spec.workload: Required value: the workload (kind and name, in this namespace) whose Pods this binding places',
    ],
  },
  {
    name: 'addresses and dnsName are one or the other',
    yaml: DEPLOY + binding('  workload: {kind: Deployment, name: web}\n  addresses: [127.0.0.1:3000]\n  dnsName: web\n'),
    issues: ['t.yaml[1] WorkloadBinding default/local: spec.dnsName: Forbidden: may not be given with spec.addresses; a binding places its Pods one way'],
  },
  {
    name: 'bad addresses: not host:port, a port out of range, a duplicate, an empty list',
    yaml:
      DEPLOY +
      binding(
        '  workload: {kind: Deployment, name: web}\n  addresses: ["127.0.0.1:99999", "a b", "[127.0.0.1]:80", 127.0.0.1:3000, 127.0.0.1:3000, 42, ":80"]\n',
      ) +
      '\n---\n' +
      binding('  workload: {kind: Deployment, name: web}\n  addresses: []\n', 'empty'),
    issues: [
      't.yaml[1] WorkloadBinding default/local: spec.addresses[0]: Invalid value: "127.0.0.1:99999": the port must be a number from 1 to 65535',
      't.yaml[1] WorkloadBinding default/local: spec.addresses[1]: Invalid value: "a b": the host must be an IP address or a DNS name, such as 127.0.0.1 or app',
      't.yaml[1] WorkloadBinding default/local: spec.addresses[2]: Invalid value: "[127.0.0.1]:80": brackets hold an IPv6 address, as in [::1]:3000',
      't.yaml[1] WorkloadBinding default/local: spec.addresses[4]: Duplicate value: "127.0.0.1:3000": each address is one Pod',
      't.yaml[1] WorkloadBinding default/local: spec.addresses[5]: Invalid value: 42: must be a string such as 127.0.0.1:3000',
      't.yaml[1] WorkloadBinding default/local: spec.addresses[6]: Invalid value: ":80": must be HOST or HOST:PORT, such as 127.0.0.1:3000 or app:8080',
      't.yaml[2] WorkloadBinding default/empty: spec.addresses: Required value: at least one address (each is one Pod)',
    ],
  },
  {
    name: 'dnsName is a name, not an address',
    yaml: DEPLOY + binding('  workload: {kind: Deployment, name: web}\n  dnsName: 10.0.0.1:80\n'),
    issues: [
      't.yaml[1] WorkloadBinding default/local: spec.dnsName: Invalid value: "10.0.0.1:80": an IP address is not a name to resolve; list it in spec.addresses',
    ],
  },
  {
    name: 'ports: keys name a container port the template declares; values are ports',
    yaml: DEPLOY + binding('  workload: {kind: Deployment, name: web}\n  addresses: [127.0.0.1]\n  ports: {grpc: 9000, 7000: 7001, http: 0, Bad_Name: 1}\n'),
    issues: [
      't.yaml[1] WorkloadBinding default/local: spec.ports[http]: Invalid value: 0: must be a port number from 1 to 65535',
      't.yaml[1] WorkloadBinding default/local: spec.ports[Bad_Name]: Invalid value: "Bad_Name": must name a container port: its name, or its number from 1 to 65535',
    ],
  },
  {
    name: 'ports that the template does not declare are found out against it',
    yaml: DEPLOY + binding('  workload: {kind: Deployment, name: web}\n  addresses: [127.0.0.1]\n  ports: {grpc: 9000, 7000: 7001}\n'),
    issues: [
      't.yaml[1] WorkloadBinding default/local: spec.ports[7000]: Not found: "7000": the Pod template of Deployment default/web declares no container port with this number',
      't.yaml[1] WorkloadBinding default/local: spec.ports[grpc]: Not found: "grpc": the Pod template of Deployment default/web declares no container port with this name',
    ],
  },
  {
    name: 'a port with an address stands for the first TCP container port: the template must declare one',
    yaml:
      DEPLOY.replace('ports: [{name: http, containerPort: 8080}, {name: metrics, containerPort: 9100}]', 'ports: [{containerPort: 53, protocol: UDP}]') +
      binding('  workload: {kind: Deployment, name: web}\n  addresses: [127.0.0.1:3000]\n') +
      '\n---\n' +
      binding('  workload: {kind: Deployment, name: web}\n  dnsName: app:53\n', 'dns'),
    issues: [
      't.yaml[1] WorkloadBinding default/local: spec.addresses[0]: the port stands for the first TCP container port of Deployment default/web, and its Pod template declares none; give the address without a port, or map ports in spec.ports',
      't.yaml[2] WorkloadBinding default/dns: spec.workload: Duplicate value: Deployment default/web is already bound by WorkloadBinding default/local at t.yaml[1]',
    ],
  },
  {
    name: 'a binding without spec',
    yaml: 'apiVersion: svcproxy.dev/v1alpha1\nkind: WorkloadBinding\nmetadata: {name: x}\n',
    issues: ['t.yaml[0] WorkloadBinding default/x: spec: Required value'],
  },
  {
    name: 'a misspelt or lowercase kind of the own group is named',
    yaml: 'apiVersion: svcproxy.dev/v1alpha1\nkind: workloadbinding\nmetadata: {name: x}\n',
    issues: ['t.yaml[0] workloadbinding x: kind: Invalid value: "workloadbinding": kinds are case-sensitive; did you mean "WorkloadBinding"?'],
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.same(validateYaml(c.yaml).issues, c.issues);
  });
}

t.test('a binding whose workload is not in the config is a warning, not an error', async (t) => {
  const { issues, notes, snapshot } = validateYaml(binding('  workload: {kind: StatefulSet, name: db}\n  dnsName: db:5432\n'));
  t.same(issues, []);
  t.same(notes, ['warn t.yaml[0] WorkloadBinding default/local: binds StatefulSet default/db, which the config does not declare; it places no Pod']);
  t.match(snapshot.bindings, [{ workload: { kind: 'StatefulSet', name: 'db' }, dnsName: 'db', dnsPort: 5432, addresses: [], ports: {} }]);
});

t.test('splitHostPort', async (t) => {
  t.same(splitHostPort('127.0.0.1:3000'), { host: '127.0.0.1', port: 3000 });
  t.same(splitHostPort('app'), { host: 'app', port: 0 });
  t.same(splitHostPort('::1'), { host: '::1', port: 0 }, 'an IPv6 address without brackets has no port');
  t.same(splitHostPort('[::1]:8080'), { host: '::1', port: 8080 });
  t.same(splitHostPort('[::1]'), { host: '::1', port: 0 });
  t.type(splitHostPort('app:x'), 'string');
  t.type(splitHostPort('app:0'), 'string');
});
