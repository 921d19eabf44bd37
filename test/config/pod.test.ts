import t from 'tap';
import { validateYaml } from '../helpers/config.js';

const pod = (body: string, name = 'web-1', meta = ''): string => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n${meta}${body}`;

const cases: ReadonlyArray<{ name: string; yaml: string; issues: string[] }> = [
  {
    name: 'a minimal Pod is valid',
    yaml: pod('spec:\n  containers:\n    - name: app\n      ports: [{name: http, containerPort: 8080}]\n'),
    issues: [],
  },
  {
    name: 'containers are required',
    yaml: pod('spec: {}\n'),
    issues: ['t.yaml[0] Pod default/web-1: spec.containers: Required value'],
  },
  {
    name: 'container names are required and unique',
    yaml: pod('spec:\n  containers:\n    - {name: app}\n    - {name: app}\n    - {image: x}\n'),
    issues: [
      't.yaml[0] Pod default/web-1: spec.containers[1].name: Duplicate value: "app"',
      't.yaml[0] Pod default/web-1: spec.containers[2].name: Required value',
    ],
  },
  {
    name: 'container ports: number required and in range, names IANA_SVC_NAME and unique per container',
    yaml: pod('spec:\n  containers:\n    - name: app\n      ports: [{name: http}, {name: http, containerPort: 70000}, {name: HTTP, containerPort: 1}]\n'),
    issues: [
      't.yaml[0] Pod default/web-1: spec.containers[0].ports[0].containerPort: Required value',
      't.yaml[0] Pod default/web-1: spec.containers[0].ports[1].name: Duplicate value: "http"',
      't.yaml[0] Pod default/web-1: spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
      't.yaml[0] Pod default/web-1: spec.containers[0].ports[2].name: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
    ],
  },
  {
    name: 'a probe on a port name the container does not declare is an error with its path',
    yaml: pod(
      'spec:\n  containers:\n    - name: app\n      ports: [{name: http, containerPort: 8080}]\n      readinessProbe:\n        tcpSocket: {port: health}\n',
    ),
    issues: [
      't.yaml[0] Pod default/web-1: spec.containers[0].readinessProbe.tcpSocket.port: Not found: "health": the container declares no port with this name',
    ],
  },
  {
    name: 'a probe names its port in its own container, not another one',
    yaml: pod(
      'spec:\n  containers:\n    - name: a\n      ports: [{name: health, containerPort: 9000}]\n    - name: b\n      readinessProbe:\n        httpGet: {port: health}\n',
    ),
    issues: ['t.yaml[0] Pod default/web-1: spec.containers[1].readinessProbe.httpGet.port: Not found: "health": the container declares no port with this name'],
  },
  {
    name: 'a probe needs exactly one handler',
    yaml: pod(
      'spec:\n  containers:\n    - name: a\n      readinessProbe: {periodSeconds: 5}\n    - name: b\n      readinessProbe: {tcpSocket: {port: 1}, exec: {command: [true]}}\n',
    ),
    issues: [
      't.yaml[0] Pod default/web-1: spec.containers[0].readinessProbe: Required value: must specify a handler type',
      't.yaml[0] Pod default/web-1: spec.containers[1].readinessProbe.exec: Forbidden: may not specify more than 1 handler type',
    ],
  },
  {
    name: 'a grpc probe needs a port number (the kubelet takes no port names there)',
    yaml: pod(
      'spec:\n  containers:\n    - name: a\n      ports: [{name: grpc, containerPort: 9090}]\n      readinessProbe: {grpc: {port: grpc}}\n    - name: b\n      readinessProbe: {grpc: {service: x}}\n',
    ),
    issues: [
      't.yaml[0] Pod default/web-1: spec.containers[0].readinessProbe.grpc.port: Invalid value: "grpc": must be between 1 and 65535, inclusive',
      't.yaml[0] Pod default/web-1: spec.containers[1].readinessProbe.grpc.port: Required value',
    ],
  },
  {
    name: 'probe timing must be positive; scheme HTTP or HTTPS',
    yaml: pod('spec:\n  containers:\n    - name: a\n      readinessProbe: {httpGet: {port: 80, scheme: FTP}, periodSeconds: 0, initialDelaySeconds: -1}\n'),
    issues: [
      't.yaml[0] Pod default/web-1: spec.containers[0].readinessProbe.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0',
      't.yaml[0] Pod default/web-1: spec.containers[0].readinessProbe.periodSeconds: Invalid value: 0: must be greater than or equal to 1',
      't.yaml[0] Pod default/web-1: spec.containers[0].readinessProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"',
    ],
  },
  {
    name: 'two Pods with the same namespace/name are an error',
    yaml: pod('spec: {containers: [{name: a}]}\n') + '---\n' + pod('spec: {containers: [{name: b}]}\n'),
    issues: ['t.yaml[1] Pod default/web-1: metadata.name: Duplicate value: "web-1": Pod default/web-1 is already defined at t.yaml[0]'],
  },
  {
    name: 'status.podIP must be an IP; the address annotation an IP or a host name',
    yaml:
      pod('spec: {containers: [{name: a}]}\nstatus: {podIP: nope}\n', 'a') +
      '---\n' +
      pod('spec: {containers: [{name: a}]}\n', 'b', '  annotations: {svcproxy.dev/address: "not a host"}\n'),
    issues: [
      't.yaml[0] Pod default/a: status.podIP: Invalid value: "nope": must be a valid IP address',
      't.yaml[1] Pod default/b: metadata.annotations[svcproxy.dev/address]: Invalid value: "not a host": must be an IP address or a DNS host name',
    ],
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.same(validateYaml(c.yaml).issues, c.issues);
  });
}

t.test('the address: status.podIP, else podIPs[0], else the annotation, else 127.0.0.1', async (t) => {
  const { snapshot, issues } = validateYaml(
    [
      pod(
        'spec: {containers: [{name: a}]}\nstatus: {podIP: 127.0.0.5, podIPs: [{ip: 127.0.0.5}]}\n',
        'a',
        '  annotations: {svcproxy.dev/address: app.local}\n',
      ),
      pod('spec: {containers: [{name: a}]}\nstatus: {podIPs: [{ip: "::1"}]}\n', 'b'),
      pod('spec: {containers: [{name: a}]}\n', 'c', '  annotations: {svcproxy.dev/address: app.local}\n'),
      pod('spec: {containers: [{name: a}]}\n', 'd'),
    ].join('---\n'),
  );
  t.same(issues, []);
  t.same(
    snapshot.pods.map((p) => p.address),
    ['127.0.0.5', '::1', 'app.local', '127.0.0.1'],
  );
});

t.test('probe defaults are Kubernetes defaults; named probe ports resolve in their container', async (t) => {
  const { snapshot, issues } = validateYaml(
    pod(
      'spec:\n  containers:\n    - name: app\n      ports: [{name: http, containerPort: 8080}]\n      readinessProbe:\n        httpGet: {port: http, path: healthz}\n',
    ),
  );
  t.same(issues, []);
  t.same(snapshot.pods[0]?.probes, [
    {
      container: 'app',
      kind: 'httpGet',
      port: { port: 8080, name: 'http' },
      host: '',
      path: '/healthz',
      scheme: 'HTTP',
      headers: [],
      initialDelaySeconds: 0,
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    },
  ]);
});

t.test('deletionTimestamp marks a Pod terminating; Succeeded/Failed Pods are finished', async (t) => {
  const { snapshot } = validateYaml(
    pod('spec: {containers: [{name: a}]}\n', 'a', '  deletionTimestamp: "2026-11-24T10:00:00Z"\n') +
      '---\n' +
      pod('spec: {containers: [{name: a}]}\nstatus: {phase: Failed}\n', 'b'),
  );
  t.same(
    snapshot.pods.map((p) => [p.terminating, p.finished]),
    [
      [true, false],
      [false, true],
    ],
  );
});
