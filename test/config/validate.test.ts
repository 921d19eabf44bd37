import t from 'tap';
import { service, validateYaml } from '../helpers/config.js';

// Each case: a manifest and the exact issues it must produce ([] = valid).
const cases: ReadonlyArray<{ name: string; yaml: string; issues: string[] }> = [
  {
    name: 'a minimal Service is valid',
    yaml: service('  ports:\n    - port: 80\n'),
    issues: [],
  },
  {
    name: 'ports are required unless headless or ExternalName',
    yaml: service('  selector: {app: web}\n'),
    issues: ['t.yaml[0] Service default/web: spec.ports: Required value'],
  },
  {
    name: 'port names are required when a Service has more than one port',
    yaml: service('  ports:\n    - {name: http, port: 80}\n    - {port: 81}\n'),
    issues: ['t.yaml[0] Service default/web: spec.ports[1].name: Required value: must be set when a Service has more than one port'],
  },
  {
    name: 'port names must be unique',
    yaml: service('  ports:\n    - {name: http, port: 80}\n    - {name: http, port: 81}\n'),
    issues: ['t.yaml[0] Service default/web: spec.ports[1].name: Duplicate value: "http"'],
  },
  {
    name: 'port names must be DNS labels',
    yaml: service('  ports:\n    - {name: Http_1, port: 80}\n'),
    issues: [
      `t.yaml[0] Service default/web: spec.ports[0].name: Invalid value: "Http_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`,
    ],
  },
  {
    name: 'port and protocol pairs must be unique, TCP and UDP on one port may coexist',
    yaml: service('  ports:\n    - {name: a, port: 53}\n    - {name: b, port: 53, protocol: UDP}\n    - {name: c, port: 53, protocol: TCP}\n'),
    issues: ['t.yaml[0] Service default/web: spec.ports[2]: Duplicate value: "53/TCP": port and protocol must be unique within a Service'],
  },
  {
    name: 'port is required and in range',
    yaml: service('  ports:\n    - {name: a}\n    - {name: b, port: 0}\n    - {name: c, port: 65536}\n    - {name: d, port: "80"}\n'),
    issues: [
      't.yaml[0] Service default/web: spec.ports[0].port: Required value',
      't.yaml[0] Service default/web: spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      't.yaml[0] Service default/web: spec.ports[2].port: Invalid value: 65536: must be between 1 and 65535, inclusive',
      't.yaml[0] Service default/web: spec.ports[3].port: Invalid value: "80": must be between 1 and 65535, inclusive',
    ],
  },
  {
    name: 'protocol must be TCP, UDP or SCTP',
    yaml: service('  ports:\n    - {port: 80, protocol: HTTP}\n'),
    issues: ['t.yaml[0] Service default/web: spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "TCP", "UDP", "SCTP"'],
  },
  {
    name: 'targetPort names follow IANA_SVC_NAME',
    yaml: service(
      '  ports:\n' +
        '    - {name: a, port: 1, targetPort: http-web-svc}\n' +
        '    - {name: b, port: 2, targetPort: Http}\n' +
        '    - {name: c, port: 3, targetPort: a--b}\n' +
        '    - {name: d, port: 4, targetPort: -a}\n' +
        '    - {name: e, port: 5, targetPort: "1234"}\n' +
        '    - {name: f, port: 6, targetPort: abcdefghijklmnop}\n' +
        '    - {name: g, port: 7, targetPort: 70000}\n',
    ),
    issues: [
      't.yaml[0] Service default/web: spec.ports[1].targetPort: Invalid value: "Http": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
      't.yaml[0] Service default/web: spec.ports[2].targetPort: Invalid value: "a--b": must not contain consecutive hyphens',
      't.yaml[0] Service default/web: spec.ports[3].targetPort: Invalid value: "-a": must not begin or end with a hyphen',
      't.yaml[0] Service default/web: spec.ports[4].targetPort: Invalid value: "1234": must contain at least one letter (a-z)',
      't.yaml[0] Service default/web: spec.ports[5].targetPort: Invalid value: "abcdefghijklmnop": must be no more than 15 characters',
      't.yaml[0] Service default/web: spec.ports[6].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    ],
  },
  {
    name: 'nodePort is forbidden on ClusterIP',
    yaml: service('  ports:\n    - {port: 80, nodePort: 30080}\n'),
    issues: ["t.yaml[0] Service default/web: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
  },
  {
    name: 'nodePort must be in 30000-32767',
    yaml: service('  type: NodePort\n  ports:\n    - {port: 80, nodePort: 8081}\n'),
    issues: [
      't.yaml[0] Service default/web: spec.ports[0].nodePort: Invalid value: 8081: provided port is not in the valid range. The range of valid ports is 30000-32767',
    ],
  },
  {
    name: 'nodePorts must be unique per protocol',
    yaml: service('  type: NodePort\n  ports:\n    - {name: a, port: 80, nodePort: 30001}\n    - {name: b, port: 81, nodePort: 30001}\n'),
    issues: ['t.yaml[0] Service default/web: spec.ports[1].nodePort: Duplicate value: 30001'],
  },
  {
    name: 'sessionAffinityConfig is only valid with ClientIP',
    yaml: service('  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n  ports:\n    - port: 80\n'),
    issues: [
      't.yaml[0] Service default/web: spec.sessionAffinityConfig: Invalid value: {"clientIP":{"timeoutSeconds":60}}: must not be set when session affinity is None',
    ],
  },
  {
    name: 'affinity timeout must be in 1-86400',
    yaml:
      service('  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}\n  ports:\n    - port: 80\n') +
      '\n---\n' +
      service('  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 86401}}\n  ports:\n    - port: 80\n', 'b') +
      '\n---\n' +
      service('  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 86400}}\n  ports:\n    - port: 80\n', 'c'),
    issues: [
      't.yaml[0] Service default/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400',
      't.yaml[1] Service default/b: spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400',
    ],
  },
  {
    name: 'sessionAffinity must be None or ClientIP',
    yaml: service('  sessionAffinity: Cookie\n  ports:\n    - port: 80\n'),
    issues: ['t.yaml[0] Service default/web: spec.sessionAffinity: Unsupported value: "Cookie": supported values: "ClientIP", "None"'],
  },
  {
    name: 'type must be one of the four',
    yaml: service('  type: Ingress\n  ports:\n    - port: 80\n'),
    issues: [
      't.yaml[0] Service default/web: spec.type: Unsupported value: "Ingress": supported values: "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"',
    ],
  },
  {
    name: 'Service names are RFC 1035 labels',
    yaml: service('  ports:\n    - port: 80\n', '1web'),
    issues: [
      `t.yaml[0] Service default/1web: metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character`,
    ],
  },
  {
    name: 'metadata.name is required',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata: {}\nspec:\n  ports: [{port: 80}]\n',
    issues: ['t.yaml[0] Service default/<unnamed>: metadata.name: Required value: name or generateName is required'],
  },
  {
    name: 'clusterIP must be an IP, None or empty',
    yaml: service('  clusterIP: 10.0.0.300\n  ports:\n    - port: 80\n'),
    issues: ['t.yaml[0] Service default/web: spec.clusterIP: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'],
  },
  {
    name: 'NodePort Services may not be headless',
    yaml: service('  type: NodePort\n  clusterIP: None\n  ports:\n    - port: 80\n'),
    issues: ['t.yaml[0] Service default/web: spec.clusterIP: Invalid value: "None": may not be set to \'None\' for NodePort services'],
  },
  {
    name: 'headless Services need no ports',
    yaml: service('  clusterIP: None\n  selector: {app: web}\n'),
    issues: [],
  },
  {
    name: 'ExternalName needs a DNS name and no clusterIP',
    yaml: service('  type: ExternalName\n  clusterIP: 10.0.0.1\n'),
    issues: [
      't.yaml[0] Service default/web: spec.clusterIP: Forbidden: may not be set for ExternalName services',
      't.yaml[0] Service default/web: spec.externalName: Required value',
    ],
  },
  {
    name: 'an ExternalName with a trailing dot is valid',
    yaml: service('  type: ExternalName\n  externalName: db.example.com.\n'),
    issues: [],
  },
  {
    name: 'loadBalancerSourceRanges only with LoadBalancer',
    yaml: service('  loadBalancerSourceRanges: [10.0.0.0/8]\n  ports:\n    - port: 80\n'),
    issues: ["t.yaml[0] Service default/web: spec.loadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"],
  },
  {
    name: 'externalTrafficPolicy only on externally accessible Services',
    yaml: service('  externalTrafficPolicy: Local\n  ports:\n    - port: 80\n'),
    issues: ['t.yaml[0] Service default/web: spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services'],
  },
  {
    name: 'internalTrafficPolicy must be Cluster or Local',
    yaml: service('  internalTrafficPolicy: Node\n  ports:\n    - port: 80\n'),
    issues: ['t.yaml[0] Service default/web: spec.internalTrafficPolicy: Unsupported value: "Node": supported values: "Cluster", "Local"'],
  },
  {
    name: 'externalIPs must be IPs (loopback accepted locally)',
    yaml: service('  externalIPs: [127.0.0.5, not-an-ip]\n  ports:\n    - port: 80\n'),
    issues: ['t.yaml[0] Service default/web: spec.externalIPs[1]: Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'],
  },
  {
    name: 'selector labels are checked',
    yaml: service('  selector: {"bad key!": x}\n  ports:\n    - port: 80\n'),
    issues: [
      `t.yaml[0] Service default/web: spec.selector[bad key!]: Invalid value: "bad key!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)`,
    ],
  },
  {
    name: 'every problem of an object is reported at once',
    yaml: service('  type: NodePort\n  ports:\n    - {port: 0, protocol: XTP, nodePort: 1}\n'),
    issues: [
      't.yaml[0] Service default/web: spec.ports[0].protocol: Unsupported value: "XTP": supported values: "TCP", "UDP", "SCTP"',
      't.yaml[0] Service default/web: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      't.yaml[0] Service default/web: spec.ports[0].nodePort: Invalid value: 1: provided port is not in the valid range. The range of valid ports is 30000-32767',
    ],
  },
  {
    name: 'namespaces are DNS labels',
    yaml: service('  ports:\n    - port: 80\n', 'web', '  namespace: Prod\n'),
    issues: [
      `t.yaml[0] Service Prod/web: metadata.namespace: Invalid value: "Prod": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`,
    ],
  },
  {
    name: 'a wrong apiVersion for a known kind is refused',
    yaml: 'apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: x}\naddressType: IPv4\n',
    issues: ['t.yaml[0] EndpointSlice x: apiVersion: Unsupported value: "discovery.k8s.io/v1beta1": supported values: "discovery.k8s.io/v1"'],
  },
  {
    name: 'a document that is not an object is refused',
    yaml: '- just\n- a list\n',
    issues: ['t.yaml[0]: must be a Kubernetes object (a mapping with apiVersion and kind)'],
  },
  {
    name: 'kind is required',
    yaml: 'apiVersion: v1\nmetadata: {name: x}\n',
    issues: ['t.yaml[0]: kind: Required value'],
  },
  {
    name: 'two Services with one namespace/name are refused, naming the first',
    yaml: service('  ports:\n    - port: 80\n') + '\n---\n' + service('  ports:\n    - port: 81\n'),
    issues: ['t.yaml[1] Service default/web: metadata.name: Duplicate value: "web": Service default/web is already defined at t.yaml[0]'],
  },
  {
    name: 'Endpoints: ready addresses must be IPs and not special; loopback is accepted',
    yaml:
      'apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets:\n' +
      '  - addresses: [{ip: 127.0.0.1}, {ip: 0.0.0.0}, {ip: 169.254.1.1}, {ip: 224.0.0.1}, {ip: nope}, {}]\n' +
      '    ports: [{port: 8080}]\n',
    issues: [
      't.yaml[0] Endpoints default/web: subsets[0].addresses[1].ip: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)',
      't.yaml[0] Endpoints default/web: subsets[0].addresses[2].ip: Invalid value: "169.254.1.1": may not be in the link-local range (169.254.0.0/16, fe80::/10)',
      't.yaml[0] Endpoints default/web: subsets[0].addresses[3].ip: Invalid value: "224.0.0.1": may not be in the multicast range (224.0.0.0/4)',
      't.yaml[0] Endpoints default/web: subsets[0].addresses[4].ip: Invalid value: "nope": must be a valid IP address',
      't.yaml[0] Endpoints default/web: subsets[0].addresses[5].ip: Required value',
    ],
  },
  {
    name: 'Endpoints: a subset needs addresses; ports need names when there are several',
    yaml:
      'apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets:\n' +
      '  - ports: [{port: 1}]\n' +
      '  - addresses: [{ip: 10.0.0.1}]\n    ports: [{name: a, port: 1}, {port: 70000}]\n',
    issues: [
      't.yaml[0] Endpoints default/web: subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`',
      't.yaml[0] Endpoints default/web: subsets[1].ports[1].name: Required value: must be set when there is more than one port',
      't.yaml[0] Endpoints default/web: subsets[1].ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
    ],
  },
  {
    name: 'EndpointSlice: addressType is required and addresses must match it',
    yaml:
      'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1}\n' +
      'endpoints:\n  - addresses: ["::1"]\n  - addresses: []\n  - addresses: [10.0.0.1]\n    conditions: {ready: "yes"}\n',
    issues: [
      't.yaml[0] EndpointSlice default/web-1: addressType: Required value',
      't.yaml[0] EndpointSlice default/web-1: endpoints[0].addresses[0]: Invalid value: "::1": must be a valid IPv4 address',
      't.yaml[0] EndpointSlice default/web-1: endpoints[1].addresses: Required value: must contain at least 1 address',
      't.yaml[0] EndpointSlice default/web-1: endpoints[2].conditions.ready: Invalid value: "yes": must be a boolean',
    ],
  },
  {
    name: 'EndpointSlice: FQDN addresses must be DNS names, IPv6 ones IPv6',
    yaml:
      'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: a}\naddressType: FQDN\nendpoints:\n  - addresses: [app.local, Bad_Name]\n' +
      '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: b}\naddressType: IPv6\nendpoints:\n  - addresses: ["::1", "fe80::1"]\n',
    issues: [
      `t.yaml[0] EndpointSlice default/a: endpoints[0].addresses[1]: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
      't.yaml[1] EndpointSlice default/b: endpoints[0].addresses[1]: Invalid value: "fe80::1": may not be in the link-local range (169.254.0.0/16, fe80::/10)',
    ],
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.same(validateYaml(c.yaml).issues, c.issues);
  });
}

t.test('defaults: protocol TCP, targetPort = port, type ClusterIP, namespace default, affinity None/10800', async (t) => {
  const { snapshot, issues } = validateYaml(service('  ports:\n    - port: 80\n'));
  t.same(issues, []);
  const svc = snapshot.services[0];
  t.equal(svc?.namespace, 'default');
  t.equal(svc?.type, 'ClusterIP');
  t.equal(svc?.sessionAffinity, 'None');
  t.equal(svc?.affinityTimeoutSeconds, 10800);
  t.same(svc?.ports, [{ name: '', protocol: 'TCP', port: 80, targetPort: { kind: 'number', port: 80 }, nodePort: 0 }]);
});

t.test('targetPort 0 and "" default to port; numbers and names are kept', async (t) => {
  const { snapshot } = validateYaml(
    service(
      '  ports:\n    - {name: a, port: 80, targetPort: 0}\n    - {name: b, port: 81, targetPort: ""}\n    - {name: c, port: 82, targetPort: 8082}\n    - {name: d, port: 83, targetPort: http}\n',
    ),
  );
  t.same(
    snapshot.services[0]?.ports.map((p) => p.targetPort),
    [
      { kind: 'number', port: 80 },
      { kind: 'number', port: 81 },
      { kind: 'number', port: 8082 },
      { kind: 'name', name: 'http' },
    ],
  );
});

t.test('ClientIP affinity keeps its timeout; an empty selector means no selector', async (t) => {
  const { snapshot } = validateYaml(
    service('  selector: {}\n  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n  ports:\n    - port: 80\n'),
  );
  t.equal(snapshot.services[0]?.affinityTimeoutSeconds, 60);
  t.equal(snapshot.services[0]?.selector, undefined);
});

t.test('EndpointSlice conditions take kube-proxy defaults and only addresses[0] is used', async (t) => {
  const { snapshot, issues } = validateYaml(
    'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-1\n  labels: {kubernetes.io/service-name: web}\naddressType: IPv4\n' +
      'endpoints:\n  - addresses: [10.0.0.1, 10.0.0.2]\n  - addresses: [10.0.0.3]\n    conditions: {ready: false, serving: true, terminating: true}\n',
  );
  t.same(issues, []);
  t.same(snapshot.endpointSlices[0]?.endpoints, [
    { address: '10.0.0.1', ready: true, serving: true, terminating: false, hostname: '' },
    { address: '10.0.0.3', ready: false, serving: true, terminating: true, hostname: '' },
  ]);
  t.equal(snapshot.endpointSlices[0]?.serviceName, 'web');
});

t.test('a slice without the service-name label is a warning, not an error', async (t) => {
  const { issues, notes } = validateYaml('apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: orphan}\naddressType: IPv4\nendpoints: []\n');
  t.same(issues, []);
  t.same(notes, [
    'warn t.yaml[0] EndpointSlice default/orphan: EndpointSlice has no kubernetes.io/service-name label, so it belongs to no Service and is ignored (as kube-proxy does)',
  ]);
});

t.test('kinds svcproxy does not read are skipped with a debug note and counted; a List is expanded', async (t) => {
  const { issues, notes, snapshot, ignored } = validateYaml(
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n---\n' +
      'apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Service\n    metadata: {name: a}\n    spec: {ports: [{port: 80}]}\n' +
      '  - apiVersion: v1\n    kind: Service\n    metadata: {name: b}\n    spec: {ports: [{port: 0}]}\n',
  );
  t.same(
    notes.filter((n) => n.startsWith('debug')),
    ['debug t.yaml[0] ConfigMap web: kind ConfigMap (v1) is not read by svcproxy; skipped'],
  );
  t.same(issues, ['t.yaml[1].items[1] Service default/b: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive']);
  t.equal(snapshot.services.length, 1);
  t.same(ignored, { 'v1 ConfigMap': 1 });
});

t.test('YAML syntax errors name the file, document, line and column', async (t) => {
  const issues = validateYaml('apiVersion: v1\nkind: Namespace\n---\nkind: [Service\n').issues;
  t.ok(issues.length >= 1, 'at least one issue');
  for (const issue of issues) t.match(issue, /^t\.yaml\[1\]: YAML syntax error at line \d+, column \d+: /);
});

t.test('an alias bomb is an error, not an out-of-memory crash', async (t) => {
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 10; i++)
    bomb.push(
      `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
        .fill(`*${String.fromCharCode(96 + i)}`)
        .join(', ')}]`,
    );
  const { issues } = validateYaml(bomb.join('\n') + '\n');
  t.same(issues, ['t.yaml[0]: could not be parsed: too many alias expansions (more than 100): an alias bomb ("billion laughs")?']);
});
