import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig, readConfig } from '../../src/config/load.js';
import { formatIssue } from '../../src/config/types.js';

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-load-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const SVC = 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}\n';

t.test('a directory: yaml, yml and json files in name order; other files and dot-entries skipped', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'b.yml'), SVC.replace('name: a', 'name: b'));
  await writeFile(join(dir, 'a.yaml'), SVC);
  await writeFile(join(dir, 'c.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'c' }, spec: { ports: [{ port: 81 }] } }));
  await writeFile(join(dir, 'README.md'), '# not a manifest');
  await writeFile(join(dir, '.hidden.yaml'), 'not: [valid');
  await mkdir(join(dir, 'sub.yaml'));
  const loaded = await loadConfig([dir]);
  t.same(loaded.issues, []);
  t.same(
    loaded.snapshot.services.map((s) => s.name),
    ['a', 'b', 'c'],
  );
  t.equal(loaded.snapshot.services[1]?.source.file, join(dir, 'b.yml'));
});

t.test('a single file with several documents', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'all.yaml');
  await writeFile(file, `${SVC}---\n${SVC.replace('name: a', 'name: b')}---\n`);
  const loaded = await loadConfig([file]);
  t.same(loaded.issues, []);
  t.equal(loaded.snapshot.services.length, 2);
});

t.test('the same content hashes the same; a change changes the hash', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a.yaml'), SVC);
  const first = await readConfig([dir]);
  const again = await readConfig([dir]);
  t.equal(first.hash, again.hash);
  await writeFile(join(dir, 'a.yaml'), SVC.replace('80', '81'));
  t.not((await readConfig([dir])).hash, first.hash);
});

t.test('a missing path is one clear issue', async (t) => {
  const dir = await tempDir(t);
  const loaded = await loadConfig([join(dir, 'nope')]);
  t.equal(loaded.issues.length, 1);
  t.match(formatIssue(loaded.issues[0]!), /nope: cannot read the config: ENOENT/);
});

t.test('an empty directory and an empty file are issues, never an empty config', async (t) => {
  const dir = await tempDir(t);
  t.match((await loadConfig([dir])).issues.map(formatIssue), [/the directory holds no \*\.yaml, \*\.yml or \*\.json file/]);
  await writeFile(join(dir, 'a.yaml'), '');
  t.match((await loadConfig([dir])).issues.map(formatIssue), [/a\.yaml: the file is empty/]);
  await writeFile(join(dir, 'a.yaml'), '# every Service removed on purpose\n');
  const loaded = await loadConfig([dir]);
  t.same(loaded.issues, []);
  t.equal(loaded.snapshot.services.length, 0);
});

t.test('a dangling symlink is an issue naming the file', async (t) => {
  const dir = await tempDir(t);
  await symlink(join(dir, 'gone.yaml'), join(dir, 'a.yaml'));
  const loaded = await loadConfig([dir]);
  t.match(loaded.issues.map(formatIssue), [/cannot read the config: ENOENT|a\.yaml: cannot read: ENOENT/]);
});
