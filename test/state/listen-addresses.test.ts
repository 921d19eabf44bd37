import t from 'tap';
import { formatIssue } from '../../src/config/types.js';
import { desiredState, type ListenEnvironment } from '../../src/state/desired.js';
import { addressInFamily } from '../../src/state/listen-addresses.js';
import { service, validateYaml } from '../helpers/config.js';
import { servicesOf } from '../helpers/dns.js';

/** The address a lone Service `web` gets from the default --service-cidr. */
const WEB = servicesOf(service('  ports:\n    - port: 1\n')).get('default/web')?.addresses[0] ?? '';

const env: ListenEnvironment = {
  bindAddress: '127.0.0.1',
  nodeAddress: '127.0.0.1',
  isLocalAddress: (ip) => ip.startsWith('127.') || ip === '::1' || ip === '0.0.0.0' || ip === '::',
  reserved: [],
};

function run(yaml: string, e: ListenEnvironment = env) {
  const { snapshot, issues } = validateYaml(yaml);
  if (issues.length > 0) throw new Error(issues.join('\n'));
  const r = desiredState(snapshot, e);
  return {
    listeners: [...r.state.listeners.values()].map((l) => `${l.key} ${l.role}`),
    notes: r.notes.map((n) => `${n.level}: ${n.msg}`),
    issues: r.issues.map(formatIssue),
    nodePorts: r.state.nodePorts,
    ports: [...r.state.servicePorts.values()],
  };
}

t.test('NodePort: the port on the bind address and the nodePort on the node address', async (t) => {
  const r = run(service('  type: NodePort\n  ports:\n    - {port: 8080, nodePort: 30080}\n'), { ...env, nodeAddress: '127.0.0.2' });
  t.same(r.listeners, [`TCP ${WEB}:8080 clusterIP`, 'TCP 127.0.0.2:30080 nodePort', 'TCP 127.0.0.1:8080 bindAddress']);
});

t.test('an omitted nodePort is allocated in range, logged, and kept across reloads', async (t) => {
  const yaml = service('  type: NodePort\n  ports:\n    - {name: a, port: 8080}\n    - {name: b, port: 8081}\n');
  const first = run(yaml);
  const ports = [...first.nodePorts.values()];
  t.equal(ports.length, 2);
  t.ok(ports.every((p) => p >= 30000 && p <= 32767));
  t.not(ports[0], ports[1]);
  t.match(first.notes, [/^info: port 8080\/TCP: allocated nodePort \d+$/, /^info: port 8081\/TCP: allocated nodePort \d+$/]);
  const again = run(yaml, { ...env, previousNodePorts: first.nodePorts });
  t.same([...again.nodePorts.entries()], [...first.nodePorts.entries()], 'the same ports on the next reload');
  t.same(run(yaml).nodePorts, first.nodePorts, 'and deterministic across restarts');
});

t.test('an allocation never takes a nodePort written in a manifest', async (t) => {
  const yaml = service('  type: NodePort\n  ports:\n    - port: 8080\n');
  const allocated = [...run(yaml).nodePorts.values()][0] ?? 0;
  const taken = service(`  type: NodePort\n  ports:\n    - {port: 9090, nodePort: ${allocated}}\n`, 'other');
  const r = run(`${yaml}\n---\n${taken}`);
  t.not([...r.nodePorts.values()][0], allocated);
  t.same(r.issues, []);
});

t.test('LoadBalancer: port on each local ingress IP, plus the nodePort; a remote ingress IP is a warning', async (t) => {
  const r = run(
    service('  type: LoadBalancer\n  ports:\n    - {port: 8080, nodePort: 30081}\n') +
      'status:\n  loadBalancer:\n    ingress: [{ip: 127.0.0.20}, {ip: 203.0.113.9}]\n',
  );
  t.same(r.listeners, [`TCP ${WEB}:8080 clusterIP`, 'TCP 127.0.0.1:30081 nodePort', 'TCP 127.0.0.20:8080 loadBalancer', 'TCP 127.0.0.1:8080 bindAddress']);
  t.match(r.notes, ['warn: load balancer ingress IP 203.0.113.9 is not an address of this machine; not listening on it']);
});

t.test('externalIPs: a listener on each local one (loopback allowed)', async (t) => {
  const r = run(service('  externalIPs: [127.0.0.30, 198.51.100.1]\n  ports:\n    - port: 8080\n'));
  t.same(r.listeners, [`TCP ${WEB}:8080 clusterIP`, 'TCP 127.0.0.30:8080 externalIP', 'TCP 127.0.0.1:8080 bindAddress']);
  t.match(r.notes, ['warn: external IP 198.51.100.1 is not an address of this machine; not listening on it']);
});

t.test('dual-stack: both families on the bind address and its counterpart, or on both clusterIPs', async (t) => {
  t.same(run(service('  ipFamilyPolicy: RequireDualStack\n  ports:\n    - port: 8080\n')).listeners, [
    `TCP ${WEB}:8080 clusterIP`,
    'TCP 127.0.0.1:8080 bindAddress',
    'TCP [::1]:8080 bindAddress',
  ]);
  t.same(
    run(service('  clusterIPs: [127.0.0.10, "::1"]\n  clusterIP: 127.0.0.10\n  ipFamilyPolicy: PreferDualStack\n  ports:\n    - port: 8080\n')).listeners,
    ['TCP 127.0.0.10:8080 clusterIP', 'TCP [::1]:8080 clusterIP'],
  );
  t.same(
    run(service('  ipFamilyPolicy: PreferDualStack\n  ports:\n    - port: 8080\n'), { ...env, bindAddress: '0.0.0.0' }).listeners,
    ['TCP 0.0.0.0:8080 bindAddress', 'TCP [::]:8080 bindAddress'],
    'the two wildcards do not collide (:: is bound IPv6-only); 0.0.0.0 serves the own address too',
  );
});

t.test('an IPv6-only Service with an IPv4 bind address listens on ::1, and on its IPv4 address', async (t) => {
  t.same(run(service('  ipFamilies: [IPv6]\n  ports:\n    - port: 8080\n')).listeners, [`TCP ${WEB}:8080 clusterIP`, 'TCP [::1]:8080 bindAddress']);
});

t.test('a family with no counterpart for the bind address is a warning', async (t) => {
  const r = run(service('  ipFamilies: [IPv6]\n  ports:\n    - port: 8080\n'), { ...env, bindAddress: '127.0.0.2'.replace('127.0.0.2', '192.0.2.1') });
  t.same(r.listeners, [`TCP ${WEB}:8080 clusterIP`]);
  t.match(r.notes, [/no IPv6 bind address \(--bind-address is 192\.0\.2\.1\); served in IPv4 only/]);
});

t.test('a nodePort on the port of another Service keeps the node address; the other Service is on its own address', async (t) => {
  const r = run(service('  type: NodePort\n  ports:\n    - {port: 8080, nodePort: 30090}\n', 'a') + '\n---\n' + service('  ports:\n    - port: 30090\n', 'b'));
  t.same(r.issues, []);
  t.ok(r.listeners.includes('TCP 127.0.0.1:30090 nodePort'));
  t.match(r.notes, [/not published on 127\.0\.0\.1:30090\/TCP: taken by Service default\/a spec\.ports\[0\] \(nodePort 127\.0\.0\.1:30090\/TCP\)/]);
  const twoNodePorts = run(
    service('  type: NodePort\n  ports:\n    - {port: 1, nodePort: 30090}\n', 'a') +
      '\n---\n' +
      service('  type: NodePort\n  ports:\n    - {port: 2, nodePort: 30090}\n', 'b'),
  );
  t.match(
    twoNodePorts.issues,
    [/Service default\/b: spec\.ports\[0\]\.nodePort: Duplicate value: "127\.0\.0\.1:30090\/TCP"/],
    'one nodePort twice is refused, as a cluster does',
  );
});

t.test('policy: annotations, source ranges and ClientIP affinity reach the Service port plan', async (t) => {
  const r = run(
    service(
      '  type: LoadBalancer\n  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n  loadBalancerSourceRanges: [127.0.0.5/32]\n  ports:\n    - {port: 8080, nodePort: 30091}\n',
      'web',
      '  annotations: {svcproxy.dev/max-connections: "5"}\n',
    ),
  );
  t.match(r.ports[0]?.policy, { maxConnections: 5, sourceRanges: ['127.0.0.5/32'], affinityTimeoutSeconds: 60 });
  t.equal(r.ports[0]?.nodePort, 30091);
});

t.test('addressInFamily', async (t) => {
  t.same(
    [
      addressInFamily('127.0.0.7', 'IPv6'),
      addressInFamily('::1', 'IPv4'),
      addressInFamily('0.0.0.0', 'IPv6'),
      addressInFamily('::', 'IPv4'),
      addressInFamily('10.0.0.1', 'IPv6'),
    ],
    ['::1', '127.0.0.1', '::', '0.0.0.0', undefined],
  );
});

t.test('udp: false (a cluster worker other than the first) plans no UDP listener, TCP unchanged', async (t) => {
  const yaml = service('  ports:\n    - {name: a, port: 53, protocol: UDP}\n    - {name: b, port: 53}\n');
  t.same(run(yaml, { ...env, udp: false }).listeners, [`TCP ${WEB}:53 clusterIP`, 'TCP 127.0.0.1:53 bindAddress']);
  t.same(run(yaml).listeners, [`UDP ${WEB}:53 clusterIP`, `TCP ${WEB}:53 clusterIP`, 'UDP 127.0.0.1:53 bindAddress', 'TCP 127.0.0.1:53 bindAddress']);
});
