import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import {
  MAX_DEPTH,
  MAX_FILE_BYTES,
  MAX_SNAPSHOT_BYTES,
  readConfig,
  readStream,
  validateRead,
  type LoadResult,
  type ReadOptions,
} from '../../src/config/load.js';
import { formatIssue } from '../../src/config/types.js';

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-load-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Read, then parse and validate, as the instance does on every reload. */
async function load(paths: readonly string[], options: ReadOptions = {}): Promise<LoadResult> {
  return validateRead(await readConfig(paths, options), paths);
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
  const loaded = await load([dir]);
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
  const loaded = await load([file]);
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
  const loaded = await load([join(dir, 'nope')]);
  t.equal(loaded.issues.length, 1);
  t.match(formatIssue(loaded.issues[0]!), /nope: cannot read the config: ENOENT/);
});

t.test('an empty directory and an empty file are issues, never an empty config', async (t) => {
  const dir = await tempDir(t);
  t.match((await load([dir])).issues.map(formatIssue), [/the directory holds no \*\.yaml, \*\.yml or \*\.json file/]);
  await writeFile(join(dir, 'a.yaml'), '');
  t.match((await load([dir])).issues.map(formatIssue), [/a\.yaml: the file is empty/]);
  await writeFile(join(dir, 'a.yaml'), '# every Service removed on purpose\n');
  const loaded = await load([dir]);
  t.same(loaded.issues, []);
  t.equal(loaded.snapshot.services.length, 0);
});

t.test('a dangling symlink is an issue naming the file', async (t) => {
  const dir = await tempDir(t);
  await symlink(join(dir, 'gone.yaml'), join(dir, 'a.yaml'));
  const loaded = await load([dir]);
  t.match(loaded.issues.map(formatIssue), [/cannot read the config: ENOENT|a\.yaml: cannot read: ENOENT/]);
});

t.test('--config repeated: every path, in the order given; a directory is read recursively, kustomization files noted and skipped', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'tree', 'apps', 'web'), { recursive: true });
  await mkdir(join(dir, 'tree', '.git'));
  await writeFile(join(dir, 'tree', 'apps', 'web', 'svc.yaml'), SVC.replace('name: a', 'name: deep'));
  await writeFile(join(dir, 'tree', 'apps', 'kustomization.yaml'), 'resources: [web/svc.yaml]\n');
  await writeFile(join(dir, 'tree', 'top.yaml'), SVC.replace('name: a', 'name: top'));
  await writeFile(join(dir, 'tree', '.git', 'x.yaml'), 'not: [valid');
  await writeFile(join(dir, 'one.yaml'), SVC.replace('name: a', 'name: one'));
  await symlink(join(dir, 'tree'), join(dir, 'tree', 'apps', 'loop')); // a link back up the tree is read once
  const loaded = await load([join(dir, 'one.yaml'), join(dir, 'tree')]);
  t.same(loaded.issues, []);
  t.same(
    loaded.snapshot.services.map((s) => s.name),
    ['one', 'deep', 'top'],
  );
  t.match(loaded.notes, [{ level: 'warn', where: join(dir, 'tree', 'apps', 'kustomization.yaml'), msg: /does not apply it/ }]);
  t.same(loaded.kinds, ['file', 'directory']);
});

t.test('- reads standard input (given as bytes), alongside files', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a.yaml'), SVC);
  const loaded = await load(['-', join(dir, 'a.yaml')], { stdin: Buffer.from(SVC.replace('name: a', 'name: piped')) });
  t.same(loaded.issues, []);
  t.same(
    loaded.snapshot.services.map((s) => `${s.source.file} ${s.name}`),
    ['<stdin> piped', `${join(dir, 'a.yaml')} a`],
  );
  t.same(loaded.kinds, ['stdin', 'file']);
  t.match((await load(['-'], { stdin: new Uint8Array() })).issues.map(formatIssue), [/^<stdin>: the file is empty/]);
});

t.test('readStream keeps what a pipe gives, and stops past the size limit', async (t) => {
  t.equal(Buffer.from(await readStream(Readable.from([Buffer.from('a: '), Buffer.from('1\n')]))).toString(), 'a: 1\n');
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  const endless = Readable.from(
    (function* () {
      for (;;) yield chunk;
    })(),
  );
  t.ok((await readStream(endless)).length > MAX_FILE_BYTES);
});

t.test('a 50 MB file is refused by its size, without being read', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'huge.yaml');
  await writeFile(file, '');
  await truncate(file, 50 * 1024 * 1024); // sparse: no 50 MB written, the size is what stat() says
  const loaded = await load([dir]);
  t.same(loaded.issues.map(formatIssue), [`${file}: the file is 52428800 bytes; the limit is ${MAX_FILE_BYTES}`]);
});

t.test('the files of a snapshot are bounded in total size too', async (t) => {
  const dir = await tempDir(t);
  const body = `${SVC}# ${'x'.repeat(MAX_FILE_BYTES - SVC.length - 100)}\n`;
  const count = Math.ceil(MAX_SNAPSHOT_BYTES / body.length) + 1;
  for (let i = 0; i < count; i++) await writeFile(join(dir, `f${String(i).padStart(2, '0')}.yaml`), body.replace('name: a', `name: s${i}`));
  const read = await readConfig([dir]);
  t.match(read.issues.map(formatIssue), [/f\d\d\.yaml: the config is over \d+ bytes in all with this file; that is the limit/]);
});

t.test('binary and non-UTF-8 files are refused with what they are', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a.yaml'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00]));
  await writeFile(join(dir, 'b.yaml'), Buffer.from('name: caf\xe9\n', 'latin1'));
  await writeFile(join(dir, 'c.yaml'), Buffer.from('\ufeffa: 1\n', 'utf16le'));
  await writeFile(join(dir, 'd.yaml'), Buffer.from(`\ufeff${SVC}`, 'utf8')); // a UTF-8 BOM is fine
  const loaded = await load([dir]);
  t.same(loaded.issues.map(formatIssue), [
    `${join(dir, 'a.yaml')}: the file holds binary data (a NUL byte at offset 7), not YAML or JSON text`,
    `${join(dir, 'b.yaml')}: the file is not UTF-8 text (YAML and JSON manifests are UTF-8)`,
    `${join(dir, 'c.yaml')}: the file is UTF-16 text; save it as UTF-8`,
  ]);
});

t.test('too many files or too deep a tree is one clear problem', async (t) => {
  const dir = await tempDir(t);
  let deep = dir;
  for (let i = 0; i <= MAX_DEPTH + 1; i++) deep = join(deep, `d${i}`);
  await mkdir(deep, { recursive: true });
  await writeFile(join(deep, 'a.yaml'), SVC);
  t.match((await readConfig([dir])).issues.map(formatIssue), [/directories nested more than \d+ levels deep/]);
});

t.test('a reload expects each path to be what it was', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a.yaml'), SVC);
  const read = await readConfig([join(dir, 'a.yaml'), dir], { expect: ['file', 'file'] });
  t.match(read.issues.map(formatIssue), [/the config path was a file when svcproxy started and is now a directory/]);
});
