import t from 'tap';
import { parseFieldSelector, parseLabelSelector } from '../helpers/fake-apiserver/selectors.js';
import type { KubeObject } from '../helpers/fake-apiserver/types.js';

const object = (name: string, labels: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'ns', uid: name, resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00Z', labels },
  status: { phase: name === 'c' ? 'Pending' : 'Running' },
});

const objects = [object('a', { app: 'web', tier: 'front' }), object('b', { app: 'db' }), object('c', { 'kubernetes.io/service-name': 'x' })];

const cases: ReadonlyArray<{ readonly selector: string; readonly want: readonly string[] }> = [
  { selector: '', want: ['a', 'b', 'c'] },
  { selector: 'app=web', want: ['a'] },
  { selector: 'app==web', want: ['a'] },
  { selector: 'app!=web', want: ['b', 'c'] },
  { selector: 'app in (web, db)', want: ['a', 'b'] },
  { selector: 'app notin (web)', want: ['b', 'c'] },
  { selector: 'tier', want: ['a'] },
  { selector: '!tier', want: ['b', 'c'] },
  { selector: 'app,!tier', want: ['b'] },
  { selector: 'app in (web,db),tier!=front', want: ['b'] },
  { selector: 'kubernetes.io/service-name=x', want: ['c'] },
];

for (const c of cases) {
  t.test(`label selector "${c.selector}" selects ${c.want.join(', ')}`, async (t) => {
    const matches = parseLabelSelector(c.selector);
    t.same(
      objects.filter(matches).map((o) => o.metadata.name),
      c.want,
    );
  });
}

t.test('a label selector that does not parse is refused with the reason', async (t) => {
  t.throws(() => parseLabelSelector('app in (web'), { name: 'SelectorError' });
  t.throws(() => parseLabelSelector('-bad=x'), { message: /invalid label key "-bad"/ });
  t.throws(() => parseLabelSelector('app=a b'), { name: 'SelectorError' });
});

t.test('field selectors match the fields the real server converts, and refuse others', async (t) => {
  t.same(
    objects.filter(parseFieldSelector('Pod', 'metadata.name=b')).map((o) => o.metadata.name),
    ['b'],
  );
  t.same(
    objects.filter(parseFieldSelector('Pod', 'status.phase!=Running')).map((o) => o.metadata.name),
    ['c'],
  );
  t.throws(() => parseFieldSelector('Pod', 'spec.image=x'), { message: 'field label not supported: spec.image' });
  t.throws(() => parseFieldSelector('Pod', 'nonsense'), { name: 'SelectorError' });
});
