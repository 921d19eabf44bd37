/**
 * `--check` warnings about how valid objects refer to each other: a cluster
 * accepts all of these, and each leaves a Service short of endpoints.
 */
import t from 'tap';
import { crossChecks, podPortHolders, type PortHolder } from '../../src/config/cross-checks.js';
import { validateYaml } from '../helpers/config.js';

const warnings = (yaml: string): string[] => validateYaml(yaml).notes.filter((n) => n.startsWith('warn'));

const SELECTED = 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: http}]\n';
const POD =
  'apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: web}}\nspec:\n  containers:\n    - name: c\n      ports: [{name: metrics, containerPort: 8080}]\n';

t.test('a selector-less Service that no Endpoints or EndpointSlice names', async (t) => {
  t.same(warnings('apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {ports: [{port: 5432}]}\n'), [
    'warn t.yaml[0] Service default/db: the Service has no selector and no Endpoints or EndpointSlice (labelled kubernetes.io/service-name=db) names it, so it has no endpoints',
  ]);
  const withEndpoints =
    'apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {ports: [{port: 5432}]}\n---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: db}\nsubsets: [{addresses: [{ip: 127.0.0.1}]}]\n';
  t.same(warnings(withEndpoints), []);
  t.same(
    warnings('apiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec: {type: ExternalName, externalName: example.com}\n'),
    [],
    'ExternalName needs none',
  );
});

t.test('an EndpointSlice or Endpoints for a Service that has a selector is ignored, and said so', async (t) => {
  const slice =
    'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\nendpoints: [{addresses: [127.0.0.1]}]\n';
  const endpoints = 'apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets: [{addresses: [{ip: 127.0.0.1}]}]\n';
  t.same(warnings(`${SELECTED}---\n${slice}---\n${endpoints}`), [
    'warn t.yaml[1] EndpointSlice default/web-1: ignored: Service default/web has a selector, so its endpoints are the Pods it selects; remove the selector to use this EndpointSlice',
    'warn t.yaml[2] Endpoints default/web: ignored: Service default/web has a selector, so its endpoints are the Pods it selects (in a cluster the endpoints controller overwrites this object); remove the selector to use it',
  ]);
});

t.test('a named targetPort that no selected Pod defines', async (t) => {
  t.same(warnings(`${SELECTED}---\n${POD}`), [
    'warn t.yaml[0] Service default/web: spec.ports[0].targetPort: no Pod or Pod template this Service selects defines a TCP container port named "http", so this port has no endpoints',
  ]);
  t.same(warnings(`${SELECTED}---\n${POD.replace('metrics', 'http')}`), [], 'defined: no warning');
  t.same(warnings(SELECTED), [], 'no Pod selected at all is reported with the endpoints, not here');
});

t.test('templates join the check through the port-holder hook', async (t) => {
  const { snapshot } = validateYaml(SELECTED);
  const template: PortHolder = { namespace: 'default', labels: { app: 'web' }, ports: [{ name: 'metrics', protocol: 'TCP' }] };
  t.match(crossChecks(snapshot, [...podPortHolders(snapshot), template]), [{ msg: /named "http"/ }]);
  t.same(crossChecks(snapshot, [{ ...template, ports: [{ name: 'http', protocol: 'TCP' }] }]), []);
});
