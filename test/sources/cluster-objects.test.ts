import t from 'tap';
import { validateSources } from '../../src/config/validate-sources.js';
import { clusterObjects } from '../../src/sources/cluster-objects.js';
import { mergeSources } from '../../src/sources/merge.js';
import { declaredEndpoints } from '../../src/state/endpoints.js';

const ORIGIN = 'cluster:kind-dev';

/** A Service as an API server answers it: status, managedFields, uid, a cluster clusterIP. */
function apiService(name: string, extra: Record<string, unknown> = {}, namespace = 'shop'): Record<string, unknown> {
  return {
    metadata: {
      name,
      namespace,
      uid: `uid-${name}`,
      resourceVersion: '17',
      creationTimestamp: '2026-01-01T00:00:00Z',
      managedFields: [{ manager: 'kubectl', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: {} }],
    },
    spec: {
      selector: { app: name },
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
      clusterIP: '10.96.12.34',
      clusterIPs: ['10.96.12.34'],
      internalTrafficPolicy: 'Cluster',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      sessionAffinity: 'None',
      type: 'ClusterIP',
      ...extra,
    },
    status: { loadBalancer: {} },
  };
}

interface Endpoint {
  ip: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  hostname?: string;
}

function apiSlice(name: string, service: string, endpoints: Endpoint[], namespace = 'shop'): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace,
      labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
      resourceVersion: '18',
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ...(e.ready === undefined ? {} : { ready: e.ready }),
        ...(e.serving === undefined ? {} : { serving: e.serving }),
        ...(e.terminating === undefined ? {} : { terminating: e.terminating }),
      },
      ...(e.hostname === undefined ? {} : { hostname: e.hostname }),
      targetRef: { kind: 'Pod', namespace, name: `${service}-${e.ip.split('.').pop() ?? ''}` },
      nodeName: 'kind-control-plane',
    })),
  };
}

t.test('a Service from the API server is read despite what a cluster adds; its own addresses are dropped', async (t) => {
  const out = clusterObjects({ origin: ORIGIN, services: [apiService('web', { externalIPs: ['203.0.113.9'] })], endpointSlices: [] });
  t.same(out.issues, []);
  t.same(out.notes, []);
  const [web] = out.snapshot.services;
  t.equal(web?.name, 'web');
  t.equal(web?.clusterIP, '', 'the cluster clusterIP names nothing here: a --service-cidr address is given');
  t.same(web?.externalIPs, []);
  t.equal(web?.selector, undefined, 'endpoints come from the EndpointSlices, never from Pods probed here');
  t.equal(web?.source.file, ORIGIN, 'the Service records its source');
  t.same(out.snapshot.pods, []);
});

t.test('headless and ExternalName Services keep what makes them so', async (t) => {
  const out = clusterObjects({
    origin: ORIGIN,
    services: [
      apiService('db', { clusterIP: 'None', clusterIPs: ['None'] }),
      { metadata: { name: 'ext', namespace: 'shop' }, spec: { type: 'ExternalName', externalName: 'example.com.', sessionAffinity: 'None' } },
    ],
    endpointSlices: [],
  });
  t.same(out.notes, []);
  const [db, ext] = out.snapshot.services;
  t.equal(db?.clusterIP, 'None');
  t.equal(ext?.type, 'ExternalName');
  t.equal(ext?.externalName, 'example.com');
});

const webPort = { name: 'http', protocol: 'TCP' as const, port: 80, targetPort: { kind: 'number' as const, port: 8080 }, nodePort: 0 };

const cases: ReadonlyArray<{
  name: string;
  slices: Record<string, unknown>[];
  want: ReadonlyArray<{ host: string; ready: boolean; serving: boolean; terminating: boolean }>;
}> = [
  {
    name: 'ready absent means ready; serving absent means serving',
    slices: [apiSlice('web-a', 'web', [{ ip: '127.0.10.1' }])],
    want: [{ host: '127.0.10.1', ready: true, serving: true, terminating: false }],
  },
  {
    name: 'several slices are aggregated',
    slices: [apiSlice('web-a', 'web', [{ ip: '127.0.10.1' }, { ip: '127.0.10.2' }]), apiSlice('web-b', 'web', [{ ip: '127.0.10.3' }])],
    want: [
      { host: '127.0.10.1', ready: true, serving: true, terminating: false },
      { host: '127.0.10.2', ready: true, serving: true, terminating: false },
      { host: '127.0.10.3', ready: true, serving: true, terminating: false },
    ],
  },
  {
    name: 'an endpoint in two slices during a move is one endpoint, the ready copy winning',
    slices: [apiSlice('web-a', 'web', [{ ip: '127.0.10.1', ready: false }]), apiSlice('web-b', 'web', [{ ip: '127.0.10.1', ready: true }])],
    want: [{ host: '127.0.10.1', ready: true, serving: true, terminating: false }],
  },
  {
    name: 'a terminating endpoint that still serves is kept with its conditions',
    slices: [
      apiSlice('web-a', 'web', [
        { ip: '127.0.10.1', ready: false, serving: true, terminating: true },
        { ip: '127.0.10.2', ready: false, serving: false },
      ]),
    ],
    want: [
      { host: '127.0.10.1', ready: false, serving: true, terminating: true },
      { host: '127.0.10.2', ready: false, serving: false, terminating: false },
    ],
  },
  {
    name: "another Service's slices are not this one's",
    slices: [apiSlice('api-a', 'api', [{ ip: '127.0.10.9' }])],
    want: [],
  },
];

for (const c of cases) {
  t.test(`EndpointSlices: ${c.name}`, async (t) => {
    const out = clusterObjects({ origin: ORIGIN, services: [apiService('web')], endpointSlices: c.slices });
    const [web] = out.snapshot.services;
    if (web === undefined) return t.fail('no Service');
    const endpoints = declaredEndpoints(out.snapshot, web, webPort).map((e) => ({
      host: e.host,
      ready: e.ready,
      serving: e.serving,
      terminating: e.terminating,
    }));
    t.same(
      endpoints.sort((a, b) => a.host.localeCompare(b.host)),
      c.want,
    );
  });
}

t.test('an invalid object is refused alone, with a warning naming it; never an issue', async (t) => {
  const badSlice = apiSlice('web-bad', 'web', [{ ip: 'not-an-ip' }]);
  const out = clusterObjects({
    origin: ORIGIN,
    services: [apiService('web'), apiService('Bad_Name'), 'garbage', apiService('api', { ports: [{ port: 99999 }] })],
    endpointSlices: [badSlice, apiSlice('web-a', 'web', [{ ip: '127.0.10.1' }])],
  });
  t.same(out.issues, []);
  t.same(
    out.snapshot.services.map((s) => s.name),
    ['web'],
  );
  t.same(
    out.snapshot.endpointSlices.map((s) => s.name),
    ['web-a'],
  );
  const objects = out.notes.map((n) => n.object).sort();
  t.same(objects, ['EndpointSlice shop/web-bad', 'Service default/<unnamed>', 'Service shop/Bad_Name', 'Service shop/api']);
  t.ok(out.notes.every((n) => n.level === 'warn' && n.where === ORIGIN && n.msg.includes('refused')));
});

t.test('a slice without the service-name label is not read', async (t) => {
  const slice = apiSlice('custom', 'web', [{ ip: '127.0.10.1' }]);
  (slice['metadata'] as { labels: Record<string, string> }).labels = {};
  const out = clusterObjects({ origin: ORIGIN, services: [], endpointSlices: [slice] });
  t.same(out.snapshot.endpointSlices, []);
  t.same(out.notes, []);
});

t.test('a local Service replaces the cluster one and drops its EndpointSlices', async (t) => {
  const local = validateSources([
    {
      file: 'local.yaml',
      text: `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-local, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [127.0.0.5]}]
`,
    },
  ]);
  const cluster = clusterObjects({
    origin: ORIGIN,
    services: [apiService('web'), apiService('api')],
    endpointSlices: [apiSlice('web-a', 'web', [{ ip: '127.0.10.1' }]), apiSlice('api-a', 'api', [{ ip: '127.0.10.2' }])],
  });
  const merged = mergeSources([local, cluster]);
  t.same(merged.issues, []);
  const web = merged.snapshot.services.find((s) => s.name === 'web');
  t.equal(web?.source.file, 'local.yaml');
  if (web === undefined) return;
  t.same(
    declaredEndpoints(merged.snapshot, web, webPort).map((e) => e.host),
    ['127.0.0.5'],
    "the cluster's endpoints do not mix in",
  );
  t.same(merged.snapshot.endpointSlices.map((s) => s.name).sort(), ['api-a', 'web-local']);
});

t.test("a cluster endpoint keeps the Pod its targetRef names (port-forward's target); one without a Pod ref has none", async (t) => {
  const slice = apiSlice('web-abc', 'web', [{ ip: '127.0.10.7' }, { ip: '127.0.10.8' }]);
  const endpoints = slice['endpoints'] as Array<Record<string, unknown>>;
  (endpoints[1] as Record<string, unknown>)['targetRef'] = { kind: 'Node', name: 'n1' };
  const out = clusterObjects({ origin: ORIGIN, services: [], endpointSlices: [slice] });
  t.same(
    out.snapshot.endpointSlices[0]?.endpoints.map((e) => e.targetPod),
    ['shop/web-7', undefined],
  );
});
