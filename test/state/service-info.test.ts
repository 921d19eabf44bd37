import t from 'tap';
import { headlessEndpoints, serviceNames } from '../../src/state/service-info.js';
import { validateYaml } from '../helpers/config.js';
import { servicesOf } from '../helpers/dns.js';

const HEADLESS = `apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  ports: [{name: sql, port: 5432}, {port: 9000, name: metrics}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: db}
subsets:
  - addresses: [{ip: 127.0.80.1}]
    ports: [{name: sql, port: 5433}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-1, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
ports: [{name: metrics, port: 9100}]
endpoints:
  - addresses: [127.0.80.1]
    hostname: primary
  - addresses: [127.0.80.2]
    conditions: {ready: false}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-names, labels: {kubernetes.io/service-name: db}}
addressType: FQDN
endpoints:
  - addresses: [db.example.com]
`;

t.test('headless endpoints: Endpoints and slices merged by address, ports per source, FQDN left out', async (t) => {
  const { snapshot } = validateYaml(HEADLESS);
  const service = snapshot.services[0];
  if (service === undefined) throw new Error('no service');
  t.same(headlessEndpoints(snapshot, service), [
    {
      address: '127.0.80.1',
      hostname: 'primary',
      ready: true,
      serving: true,
      terminating: false,
      probed: false,
      pod: '',
      ports: [
        { name: 'sql', protocol: 'TCP', port: 5433 },
        { name: 'metrics', protocol: 'TCP', port: 9100 },
      ],
    },
    {
      address: '127.0.80.2',
      hostname: '',
      ready: false,
      serving: true,
      terminating: false,
      probed: false,
      pod: '',
      ports: [{ name: 'metrics', protocol: 'TCP', port: 9100 }],
    },
  ]);
  const published = validateYaml(HEADLESS.replace('  clusterIP: None\n', '  clusterIP: None\n  publishNotReadyAddresses: true\n')).snapshot;
  t.equal(headlessEndpoints(published, published.services[0] ?? service)[1]?.ready, true, 'publishNotReadyAddresses: every endpoint is ready');
});

t.test('a ClusterIP Service carries no endpoints; a headless one no address', async (t) => {
  const services = servicesOf(`${HEADLESS}---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n`);
  t.same(services.get('default/web')?.endpoints, []);
  t.same(services.get('default/db')?.addresses, []);
  t.equal(services.get('default/db')?.headless, true);
  t.same(
    services.get('default/db')?.ports.map((p) => p.servedOn),
    [[], []],
  );
});

t.test('serviceNames: the bare name only in default', async (t) => {
  t.same(serviceNames({ name: 'web', namespace: 'default' }, 'c.local'), ['web.default.svc.c.local', 'web.default.svc', 'web.default', 'web']);
  t.same(serviceNames({ name: 'api', namespace: 'shop' }, 'c.local'), ['api.shop.svc.c.local', 'api.shop.svc', 'api.shop']);
});

t.test('an IPv6-primary dual-stack Service lists its IPv6 address first', async (t) => {
  const services = servicesOf(
    'apiVersion: v1\nkind: Service\nmetadata: {name: v6}\nspec:\n  clusterIPs: ["::1", 127.0.0.71]\n  ipFamilies: [IPv6, IPv4]\n  ipFamilyPolicy: RequireDualStack\n  ports: [{port: 80}]\n',
  );
  t.same(services.get('default/v6')?.addresses, ['::1', '127.0.0.71']);
});

t.test('ipv6Alias: ::1 when every port of an IPv4-addressed dual-stack Service won the IPv6 bind address', async (t) => {
  const services = servicesOf('apiVersion: v1\nkind: Service\nmetadata: {name: dual}\nspec:\n  ipFamilyPolicy: RequireDualStack\n  ports: [{port: 80}]\n');
  t.equal(services.get('default/dual')?.ipv6Alias, '::1');
});
