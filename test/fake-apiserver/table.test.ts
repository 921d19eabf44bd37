import t from 'tap';
import { humanAge, toTable } from '../helpers/fake-apiserver/table.js';
import type { KubeObject } from '../helpers/fake-apiserver/types.js';

t.test('ages print as kubectl prints them', async (t) => {
  const now = Date.parse('2026-01-02T00:00:00Z');
  const ago = (s: number): string => humanAge(new Date(now - s * 1000).toISOString(), now);
  t.same(
    [ago(0), ago(119), ago(120), ago(150), ago(600), ago(3 * 3600), ago(47 * 3600), ago(72 * 3600)],
    ['0s', '119s', '2m', '2m30s', '10m', '3h', '47h', '3d'],
  );
});

t.test('a terminating Pod prints as Terminating, with its ready count', async (t) => {
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      namespace: 'ns',
      uid: 'u',
      resourceVersion: '5',
      creationTimestamp: new Date().toISOString(),
      deletionTimestamp: new Date().toISOString(),
    },
    spec: {
      containers: [
        { name: 'a', image: 'x' },
        { name: 'b', image: 'x' },
      ],
    },
    status: {
      phase: 'Running',
      containerStatuses: [
        { ready: true, restartCount: 2 },
        { ready: false, restartCount: 1 },
      ],
    },
  };
  t.match(toTable('Pod', [pod], '5', 'None'), { rows: [{ cells: ['p', '1/2', 'Terminating', '3'] }] });
  t.notOk('object' in ((toTable('Pod', [pod], '5', 'None')['rows'] as unknown[])[0] as object), 'includeObject=None leaves the object out');
});
