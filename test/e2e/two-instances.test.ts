/**
 * Two instances, as the README runs them (issue 23, point 2): the quick
 * start's on the bundled config, then bookinfo's with an admin address of
 * its own. Both come up; the bundled Service follows --admin-address; a
 * second instance on a taken admin port says what to do.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { REPO, rewriteManifests } from '../container/image.js';
import { get, getJson } from '../helpers/admin.js';
import { freePort, request } from '../helpers/net.js';
import { configDir, runCli, serveCli, type Served } from '../helpers/process.js';
import { isolatedNetwork, sharedManifest } from '../helpers/service-network.js';

function network(): string[] {
  const net = isolatedNetwork();
  return ['--service-cidr', net.serviceCidr, '--pod-cidr', net.podCidr, '--bind-address', net.bindAddress];
}

const started = (served: Served): Promise<unknown> => served.waitForLog((l) => l['msg'] === 'started', 'started', 20_000);

t.test('the quick start and bookinfo side by side: both come up, each on its own admin address', async (t) => {
  // The quick start: the bundled config (its Service port moved to a free one), on an admin address it was not written for.
  const servicePort = await freePort();
  const bundled = rewriteManifests(await readFile(join(REPO, 'config', 'admin-service.yaml'), 'utf8'), { ports: new Map([[8080, servicePort]]) });
  const quick = await configDir(t, { 'admin-service.yaml': bundled });
  const adminA = await freePort();
  const first = serveCli(t, ['--config', quick, '--admin-address', `127.0.0.1:${adminA}`, '--bind-address', '127.0.0.1']);
  await started(first);
  const through = await request(servicePort, 'GET /healthz HTTP/1.0\r\n\r\n');
  t.match(through.data.toString(), /^HTTP\/1\.1 200 [^]*\r\n\r\nok/, 'the bundled Service reaches the admin server where --admin-address put it');

  // A second instance on the same admin address: refused, saying how to run two.
  const book = await configDir(t, { 'bookinfo.yaml': (await sharedManifest('bookinfo.yaml')).text });
  const clash = await runCli(['--config', book, '--admin-address', `127.0.0.1:${adminA}`, ...network()]);
  t.equal(clash.code, 1);
  t.match(clash.stderr, /EADDRINUSE: address already in use .*\nsvcproxy: is another svcproxy running\? .*--admin-address 127\.0\.0\.1:9902/);

  // As the README runs it: its own admin address.
  const adminB = await freePort();
  const second = serveCli(t, ['--config', book, '--admin-address', `127.0.0.1:${adminB}`, ...network()]);
  await started(second);
  const pods = await getJson<{ pods: unknown[] }>(adminB, '/api/pods');
  t.equal(pods.pods.length, 6, "bookinfo's six Pods");
  t.equal((await get(adminA, '/healthz')).status, 200, 'the first still serves');
  t.match((await request(servicePort, 'GET /healthz HTTP/1.0\r\n\r\n')).data.toString(), /\r\n\r\nok/, 'and its Service still answers');
});
