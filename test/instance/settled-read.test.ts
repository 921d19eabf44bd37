import t from 'tap';
import { settledRead } from '../../src/instance/settled-read.js';
import { MemorySource } from '../helpers/memory-source.js';

const now = async (): Promise<void> => {};

t.test('a read whose version was seen: unchanged, read once', async (t) => {
  const source = new MemorySource('a.yaml', 'text');
  t.equal(await settledRead([source], { seen: 'text', forced: false, wait: now }), 'unchanged');
  t.equal(source.reads, 1);
});

t.test('a new version that reads the same again: the second read is returned', async (t) => {
  const source = new MemorySource('a.yaml', 'text');
  let waited = 0;
  const read = await settledRead([source], { seen: '', forced: false, wait: async () => void waited++ });
  t.match(read, { version: 'text' });
  t.equal(waited, 1);
  t.equal(source.reads, 2);
});

t.test('a new version that reads differently after the wait: unsettled', async (t) => {
  const source = new MemorySource('a.yaml', 'text');
  source.restless = 1;
  t.equal(await settledRead([source], { seen: '', forced: false, wait: now }), 'unsettled');
});

t.test('forced: whatever is read, at once, even a seen version', async (t) => {
  const source = new MemorySource('a.yaml', 'text');
  source.restless = 5;
  t.match(await settledRead([source], { seen: 'text', forced: true, wait: async () => void t.fail('no wait') }), { version: 'moving-1' });
  t.equal(source.reads, 1);
});

t.test('several sources: one version for all; a change in any one is a change', async (t) => {
  const a = new MemorySource('a.yaml', 'a');
  const b = new MemorySource('b.yaml', 'b');
  const first = await settledRead([a, b], { seen: '', forced: false, wait: now });
  if (typeof first === 'string') throw new Error(first);
  t.equal(first.reads.length, 2);
  t.equal(await settledRead([a, b], { seen: first.version, forced: false, wait: now }), 'unchanged');
  b.text = 'b2';
  t.not(await settledRead([a, b], { seen: first.version, forced: false, wait: now }), 'unchanged');
});
