/**
 * The dashboard with --cluster: the header names the context, server and
 * namespaces followed; while the API server is out of reach a banner says
 * since when and that the last state is served, and it goes when the server
 * is back. svcproxy runs in-process against the fake API server; the page
 * in Debian's chromium driven by playwright-core (skipped without a browser,
 * unless SVCPROXY_REQUIRE_CHROMIUM=1), and the served snapshot over HTTP.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Test } from 'tap';
import t from 'tap';
import { LocalModel } from '../../src/admin/local-model.js';
import { AdminServer } from '../../src/admin/server.js';
import { Svcproxy } from '../../src/instance/instance.js';
import { loadDesired } from '../../src/instance/plan.js';
import { loadClusterAccess } from '../../src/kube/kubeconfig.js';
import { createReflector } from '../../src/kube/reflector.js';
import { ClusterSource } from '../../src/sources/cluster-source.js';
import type { ClusterStatus } from '../../src/sources/cluster-status.js';
import { get, getJson } from '../helpers/admin.js';
import { type FakeApiServer, startFakeApiServer } from '../helpers/fake-apiserver/server.js';
import { testConfig } from '../helpers/instance.js';
import { silentLog } from '../helpers/log.js';
import { eventually } from '../helpers/net.js';
import { isolatedNetwork } from '../helpers/service-network.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const REQUIRED = process.env['SVCPROXY_REQUIRE_CHROMIUM'] === '1';
/** The flags that work in this project's containers (as admin-dashboard.test.ts). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Generous but finite: a loaded 2-core CI machine. */
const WAIT_MS = 20_000;
const TUNING = { backoffInitialMs: 50, backoffMaxMs: 300, requestTimeoutMs: 3000 };

/** svcproxy in this process following the fake's namespace shop; stopped at teardown. Returns the admin port. */
async function startClusterInstance(t: Test, server: FakeApiServer): Promise<number> {
  server.cluster.addService({ namespace: 'shop', name: 'web', selector: { app: 'web' }, ports: [{ name: 'http', port: 9080, targetPort: 18080 }] });
  server.cluster.addPod({ namespace: 'shop', name: 'web-0', labels: { app: 'web' } });
  const kubeconfig = await server.kubeconfig(t, { namespace: 'shop' });
  const cluster = new ClusterSource({
    access: loadClusterAccess({ kubeconfig }),
    namespaces: ['shop'],
    reflector: createReflector,
    log: silentLog,
    tuning: TUNING,
  });
  const net = isolatedNetwork();
  const config = testConfig([], {
    serviceCidr: net.serviceCidr,
    podCidr: net.podCidr,
    bindAddress: net.bindAddress,
    nodeAddress: net.bindAddress,
    cluster: { kubeconfig, context: '', namespaces: ['shop'], allNamespaces: false, podNetwork: 'direct' },
  });
  t.teardown(() => cluster.stop());
  await cluster.synced(WAIT_MS);
  const loaded = await loadDesired(config, [cluster]);
  const proxy = new Svcproxy<AdminServer>(config, silentLog, {
    sources: [cluster],
    admin: (instance) => new AdminServer(new LocalModel(instance), silentLog),
    cluster: () => cluster.status(),
  });
  t.teardown(() => proxy.stop());
  await proxy.start(loaded);
  return proxy.adminPort;
}

async function outageSeen(admin: number, reachable: boolean): Promise<ClusterStatus> {
  let status: ClusterStatus | undefined;
  await eventually(
    async () => {
      status = await getJson<ClusterStatus>(admin, '/api/cluster');
      return status.reachable === reachable;
    },
    reachable ? 'the API server reachable again' : 'the outage to be seen',
    WAIT_MS,
  );
  if (status === undefined) throw new Error('no cluster status');
  return status;
}

t.test('the served page carries the cluster status for its first paint', async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.63' });
  const admin = await startClusterInstance(t, server);
  const page = await get(admin, '/');
  t.match(page.body, /"cluster":\{"context":"[^"]+"/, 'the snapshot has the cluster');
  t.match(page.body, /"reachable":true/);
  t.match(page.body, /id="cluster-outage"/, 'the banner has its place');
  await server.outage('refuse');
  const status = await outageSeen(admin, false);
  const during = await get(admin, '/');
  t.match(during.body, /"reachable":false/, 'a page loaded during the outage paints it at once');
  t.ok(during.body.includes(`"unreachableSince":"${status.unreachableSince}"`), 'with since when');
  await server.recover();
});

const skip = existsSync(CHROMIUM) || REQUIRED ? false : `no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;

t.test('the dashboard in headless chromium: the cluster followed, an outage banner while the API server is away', { skip }, async (t) => {
  if (!existsSync(CHROMIUM)) throw new Error(`SVCPROXY_REQUIRE_CHROMIUM=1 but there is no browser at ${CHROMIUM}`);
  const server = await startFakeApiServer(t, { podNetwork: '127.0.64' });
  const admin = await startClusterInstance(t, server);
  const status = await getJson<ClusterStatus>(admin, '/api/cluster');
  const profile = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
  t.teardown(() => rm(profile, { recursive: true, force: true }));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 },
  });
  t.teardown(() => browser.close());
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`http://127.0.0.1:${admin}/`);
  await page.locator('#cluster', { hasText: `cluster ${status.context} \u00b7 ${status.server} \u00b7 namespaces shop` }).waitFor({ timeout: WAIT_MS });
  t.equal(await page.locator('#cluster-outage').isVisible(), false, 'no banner while the API server answers');
  await server.outage('refuse');
  const down = await outageSeen(admin, false);
  // The page re-reads /api/cluster every 2 s: the banner comes without a reload.
  const banner = page.locator('#cluster-outage', { hasText: /API server out of reach since .+; serving the last state seen/ });
  await banner.waitFor({ state: 'visible', timeout: WAIT_MS });
  t.match(await banner.textContent(), new RegExp(`^cluster ${status.context.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: API server out of reach since `));
  t.equal(await banner.getAttribute('title'), down.unreachableSince, 'the exact time on hover');
  await server.recover();
  await outageSeen(admin, true);
  await page.locator('#cluster-outage').waitFor({ state: 'hidden', timeout: WAIT_MS });
  t.same(pageErrors, [], 'no script errors');
});
