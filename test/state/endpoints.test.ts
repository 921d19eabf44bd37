import t from 'tap';
import { declaredEndpoints, usableEndpoints } from '../../src/state/endpoints.js';
import { service, validateYaml } from '../helpers/config.js';

function endpointsOf(yaml: string, portIndex = 0): string[] {
  const { snapshot, issues } = validateYaml(yaml);
  if (issues.length > 0) throw new Error(issues.join('\n'));
  const svc = snapshot.services[0]!;
  return declaredEndpoints(snapshot, svc, svc.ports[portIndex]!).map(
    (e) => `${e.host}:${e.port}${e.ready ? '' : ' not-ready'}${e.terminating ? ' terminating' : ''} ${e.source}`,
  );
}

const slice = (name: string, body: string, ns = 'default'): string =>
  `---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ${name}\n  namespace: ${ns}\n  labels: {kubernetes.io/service-name: web}\naddressType: IPv4\n${body}`;

t.test('Endpoints: ready addresses only, ports matched by name', async (t) => {
  const yaml =
    service('  ports:\n    - {name: http, port: 80}\n    - {name: admin, port: 81}\n') +
    '\n---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets:\n' +
    '  - addresses: [{ip: 10.0.0.1}]\n    notReadyAddresses: [{ip: 10.0.0.9}]\n    ports: [{name: http, port: 8080}, {name: admin, port: 9090}]\n';
  t.same(endpointsOf(yaml, 0), ['10.0.0.1:8080 Endpoints']);
  t.same(endpointsOf(yaml, 1), ['10.0.0.1:9090 Endpoints']);
});

t.test('a subset or slice with no ports dials the numeric targetPort (default: port)', async (t) => {
  const explicit = service('  ports:\n    - {port: 80, targetPort: 8080}\n') + slice('web-1', 'endpoints:\n  - addresses: [10.0.0.1]\n');
  t.same(endpointsOf(explicit), ['10.0.0.1:8080 EndpointSlice']);
  const defaulted =
    service('  ports:\n    - {port: 80}\n') + '\n---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets:\n  - addresses: [{ip: 10.0.0.1}]\n';
  t.same(endpointsOf(defaulted), ['10.0.0.1:80 Endpoints']);
  const named = service('  ports:\n    - {port: 80, targetPort: http}\n') + slice('web-1', 'endpoints:\n  - addresses: [10.0.0.1]\n');
  t.same(endpointsOf(named), [], 'a named targetPort cannot be resolved without a Pod');
  const noNumber = service('  ports:\n    - {port: 80, targetPort: 8081}\n') + slice('web-1', 'ports: [{name: ""}]\nendpoints:\n  - addresses: [10.0.0.1]\n');
  t.same(endpointsOf(noNumber), ['10.0.0.1:8081 EndpointSlice'], 'a port entry without a number means the targetPort too');
});

t.test('EndpointSlice: the slice port number wins, matched by name ("" for a single unnamed port) and protocol', async (t) => {
  const yaml =
    service('  ports:\n    - {port: 80, targetPort: 8080}\n') +
    slice('web-1', 'ports: [{name: "", port: 9000}]\nendpoints:\n  - addresses: [10.0.0.1]\n') +
    slice('web-2', 'ports: [{name: other, port: 9001}]\nendpoints:\n  - addresses: [10.0.0.2]\n') +
    slice('web-3', 'ports: [{name: "", port: 9002, protocol: UDP}]\nendpoints:\n  - addresses: [10.0.0.3]\n') +
    slice('web-4', 'ports: [{name: "", port: 9003}]\nendpoints:\n  - addresses: [10.0.0.4]\n', 'other');
  t.same(endpointsOf(yaml), ['10.0.0.1:9000 EndpointSlice']);
});

t.test('duplicates across Endpoints and slices collapse; a ready duplicate wins', async (t) => {
  const yaml =
    service('  ports:\n    - {port: 80}\n') +
    slice('web-1', 'endpoints:\n  - addresses: [10.0.0.1]\n    conditions: {ready: false}\n  - addresses: [10.0.0.2]\n') +
    slice('web-2', 'endpoints:\n  - addresses: [10.0.0.1]\n  - addresses: [10.0.0.2]\n    conditions: {ready: false}\n');
  t.same(endpointsOf(yaml), ['10.0.0.1:80 EndpointSlice', '10.0.0.2:80 EndpointSlice']);
});

t.test('usable endpoints: ready ones; if none, serving and terminating ones', async (t) => {
  const e = (ready: boolean, serving: boolean, terminating: boolean, id: string) => ({ ready, serving, terminating, id });
  t.same(
    usableEndpoints([e(true, true, false, 'a'), e(false, true, true, 'b')]).map((x) => x.id),
    ['a'],
  );
  t.same(
    usableEndpoints([e(false, true, true, 'b'), e(false, false, true, 'c'), e(false, true, false, 'd')]).map((x) => x.id),
    ['b'],
  );
  t.same(usableEndpoints([e(false, false, false, 'x')]), []);
});
