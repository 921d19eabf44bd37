import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BLOCK_BEGIN, BLOCK_END, hostsBlockLines, spliceHostsBlock, updateHostsFile } from '../../src/dns/hosts-file.js';
import { servicesOf } from '../helpers/dns.js';
import { DNS_CONFIG } from './fixtures.js';

const block = (lines: string[]): string => [BLOCK_BEGIN, ...lines, BLOCK_END, ''].join('\n');

t.test('the block: each Service address with its names; ready headless endpoints; no ExternalName', async (t) => {
  const services = servicesOf(DNS_CONFIG);
  const lines = hostsBlockLines(services.values(), 'cluster.local', () => false);
  const web = services.get('default/web')?.addresses[0] ?? '';
  t.ok(lines.includes(`${web}\tweb.default.svc.cluster.local web.default.svc web.default web`));
  t.ok(
    lines.some((l) => /^127\.96\.\d+\.\d+\tapi\.shop\.svc\.cluster\.local api\.shop\.svc api\.shop$/.test(l)),
    'no bare name outside default',
  );
  t.ok(lines.includes('127.0.50.1\tdb.default.svc.cluster.local db.default.svc db.default db db-0.db.default.svc.cluster.local'));
  t.notOk(
    lines.some((l) => l.startsWith('127.0.50.3')),
    'a probed Pod that is not ready is left out',
  );
  t.notOk(
    lines.some((l) => l.includes('search')),
    'ExternalName has no address',
  );
  t.ok(lines.includes('::1\tdual.default.svc.cluster.local dual.default.svc dual.default dual'));
});

t.test('splice: only the block changes, wherever it is; removal leaves the rest byte for byte', async (t) => {
  const outside = '127.0.0.1 localhost\n# a comment\r\n::1 localhost ip6-localhost';
  const added = spliceHostsBlock(outside, ['127.96.0.1\tweb']);
  t.equal(added, `${outside}\n${block(['127.96.0.1\tweb'])}`);
  t.equal(spliceHostsBlock(added, undefined), `${outside}\n`, 'the newline svcproxy added before the block stays (the file now ends with one)');
  const middle = `a\n${block(['old'])}b\n`;
  t.equal(spliceHostsBlock(middle, ['new']), `a\n${block(['new'])}b\n`);
  t.equal(spliceHostsBlock(middle, undefined), 'a\nb\n');
  t.equal(spliceHostsBlock('', ['x']), block(['x']));
  t.equal(spliceHostsBlock(`a\n${BLOCK_BEGIN}\ncut by hand\n`, ['x']), `a\n${block(['x'])}`, 'an unterminated block runs to the end');
  t.equal(spliceHostsBlock('a\n', undefined), 'a\n', 'nothing to remove');
});

t.test('updateHostsFile: atomic rename, mode kept, unchanged content not rewritten, errors thrown', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-hosts-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'hosts');
  await writeFile(path, '127.0.0.1 localhost\n', { mode: 0o640 });
  await chmod(path, 0o640);
  const inode = (await stat(path)).ino;
  t.equal(await updateHostsFile(path, ['127.96.0.1\tweb']), true);
  t.equal(await readFile(path, 'utf8'), `127.0.0.1 localhost\n${block(['127.96.0.1\tweb'])}`);
  const after = await stat(path);
  t.not(after.ino, inode, 'replaced by a rename, never half-written');
  t.equal(after.mode & 0o777, 0o640);
  t.equal(await updateHostsFile(path, ['127.96.0.1\tweb']), false, 'same content: no write');
  t.equal(await updateHostsFile(path, undefined), true);
  t.equal(await readFile(path, 'utf8'), '127.0.0.1 localhost\n');
  t.equal(await updateHostsFile(join(dir, 'new-hosts'), ['x']), true, 'a missing file is created');
  await t.rejects(updateHostsFile(join(dir, 'no', 'such', 'dir'), ['x']), { code: 'ENOENT' });
});
