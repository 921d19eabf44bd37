import t from 'tap';
import { validateSources } from '../../src/config/validate-sources.js';
import { mergeSources } from '../../src/sources/merge.js';
import type { SourceObjects } from '../../src/sources/source.js';

function objects(file: string, text: string): SourceObjects {
  return validateSources([{ file, text }]);
}

/** The notes the merge added (validation adds its own, about endpoints). */
function mergeNotes(merged: SourceObjects): SourceObjects['notes'] {
  return merged.notes.filter((n) => n.msg.includes('by an earlier source'));
}

const service = (name: string, port: number, namespace = 'default'): string => `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${namespace}}
spec: {ports: [{port: ${port}}]}
`;

t.test('one source is passed through as it is', async (t) => {
  const only = objects('a.yaml', service('web', 80));
  t.equal(mergeSources([only]), only);
});

t.test('no source: an empty snapshot', async (t) => {
  const merged = mergeSources([]);
  t.same(merged.snapshot.services, []);
  t.same(merged.issues, []);
});

t.test('objects of different sources are concatenated in source order', async (t) => {
  const merged = mergeSources([objects('a.yaml', service('web', 80)), objects('b.yaml', service('api', 81))]);
  t.same(
    merged.snapshot.services.map((s) => s.name),
    ['web', 'api'],
  );
  t.same(mergeNotes(merged), []);
});

t.test('the same kind, namespace and name in two sources: the earlier source wins, the later one is noted', async (t) => {
  const merged = mergeSources([objects('a.yaml', service('web', 80)), objects('b.yaml', `${service('web', 8080)}${service('api', 81)}`)]);
  t.same(
    merged.snapshot.services.map((s) => [s.name, s.ports[0]?.port]),
    [
      ['web', 80],
      ['api', 81],
    ],
  );
  t.same(mergeNotes(merged), [
    {
      level: 'warn',
      where: 'b.yaml[0]',
      object: 'Service default/web',
      msg: 'Service default/web is also defined at a.yaml[0], by an earlier source; this one is ignored',
    },
  ]);
});

t.test('the same name in another namespace, or of another kind, is another object', async (t) => {
  const pod = `---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec: {containers: [{name: app}]}
`;
  const merged = mergeSources([objects('a.yaml', service('web', 80)), objects('b.yaml', `${service('web', 80, 'other')}${pod}`)]);
  t.same(
    merged.snapshot.services.map((s) => `${s.namespace}/${s.name}`),
    ['default/web', 'other/web'],
  );
  t.equal(merged.snapshot.pods.length, 1);
  t.same(mergeNotes(merged), []);
});

t.test('issues and ignored kinds are kept from every source', async (t) => {
  const configMap = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n';
  const merged = mergeSources([objects('a.yaml', configMap), objects('b.yaml', `${configMap}---\nkind: Service\n`)]);
  t.same(merged.ignored, { 'v1 ConfigMap': 2 });
  t.ok(merged.issues.length > 0, "the second source's problem rejects the whole");
  t.ok(merged.issues.every((i) => i.where.startsWith('b.yaml')));
});
