/**
 * The dashboard's first paint (issue 23, point 9), in Debian's chromium at
 * 1400 px: a page opened while svcproxy has been carrying traffic shows
 * rates and a minute's sparkline at once (the feed's hello carries the
 * recent ticks), the sparkline has a legend, and the Pods table's readiness
 * column is not cut. Skips without a browser, as admin-dashboard.test.ts.
 */
import t from 'tap';
import { FeedClient } from '../helpers/admin.js';
import { startInstance } from '../helpers/instance.js';
import { dialTo, eventually, freePort, startEchoServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';
import { isolatedNetwork } from '../helpers/service-network.js';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';

const skip = chromiumSkip;

const config = (port: number, echo: number): string => `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: ${port}, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: shop}
subsets: [{addresses: [{ip: 127.0.0.1}], ports: [{name: http, port: ${echo}}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v1-with-a-long-name}
spec:
  replicas: 2
  selector: {matchLabels: {app: reviews}}
  template:
    metadata: {labels: {app: reviews}}
    spec:
      containers: [{name: reviews, ports: [{name: http, containerPort: 9080}]}]
`;

t.test('first paint: rates, a sparkline with a legend, and the whole readiness column at 1400 px', { skip }, async (t) => {
  const net = isolatedNetwork();
  const echo = await startEchoServer(t);
  const port = await freePort();
  const adminPort = await freePort();
  const dir = await configDir(t, { 'shop.yaml': config(port, echo) });
  await startInstance(t, dir, { admin: { host: '127.0.0.1', port: adminPort }, serviceCidr: net.serviceCidr, podCidr: net.podCidr });

  // Someone has been watching (another tab, a script) while traffic flowed: ten ticks of history.
  const watcher = await FeedClient.connect(t, adminPort);
  const socket = await dialTo(t, port);
  socket.on('data', () => undefined).on('error', () => undefined);
  const traffic = setInterval(() => socket.write('x'.repeat(16 * 1024)), 100);
  t.teardown(() => clearInterval(traffic));
  await watcher.until(() => watcher.count('stats') >= 10, 'ten stats ticks', 20_000);

  const { page } = await launchChromium(t);
  await page.goto(`http://127.0.0.1:${adminPort}/`);
  await page.locator('#conn-status', { hasText: /^live$/ }).waitFor({ timeout: 10_000 });
  const spark = page.locator('[data-key="shop/web:http"] svg.spark');
  // A page that had to measure for itself would have at most a point or two a second after it connected.
  await eventually(async () => Number(await spark.getAttribute('data-points')) >= 8, 'the sparkline painted from the feed hello', 1500);
  t.match(await page.locator('[data-key="shop/web:http"] [data-field="rx"]').textContent(), /\d.*B\/s$/, 'the in/s rate at first paint');
  t.match(await page.locator('[data-key="shop/web:http"] [data-field="peak"]').textContent(), /^peak \d/);
  t.equal(await spark.locator('polyline').count(), 2, 'two lines');
  const legend = page.locator('[data-key="shop/web:http"] [data-field="legend"]');
  t.ok(await legend.isVisible(), 'a legend beside the sparkline');
  t.equal(await legend.textContent(), 'in/sout/s');
  t.same(
    await legend.locator('i').evaluateAll((marks) => marks.map((m) => m.ownerDocument.defaultView?.getComputedStyle(m).backgroundColor)),
    ['rgb(9, 105, 218)', 'rgb(130, 80, 223)'],
    'each mark in its line colour (--rx, --tx)',
  );

  const cells = page.locator('table.pods tbody tr td:nth-child(6)');
  t.equal(await cells.count(), 2, 'a row per Pod');
  const cut = await cells.evaluateAll((tds) =>
    tds
      .filter((td) => td.scrollWidth > td.clientWidth || td.getBoundingClientRect().right > (td.ownerDocument.defaultView?.innerWidth ?? 0))
      .map((td) => td.textContent),
  );
  t.same(cut, [], 'no readiness cell is cut at 1400 px');
  t.match(await cells.first().textContent(), /^tcpSocket :9080 \(http\) \(implied: no readinessProbe\)$/);
});
