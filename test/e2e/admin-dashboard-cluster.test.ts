/**
 * The dashboard with --cluster: the header names the context, server and
 * namespaces followed; while the API server is out of reach a banner says
 * since when and that the last state is served, and it goes when the server
 * is back. svcproxy runs in-process against the fake API server; the page
 * in Debian's chromium driven by playwright-core (skipped without a browser,
 * unless SVCPROXY_REQUIRE_CHROMIUM=1), and the served snapshot over HTTP.
 */
import type { Test } from 'tap';
import t from 'tap';
import type { ClusterStatus } from '../../src/sources/cluster-status.js';
import { get, getJson } from '../helpers/admin.js';
import { POD_PORT, startClusterInstance, WAIT_MS } from '../helpers/cluster.js';
import { type FakeApiServer, startFakeApiServer } from '../helpers/fake-apiserver/server.js';
import { eventually } from '../helpers/net.js';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';

/** svcproxy following the fake's namespace shop, with one Service and one Pod; returns the admin port. */
async function startWithWeb(t: Test, server: FakeApiServer): Promise<number> {
  server.cluster.addService({ namespace: 'shop', name: 'web', selector: { app: 'web' }, ports: [{ name: 'http', port: 9080, targetPort: POD_PORT }] });
  server.cluster.addPod({ namespace: 'shop', name: 'web-0', labels: { app: 'web' } });
  return (await startClusterInstance(t, server)).admin;
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
  const admin = await startWithWeb(t, server);
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

const skip = chromiumSkip;

t.test('the dashboard in headless chromium: the cluster followed, an outage banner while the API server is away', { skip }, async (t) => {
  const server = await startFakeApiServer(t, { podNetwork: '127.0.64' });
  const admin = await startWithWeb(t, server);
  const status = await getJson<ClusterStatus>(admin, '/api/cluster');
  const { page } = await launchChromium(t);
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
