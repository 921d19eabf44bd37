import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { FileSource } from '../../src/sources/file-source.js';
import type { SourceTrigger } from '../../src/sources/source.js';
import { serviceWithEndpoints } from '../helpers/instance.js';
import { silentLog } from '../helpers/log.js';
import { eventually } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';

const web = serviceWithEndpoints('web', 8080, [9090]);

t.test('read: equal files, equal versions; a changed file, a new version; objects() validates the read', async (t) => {
  const dir = await configDir(t, { 'web.yaml': web });
  const source = new FileSource({ paths: [dir], watch: false, pollIntervalMs: 0 });
  t.equal(source.description, dir);
  const first = await source.read();
  t.equal((await source.read()).version, first.version);
  await writeFile(join(dir, 'web.yaml'), web.replace('8080', '8081'));
  const second = await source.read();
  t.not(second.version, first.version);
  const objects = await second.objects();
  t.same(objects.issues, []);
  t.same(
    objects.snapshot.services.map((s) => s.ports[0]?.port),
    [8081],
  );
});

t.test('a path that was a directory at the first read and is a file now is an issue, not a new config', async (t) => {
  const dir = await configDir(t, {});
  const path = join(dir, 'config');
  await mkdir(path);
  await writeFile(join(path, 'web.yaml'), web);
  const source = new FileSource({ paths: [path], watch: false, pollIntervalMs: 0 });
  t.same((await (await source.read()).objects()).issues, []);
  await rm(path, { recursive: true });
  await writeFile(path, web);
  const issues = (await (await source.read()).objects()).issues;
  t.match(issues, [{ where: path, message: /was a directory when svcproxy started and is now a file/ }]);
});

t.test('standard input: the bytes given, on every read', async (t) => {
  const source = new FileSource({ paths: ['-'], stdin: Buffer.from(web), watch: true, pollIntervalMs: 0 });
  t.equal(source.description, '<stdin>');
  const a = await source.read();
  t.equal((await source.read()).version, a.version);
  t.equal((await a.objects()).snapshot.services.length, 1);
  source.watch(() => t.fail('standard input is not watched'), silentLog);
  source.stop();
});

t.test('watch: a file written in the directory is reported; after stop(), nothing is', async (t) => {
  const dir = await configDir(t, { 'web.yaml': web });
  const source = new FileSource({ paths: [dir], watch: true, pollIntervalMs: 0 });
  const seen: SourceTrigger[] = [];
  source.watch((trigger) => seen.push(trigger), silentLog);
  t.teardown(() => source.stop());
  await writeFile(join(dir, 'web.yaml'), web.replace('8080', '8082'));
  await eventually(() => seen.includes('watch'), 'the change is reported');
  source.stop();
  const count = seen.length;
  await writeFile(join(dir, 'web.yaml'), web);
  // Nothing may arrive: prove it against a later, awaited event rather than a sleep (a fresh source sees this write).
  const witness = new FileSource({ paths: [dir], watch: true, pollIntervalMs: 0 });
  const later: SourceTrigger[] = [];
  witness.watch((trigger) => later.push(trigger), silentLog);
  t.teardown(() => witness.stop());
  await writeFile(join(dir, 'web.yaml'), web.replace('8080', '8083'));
  await eventually(() => later.length > 0, 'the witness hears the next write');
  t.equal(seen.length, count, 'the stopped source heard nothing');
});
