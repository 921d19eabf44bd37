import t from 'tap';
import { checkFields, editDistance, suggest, type FieldTypes } from '../../src/config/schema.js';

const TYPES: FieldTypes = {
  Root: { name: 'string', count: 'integer', on: 'boolean', port: 'int-or-string', when: 'date-time', extra: 'any', items: '[]Item', tags: '{}string' },
  Item: { value: 'string' },
};

t.test('edit distance counts a swap of neighbours as one slip, and stops early past the bound', async (t) => {
  t.equal(editDistance('selector', 'selectr'), 1);
  t.equal(editDistance('ports', 'prots'), 1);
  t.equal(editDistance('kitten', 'sitting'), 3);
  t.equal(editDistance('a', 'abcdef', 2), 3, 'length difference alone exceeds the bound');
  t.equal(editDistance('abcdef', 'uvwxyz', 2), 3);
  t.equal(editDistance('', ''), 0);
});

t.test('suggest: the same name in another case first, else a close one, else nothing', async (t) => {
  t.equal(suggest('targetport', ['port', 'targetPort']), 'targetPort');
  t.equal(suggest('selectr', ['selector', 'ports']), 'selector');
  t.equal(suggest('replica', ['replicas', 'selector']), 'replicas');
  t.equal(suggest('frobnicate', ['selector', 'ports']), undefined);
  t.equal(suggest('x', ['y', 'ports']), 'y', 'one slip is allowed even in a short name');
});

t.test('checkFields: unknown fields with their full path, types as Go decodes JSON, null always fine', async (t) => {
  t.same(
    checkFields(
      { name: 'a', count: 3, on: true, port: 'http', when: '2024-01-01', extra: { any: ['thing'] }, items: [{ value: 'v' }], tags: { a: 'b' } },
      'Root',
      TYPES,
    ),
    [],
  );
  t.same(checkFields({ name: null, count: null, items: null }, 'Root', TYPES), []);
  t.same(checkFields({ nmae: 'a', items: [{ valeu: 1 }] }, 'Root', TYPES), [
    { kind: 'unknown', path: 'nmae', message: 'unknown field "nmae"; did you mean "name"?' },
    { kind: 'unknown', path: 'items[0].valeu', message: 'unknown field "items[0].valeu"; did you mean "value"?' },
  ]);
  t.same(
    checkFields({ name: 1, count: 1.5, on: 'yes', port: 1.5, when: 5, items: {}, tags: [] }, 'Root', TYPES).map((p) => `${p.path}: ${p.message}`),
    [
      'name: Invalid value: 1: must be a string',
      'count: Invalid value: 1.5: must be an integer',
      'on: Invalid value: "yes": must be a boolean',
      'port: Invalid value: 1.5: must be an integer or a string',
      'when: Invalid value: 5: must be a string',
      'items: Invalid value: {}: must be a list',
      'tags: Invalid value: []: must be a mapping',
    ],
  );
  t.same(checkFields({ tags: { a: 1 } }, 'Root', TYPES), [{ kind: 'type', path: 'tags[a]', message: 'Invalid value: 1: must be a string' }]);
  t.same(checkFields('text', 'Root', TYPES), [{ kind: 'type', path: '', message: 'Invalid value: "text": must be a mapping' }]);
  t.throws(() => checkFields({}, 'Missing', TYPES), /no type Missing/);
});

t.test('the number of problems per object is bounded', async (t) => {
  const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`f${i}`, i]));
  t.equal(checkFields(many, 'Item', TYPES).length, 50);
});
