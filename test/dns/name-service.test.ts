import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { NameService } from '../../src/dns/name-service.js';
import { startInstance } from '../helpers/instance.js';
import { captureLogger, silentLog } from '../helpers/log.js';
import { configDir } from '../helpers/process.js';
import { isolatedNetwork } from '../helpers/service-network.js';
import { servicesOf } from '../helpers/dns.js';
import { DNS_CONFIG } from './fixtures.js';

const OPTIONS = { dnsAddress: undefined, clusterDomain: 'cluster.local', serviceCidr: '127.96.0.0/16' };

t.test('the hosts block follows updates and readiness, and is removed at stop', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-names-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const hostsFile = join(dir, 'hosts');
  await writeFile(hostsFile, '# mine\n');
  let db2Ready = false;
  const names = new NameService({ ...OPTIONS, hostsFile }, silentLog, (pod) => pod === 'default/db-2' && db2Ready, true);
  t.equal(names.problem, '', 'no DNS server: nothing to report');
  await names.update(servicesOf(DNS_CONFIG));
  t.notMatch(await readFile(hostsFile, 'utf8'), /127\.0\.50\.3/);
  t.equal(names.current.records.has('db-2.db.default.svc.cluster.local'), false);
  db2Ready = true;
  await names.refresh();
  t.match(await readFile(hostsFile, 'utf8'), /127\.0\.50\.3\tdb\.default\.svc\.cluster\.local .* db-2\.db\.default\.svc\.cluster\.local/);
  t.equal(names.current.records.has('db-2.db.default.svc.cluster.local'), true, 'the zone follows readiness');
  await names.stop();
  t.equal(await readFile(hostsFile, 'utf8'), '# mine\n');
});

t.test('a worker other than the first writes no hosts file and runs no DNS server', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-names-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const hostsFile = join(dir, 'hosts');
  const names = new NameService({ ...OPTIONS, hostsFile, dnsAddress: { host: '127.0.0.1', port: 0 } }, silentLog, () => true, false);
  t.equal(names.dns, undefined);
  await names.update(servicesOf(DNS_CONFIG));
  await names.start();
  await names.stop();
  await t.rejects(readFile(hostsFile), { code: 'ENOENT' });
});

t.test('a hosts file that becomes unwritable: a warning on reload, the proxy keeps serving', async (t) => {
  const net = isolatedNetwork();
  const svc = (name: string): string => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec: {ports: [{port: 7020}]}\n`;
  const dir = await configDir(t, { 'a.yaml': svc('a') });
  const hostsDir = join(dir, 'etc');
  await mkdir(hostsDir);
  const { log, records } = captureLogger('info');
  const proxy = await startInstance(
    t,
    dir,
    { serviceCidr: net.serviceCidr, bindAddress: net.bindAddress, nodeAddress: net.bindAddress, hostsFile: join(hostsDir, 'hosts') },
    log,
  );
  await rm(hostsDir, { recursive: true });
  await writeFile(join(dir, 'a.yaml'), svc('b'));
  t.equal(await proxy.reload('signal'), 'applied');
  t.ok(proxy.services.has('default/b'));
  t.ok(records.some((r) => r.msg === 'hosts file not updated' && r.level === 'warn'));
  t.equal(proxy.ready.ready, true);
});
