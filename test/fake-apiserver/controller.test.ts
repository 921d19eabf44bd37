import t, { type Test } from 'tap';
import { FakeCluster } from '../helpers/fake-apiserver/cluster.js';
import { rollout, type RolloutAction } from '../helpers/fake-apiserver/rollout.js';
import type { EndpointConditions, EndpointSliceObject } from '../helpers/fake-apiserver/types.js';

// The EndpointSlice controller, observed through the store: what the fake's clients will read.

function cluster(t: Test, maxEndpointsPerSlice?: number): FakeCluster {
  const c = new FakeCluster(maxEndpointsPerSlice === undefined ? {} : { maxEndpointsPerSlice });
  t.teardown(() => c.stop());
  c.addService({
    namespace: 'ns',
    name: 'web',
    selector: { app: 'web' },
    ports: [
      { name: 'http', port: 80, targetPort: 'http' },
      { name: 'admin', port: 9000, targetPort: 9001 },
    ],
  });
  return c;
}

const httpPort = [{ name: 'http', containerPort: 8080 }];

/** name -> conditions, over every slice; fails on an endpoint that is in two slices. */
function endpoints(t: Test, slices: readonly EndpointSliceObject[]): Record<string, EndpointConditions> {
  const out: Record<string, EndpointConditions> = {};
  for (const s of slices) {
    for (const e of s.endpoints) {
      const name = e.targetRef?.name ?? '?';
      if (name in out) t.fail(`${name} is in two slices`);
      out[name] = e.conditions;
    }
  }
  return out;
}

t.test('a Service gets slices labelled with its name, ports resolved, endpoints pointing at their Pods', async (t) => {
  const c = cluster(t);
  t.same(
    c.slices('ns', 'web').map((s) => s.endpoints),
    [[]],
    'no Pods yet: one empty slice',
  );
  const pod = c.addPod({ namespace: 'ns', name: 'web-1', labels: { app: 'web' }, containerPorts: httpPort });
  c.addPod({ namespace: 'ns', name: 'other', labels: { app: 'other' }, containerPorts: httpPort });
  const [slice, ...more] = c.slices('ns', 'web');
  t.same(more, []);
  t.match(slice, {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    addressType: 'IPv4',
    metadata: {
      generateName: 'web-',
      labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
      ownerReferences: [{ kind: 'Service', name: 'web', controller: true }],
    },
    ports: [
      { name: 'http', port: 8080, protocol: 'TCP' },
      { name: 'admin', port: 9001, protocol: 'TCP' },
    ],
    endpoints: [
      {
        addresses: ['127.0.10.1'],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'fake-node',
        targetRef: { kind: 'Pod', namespace: 'ns', name: 'web-1', uid: pod.metadata.uid },
      },
    ],
  });
  t.equal(slice?.metadata.generation, 2, 'the placeholder slice was reused: generation counts its changes');
});

t.test('readiness flips, graceful termination and deletion show in the conditions', async (t) => {
  const c = cluster(t);
  c.addPod({ namespace: 'ns', name: 'web-1', labels: { app: 'web' }, containerPorts: httpPort, ready: false });
  t.same(endpoints(t, c.slices('ns', 'web')), { 'web-1': { ready: false, serving: false, terminating: false } });
  c.setPodReady('ns', 'web-1', true);
  t.same(endpoints(t, c.slices('ns', 'web')), { 'web-1': { ready: true, serving: true, terminating: false } });
  c.terminatePod('ns', 'web-1');
  t.same(endpoints(t, c.slices('ns', 'web')), { 'web-1': { ready: false, serving: true, terminating: true } });
  c.setPodReady('ns', 'web-1', false);
  t.same(endpoints(t, c.slices('ns', 'web')), { 'web-1': { ready: false, serving: false, terminating: true } });
  c.deletePod('ns', 'web-1');
  t.same(endpoints(t, c.slices('ns', 'web')), {});
  c.deleteService('ns', 'web');
  t.same(c.slices('ns', 'web'), [], 'the slices go with their Service');
});

t.test('maxEndpointsPerSlice splits a Service over several slices, and a change rewrites only the slice it touches', async (t) => {
  const c = cluster(t, 2);
  for (let i = 1; i <= 5; i++) c.addPod({ namespace: 'ns', name: `web-${i}`, labels: { app: 'web' }, containerPorts: httpPort });
  const before = c.slices('ns', 'web');
  t.same(
    before.map((s) => s.endpoints.length).sort((a, b) => a - b),
    [1, 2, 2],
  );
  t.equal(Object.keys(endpoints(t, before)).length, 5);
  const holder = before.find((s) => s.endpoints.some((e) => e.targetRef?.name === 'web-4'));
  c.setPodReady('ns', 'web-4', false);
  const after = c.slices('ns', 'web');
  for (const s of after) {
    const was = before.find((b) => b.metadata.name === s.metadata.name);
    if (s.metadata.name === holder?.metadata.name) t.not(s.metadata.resourceVersion, was?.metadata.resourceVersion, 'the slice holding web-4 changed');
    else t.equal(s.metadata.resourceVersion, was?.metadata.resourceVersion, `${s.metadata.name} untouched`);
  }
  c.deletePod('ns', 'web-1');
  c.deletePod('ns', 'web-2');
  t.equal(Object.keys(endpoints(t, c.slices('ns', 'web'))).length, 3);
});

t.test('Pods without the named port are left out; a headless Service names Pods by hostname; ExternalName has no slices', async (t) => {
  const c = cluster(t);
  c.addPod({ namespace: 'ns', name: 'web-noport', labels: { app: 'web' } });
  t.same(endpoints(t, c.slices('ns', 'web')), {});
  c.addService({ namespace: 'ns', name: 'db', selector: { app: 'db' }, clusterIP: 'None', ports: [{ port: 5432 }] });
  c.addPod({ namespace: 'ns', name: 'db-0', labels: { app: 'db' }, hostname: 'db-0', subdomain: 'db' });
  t.match(c.slices('ns', 'db')[0]?.endpoints, [{ hostname: 'db-0', targetRef: { name: 'db-0' } }]);
  c.addService({ namespace: 'ns', name: 'ext', type: 'ExternalName', externalName: 'example.com' });
  t.same(c.slices('ns', 'ext'), []);
});

t.test('a rollout with surge never has fewer ready endpoints than replicas, and ends on the new Pods only', async (t) => {
  const c = cluster(t, 2);
  for (let i = 1; i <= 3; i++) c.addPod({ namespace: 'ns', name: `web-old-${i}`, labels: { app: 'web' }, containerPorts: httpPort });
  const actions: RolloutAction[] = [];
  let fewest = Infinity;
  const created = await rollout(c, {
    namespace: 'ns',
    selector: { app: 'web' },
    maxSurge: 2,
    containerPorts: httpPort,
    onStep: (step) => {
      actions.push(step.action);
      fewest = Math.min(fewest, Object.values(endpoints(t, c.slices('ns', 'web'))).filter((e) => e.ready === true).length);
    },
  });
  t.equal(fewest, 3, 'never below 3 ready');
  t.same(actions, [
    'created',
    'created',
    'ready',
    'ready',
    'terminating',
    'terminating',
    'not-serving',
    'not-serving',
    'deleted',
    'deleted',
    'created',
    'ready',
    'terminating',
    'not-serving',
    'deleted',
  ]);
  const final = endpoints(t, c.slices('ns', 'web'));
  t.same(Object.keys(final).sort(), created.map((p) => p.metadata.name).sort());
  t.ok(Object.values(final).every((e) => e.ready === true));
  t.ok(created.every((p) => p.metadata.labels?.['pod-template-hash'] !== undefined && p.status.podIP?.startsWith('127.0.10.') === true));
});
