/**
 * The committed field table is exactly what the installed
 * @kubernetes/client-node generates: an upgrade of the devDependency that
 * changes a field list fails here until `npm run gen:k8s-fields` is run.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { generatedPath, generateK8sFields } from '../../scripts/k8s-fields/generate.js';
import { K8S_FIELDS_SOURCE, K8S_TYPES } from '../../src/config/k8s-fields.generated.js';

t.test('regenerating the field table gives the committed file', async (t) => {
  t.equal(generateK8sFields(), readFileSync(generatedPath(), 'utf8'), 'run `npm run gen:k8s-fields` and commit the result');
});

t.test('the table covers every kind svcproxy reads, closed over the types they refer to', async (t) => {
  for (const root of [
    'V1Service',
    'V1Endpoints',
    'V1EndpointSlice',
    'V1Pod',
    'V1Deployment',
    'V1ReplicaSet',
    'V1StatefulSet',
    'V1DaemonSet',
    'V1ReplicationController',
  ]) {
    t.ok(K8S_TYPES[root], root);
  }
  for (const [name, fields] of Object.entries(K8S_TYPES)) {
    for (const [field, type] of Object.entries(fields)) {
      const base = type.replace(/^(\[\]|\{\})+/, '');
      const primitive = ['string', 'integer', 'boolean', 'int-or-string', 'date-time', 'any'].includes(base);
      t.ok(primitive || K8S_TYPES[base] !== undefined, `${name}.${field}: ${type}`);
    }
  }
  t.match(K8S_FIELDS_SOURCE, /^@kubernetes\/client-node \d+\.\d+\.\d+$/);
  t.equal(K8S_TYPES['V1ServiceSpec']?.['selector'], '{}string');
  t.equal(K8S_TYPES['V1ServicePort']?.['targetPort'], 'int-or-string');
});
