import t from 'tap';
import { formatIssue } from '../../src/config/types.js';
import { parseLoopbackRange } from '../../src/state/address-allocator.js';
import { desiredState, type ListenEnvironment } from '../../src/state/desired.js';
import { service, validateYaml } from '../helpers/config.js';
import { servicesOf } from '../helpers/dns.js';

/** The address the default --service-cidr gives a lone Service of that name (derived from namespace/name). */
function own(name: string): string {
  return servicesOf(service('  ports:\n    - port: 1\n', name)).get(`default/${name}`)?.addresses[0] ?? '';
}

const env: ListenEnvironment = {
  bindAddress: '127.0.0.1',
  isLocalAddress: (ip) => ip.startsWith('127.') || ip === '::1',
  reserved: [{ address: '127.0.0.1', port: 9901, what: 'admin server' }],
};

function desired(yaml: string, environment = env) {
  const { snapshot, issues } = validateYaml(yaml);
  if (issues.length > 0) throw new Error(issues.join('\n'));
  const result = desiredState(snapshot, environment);
  return {
    listeners: [...result.state.listeners.values()].map((l) => `${l.key} -> ${l.servicePort} (${l.role})`),
    issues: result.issues.map(formatIssue),
    notes: result.notes.map((n) => `${n.level}: ${n.object}: ${n.msg}`),
    ports: [...result.state.servicePorts.values()],
  };
}

t.test('a Service without clusterIP listens on its own address from the range and, alone on its ports, on the bind address', async (t) => {
  const web = own('web');
  t.match(web, /^127\.96\.\d+\.\d+$/);
  const d = desired(service('  ports:\n    - {name: http, port: 8080}\n    - {name: admin, port: 8081}\n'));
  t.same(d.listeners, [
    `TCP ${web}:8080 -> default/web:http (clusterIP)`,
    `TCP ${web}:8081 -> default/web:admin (clusterIP)`,
    'TCP 127.0.0.1:8080 -> default/web:http (bindAddress)',
    'TCP 127.0.0.1:8081 -> default/web:admin (bindAddress)',
  ]);
  t.same(d.issues, []);
});

t.test('a local clusterIP is bound as is; a foreign one is mapped to a range address with a note', async (t) => {
  t.same(desired(service('  clusterIP: 127.0.0.10\n  ports:\n    - port: 80\n')).listeners, ['TCP 127.0.0.10:80 -> default/web (clusterIP)']);
  t.same(
    desired(service('  clusterIP: 127.96.7.7\n  ports:\n    - port: 80\n')).listeners,
    ['TCP 127.96.7.7:80 -> default/web (clusterIP)'],
    'one inside the range too',
  );
  const foreign = desired(service('  clusterIP: 10.96.0.10\n  ports:\n    - port: 80\n'));
  t.same(foreign.listeners, [`TCP ${own('web')}:80 -> default/web (clusterIP)`, 'TCP 127.0.0.1:80 -> default/web (bindAddress)']);
  t.same(foreign.notes, [
    `info: Service default/web: clusterIP 10.96.0.10 is not an address of this machine; the Service is served on ${own('web')} (from --service-cidr 127.96.0.0/16) instead`,
  ]);
});

t.test('IPv6 listeners are keyed with brackets; an IPv6 Service has its IPv4 address too', async (t) => {
  t.same(desired(service('  clusterIP: "::1"\n  ports:\n    - port: 80\n')).listeners, [
    `TCP ${own('web')}:80 -> default/web (clusterIP)`,
    'TCP [::1]:80 -> default/web (clusterIP)',
  ]);
});

t.test('two Services on one port: both valid, each on its own address, neither on the bind address (the localhost rule)', async (t) => {
  const d = desired(service('  ports:\n    - port: 8080\n', 'a') + '\n---\n' + service('  ports:\n    - port: 8080\n', 'b'));
  t.same(d.issues, []);
  t.same(d.listeners, [`TCP ${own('a')}:8080 -> default/a (clusterIP)`, `TCP ${own('b')}:8080 -> default/b (clusterIP)`]);
  t.same(d.notes, [
    'info: Service default/a: spec.ports[0]: not published on 127.0.0.1:8080/TCP: Service default/b uses the same port; it is served on its own address',
    'info: Service default/b: spec.ports[0]: not published on 127.0.0.1:8080/TCP: Service default/a uses the same port; it is served on its own address',
  ]);
});

t.test('two written clusterIPs on one address and port are still an error, as in a cluster', async (t) => {
  const d = desired(
    service('  clusterIP: 127.0.0.10\n  ports:\n    - port: 8080\n', 'a') + '\n---\n' + service('  clusterIP: 127.0.0.10\n  ports:\n    - port: 8080\n', 'b'),
  );
  t.same(d.issues, [
    't.yaml[1] Service default/b: spec.ports[0]: Duplicate value: "127.0.0.10:8080/TCP": would listen on the same address, port and protocol as Service default/a spec.ports[0] (clusterIP 127.0.0.10:8080/TCP)',
  ]);
});

t.test('a wildcard bind address: the unambiguous port is served there (covering its own address); a written clusterIP on the port keeps it', async (t) => {
  const alone = desired(service('  ports:\n    - port: 8080\n', 'b'), { ...env, bindAddress: '0.0.0.0' });
  t.same(alone.listeners, ['TCP 0.0.0.0:8080 -> default/b (bindAddress)']);
  const yaml = service('  clusterIP: 127.0.0.10\n  ports:\n    - port: 8080\n', 'a') + '\n---\n' + service('  ports:\n    - port: 8080\n', 'b');
  const d = desired(yaml, { ...env, bindAddress: '0.0.0.0' });
  t.same(d.issues, []);
  t.same(d.listeners, ['TCP 127.0.0.10:8080 -> default/a (clusterIP)', `TCP ${own('b')}:8080 -> default/b (clusterIP)`]);
});

t.test("a Service port on the admin server's port is served on its own address only", async (t) => {
  const d = desired(service('  ports:\n    - port: 9901\n'));
  t.same(d.issues, []);
  t.same(d.listeners, [`TCP ${own('web')}:9901 -> default/web (clusterIP)`]);
  t.match(d.notes, [/not published on 127\.0\.0\.1:9901\/TCP: taken by the admin server \(127\.0\.0\.1:9901\)/]);
});

t.test('a service range too small for the Services is one issue naming the option', async (t) => {
  const yaml =
    service('  ports:\n    - port: 1\n', 'a') +
    '\n---\n' +
    service('  ports:\n    - port: 1\n', 'b') +
    '\n---\n' +
    service('  clusterIP: 127.97.0.1\n  ports:\n    - port: 1\n', 'c');
  const range = parseLoopbackRange('127.97.0.0/30');
  if (typeof range === 'string') throw new Error(range);
  t.same(desired(yaml, { ...env, serviceRange: range }).issues, [
    '--service-cidr: 2 Services need an address of the service range 127.97.0.0/30, which has 2 usable addresses (1 taken by addresses written in manifests or options); give --service-cidr a larger range',
  ]);
});

t.test('headless, ExternalName and SCTP get a note and no listener; UDP gets a UDP listener', async (t) => {
  const d = desired(
    service('  clusterIP: None\n  ports:\n    - port: 80\n', 'headless') +
      '\n---\n' +
      service('  type: ExternalName\n  externalName: example.com\n', 'ext') +
      '\n---\n' +
      service('  ports:\n    - {name: a, port: 80, protocol: SCTP}\n    - {name: b, port: 81, protocol: UDP}\n    - {name: c, port: 81}\n', 'other'),
  );
  t.same(d.listeners, [
    `UDP ${own('other')}:81 -> default/other:b (clusterIP)`,
    `TCP ${own('other')}:81 -> default/other:c (clusterIP)`,
    'UDP 127.0.0.1:81 -> default/other:b (bindAddress)',
    'TCP 127.0.0.1:81 -> default/other:c (bindAddress)',
  ]);
  t.same(d.notes, [
    'info: Service default/headless: not proxied: headless Service (clusterIP: None)',
    'info: Service default/ext: not proxied: type ExternalName is answered by DNS, not by a proxy',
    'warn: Service default/other: spec.ports[0]: SCTP is not supported; no listener',
  ]);
});

t.test('a Service with a selector ignores hand-written Endpoints for itself', async (t) => {
  const d = desired(
    service('  selector: {app: web}\n  ports:\n    - port: 80\n') +
      '\n---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets:\n  - addresses: [{ip: 10.0.0.1}]\n',
  );
  t.same(d.ports[0]?.endpoints, []);
});
