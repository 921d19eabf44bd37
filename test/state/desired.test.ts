import t from 'tap';
import { formatIssue } from '../../src/config/types.js';
import { desiredState, type ListenEnvironment } from '../../src/state/desired.js';
import { service, validateYaml } from '../helpers/config.js';

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

t.test('a Service without clusterIP listens on the bind address, one listener per port', async (t) => {
  const d = desired(service('  ports:\n    - {name: http, port: 8080}\n    - {name: admin, port: 8081}\n'));
  t.same(d.listeners, ['TCP 127.0.0.1:8080 -> default/web:http (bindAddress)', 'TCP 127.0.0.1:8081 -> default/web:admin (bindAddress)']);
  t.same(d.issues, []);
});

t.test('a local clusterIP is bound; a foreign one falls back to the bind address with a warning', async (t) => {
  t.same(desired(service('  clusterIP: 127.0.0.10\n  ports:\n    - port: 80\n')).listeners, ['TCP 127.0.0.10:80 -> default/web (clusterIP)']);
  const foreign = desired(service('  clusterIP: 10.96.0.10\n  ports:\n    - port: 80\n'));
  t.same(foreign.listeners, ['TCP 127.0.0.1:80 -> default/web (bindAddress)']);
  t.same(foreign.notes, ['warn: Service default/web: clusterIP 10.96.0.10 is not an address of this machine; listening on 127.0.0.1 instead']);
});

t.test('IPv6 listeners are keyed with brackets', async (t) => {
  t.same(desired(service('  clusterIP: "::1"\n  ports:\n    - port: 80\n')).listeners, ['TCP [::1]:80 -> default/web (clusterIP)']);
});

t.test('two Service ports on one address, port and protocol: an error naming both', async (t) => {
  const d = desired(service('  ports:\n    - port: 8080\n', 'a') + '\n---\n' + service('  ports:\n    - port: 8080\n', 'b'));
  t.same(d.issues, [
    't.yaml[1] Service default/b: spec.ports[0]: Duplicate value: "127.0.0.1:8080/TCP": would listen on the same address, port and protocol as Service default/a spec.ports[0] (bindAddress 127.0.0.1:8080/TCP)',
  ]);
});

t.test('a wildcard bind address collides with a specific one; distinct addresses do not', async (t) => {
  const yaml = service('  clusterIP: 127.0.0.10\n  ports:\n    - port: 8080\n', 'a') + '\n---\n' + service('  ports:\n    - port: 8080\n', 'b');
  t.same(desired(yaml).issues, []);
  t.equal(desired(yaml, { ...env, bindAddress: '0.0.0.0' }).issues.length, 1);
});

t.test('a Service port on the admin address is refused', async (t) => {
  t.same(desired(service('  ports:\n    - port: 9901\n')).issues, [
    't.yaml[0] Service default/web: spec.ports[0]: Duplicate value: "127.0.0.1:9901/TCP": would listen on the same address, port and protocol as the admin server (127.0.0.1:9901)',
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
  t.same(d.listeners, ['UDP 127.0.0.1:81 -> default/other:b (bindAddress)', 'TCP 127.0.0.1:81 -> default/other:c (bindAddress)']);
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
