/**
 * The dashboard in a real browser: Debian's chromium driven by
 * playwright-core (which downloads nothing). svcproxy runs in-process; the
 * page must show a live connection made through a Service, a reload's new
 * endpoint, a rejected reload's errors, and reconnect after svcproxy
 * restarts on the same admin port.
 *
 * Skips when there is no browser at CHROMIUM_PATH (default /usr/bin/chromium),
 * unless SVCPROXY_REQUIRE_CHROMIUM=1 (set by .ci/run), where that fails.
 * SVCPROXY_DASHBOARD_SCREENSHOT=path also copies the first screenshot there
 * (how docs/dashboard.png is made).
 */
import { once } from 'node:events';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { serviceWithDeployment, startInstance } from '../helpers/instance.js';
import { dialTo, eventually, freePort, startEchoServer, startServer } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';
import { isolatedNetwork } from '../helpers/service-network.js';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';

const SCREENSHOT_COPY = process.env['SVCPROXY_DASHBOARD_SCREENSHOT'];

interface Ports {
  web: number;
  cart: number;
  payments: number;
  a: number;
  b: number;
  down: number;
}

/** An EndpointSlice of `service` with one endpoint on 127.0.0.1:`port` (`conditions`: more of its YAML, such as its conditions). */
function slice(
  ns: string,
  name: string,
  service: string,
  { port, portName, conditions = '' }: { port: number; portName: string; conditions?: string },
): string {
  return `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}, namespace: ${ns}, labels: {kubernetes.io/service-name: ${service}}}
addressType: IPv4
ports: [{name: "${portName}", port: ${port}}]
endpoints: [{addresses: [127.0.0.1]${conditions}}]
`;
}

/** shop/web (two ready endpoints, one down), shop/cart (an Endpoints object; `cartPorts` its ports), default/payments (a terminating endpoint). */
function manifests(p: Ports, cartPorts: number[]): string {
  return `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: ${p.web}, targetPort: 8080}]
${slice('shop', 'web-a', 'web', { port: p.a, portName: 'http' })}${slice('shop', 'web-b', 'web', { port: p.b, portName: 'http' })}${slice('shop', 'web-c', 'web', { port: p.down, portName: 'http', conditions: ', conditions: {ready: false, serving: false}' })}---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  ports: [{name: http, port: ${p.cart}, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: cart, namespace: shop}
subsets:
${cartPorts.map((port) => `  - {addresses: [{ip: 127.0.0.1}], ports: [{name: http, port: ${port}}]}`).join('\n')}
---
apiVersion: v1
kind: Service
metadata: {name: payments}
spec:
  ports: [{port: ${p.payments}, targetPort: 9000}]
${slice('default', 'payments-1', 'payments', { port: p.b, portName: '', conditions: ', conditions: {ready: false, serving: true, terminating: true}' })}`;
}

/** Waits until the element matched by `selector` has exactly `text`. */
async function shows(page: Page, selector: string, text: string | RegExp, timeout = 10_000): Promise<void> {
  await page
    .locator(selector, { hasText: typeof text === 'string' ? new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : text })
    .first()
    .waitFor({ timeout });
}

const skip = chromiumSkip;

t.test('the dashboard in headless chromium: live connections, reloads, errors, reconnect', { skip }, async (t) => {
  // Endpoint a answers every chunk twice, so the two directions differ on the sparkline.
  const a = await startServer(t, (s) => s.on('data', (c: Buffer) => s.write(Buffer.concat([c, c]))));
  const b = await startEchoServer(t);
  const ports: Ports = { web: await freePort(), cart: await freePort(), payments: await freePort(), a, b, down: await freePort() };
  const dir = await configDir(t, { 'shop.yaml': manifests(ports, [a]) });
  const adminPort = await freePort();
  const options = { admin: { host: '127.0.0.1', port: adminPort } };
  const first = await startInstance(t, dir, options);

  const shots = await mkdtemp(join(tmpdir(), 'svcproxy-dashboard-'));
  t.teardown(() => rm(shots, { recursive: true, force: true }));
  const { page } = await launchChromium(t);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/ERR_CONNECTION_REFUSED|WebSocket connection/.test(msg.text())) pageErrors.push(msg.text());
  });

  await page.goto(`http://127.0.0.1:${adminPort}/`);
  await shows(page, '#conn-status', 'live');
  await shows(page, '#ready', 'ready');
  await shows(page, '[data-key="shop/web:http"] tr[data-endpoint="127.0.0.1:' + ports.down + '"] [data-field="state"]', 'not ready');
  await shows(page, '[data-key="default/payments"] [data-field="state"]', 'terminating (serving)');
  // Each Service card names its own address and DNS name.
  await shows(page, '[data-service="shop/web"] [data-field="addresses"]', /^\s*127\.96\.\d+\.\d+ \u00b7 web\.shop\.svc\.cluster\.local$/);

  // One connection through shop/web, held open and kept busy so the sparkline has something to draw.
  const web = await dialTo(t, ports.web);
  web.on('data', () => undefined).on('error', () => undefined); // reset when the first instance stops
  const cart = await dialTo(t, ports.cart);
  cart.on('data', () => undefined).on('error', () => undefined);
  let beat = 0;
  const traffic = setInterval(() => {
    beat++;
    web.write('w'.repeat(Math.round(32 * 1024 * (1.2 + Math.sin(beat / 6)))));
    cart.write('c'.repeat(Math.round(12 * 1024 * (1.2 + Math.cos(beat / 4)))));
  }, 100);
  t.teardown(() => clearInterval(traffic));
  await shows(page, '[data-key="shop/web:http"] .port-head [data-field="active"]', '1');
  await shows(page, '[data-key="shop/web:http"] tr[data-endpoint] [data-field="active"]', '1');
  await shows(page, '[data-key="shop/web:http"] .port-head [data-field="connections"]', '1');
  await shows(page, '[data-key="shop/web:http"] .port-head [data-field="rx"]', /KiB\/s$/);

  // A reload that adds an endpoint to shop/cart: the page re-reads the structure.
  await writeFile(join(dir, 'shop.yaml'), manifests(ports, [a, b]));
  await shows(page, '[data-key="shop/cart:http"] tr[data-endpoint="127.0.0.1:' + b + '"] [data-field="state"]', 'ready');
  await shows(page, '#events', /reload \(watch\): success/);
  await eventually(
    async () => Number(await page.locator('[data-key="shop/web:http"] svg.spark').getAttribute('data-points')) >= 8,
    'eight sparkline points',
    20_000,
  );

  const shot = join(shots, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  const png = await readFile(shot);
  t.same([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  t.ok(png.length > 20_000, `a real screenshot (${png.length} bytes)`);
  if (SCREENSHOT_COPY !== undefined) await copyFile(shot, SCREENSHOT_COPY);

  // A rejected reload is shown plainly, with the problem's file and field.
  await writeFile(join(dir, 'shop.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 70000}]\n');
  await shows(page, '#reload-errors h2', /^Last reload failed at .+; still serving the config loaded at /);
  await shows(page, '#reload-errors pre', /shop\.yaml\[0\] Service default\/web: spec\.ports\[0\]\.port: .*70000/);
  await page.screenshot({ path: join(shots, 'dashboard-reload-error.png'), fullPage: true });

  // svcproxy goes away and comes back on the same admin port: the page says so, then reconnects.
  clearInterval(traffic);
  await first.stop();
  await shows(page, '#conn-status', /^disconnected; reconnecting in /);
  await writeFile(join(dir, 'shop.yaml'), manifests(ports, [a]));
  await startInstance(t, dir, options);
  await shows(page, '#conn-status', 'live', 15_000);
  await shows(page, '[data-key="shop/web:http"] .port-head [data-field="connections"]', '0');
  t.equal(await page.locator('#reload-errors').isVisible(), false, 'the new instance has no failed reload');
  t.same(pageErrors, [], 'no script errors in the page');
});

/** `count` Services `svc-0`..`svc-N`, one port each, every one with the endpoints `endpoints`. */
function manyServices(ports: readonly number[], endpoints: readonly number[]): string {
  return ports
    .map(
      (port, i) => `---
apiVersion: v1
kind: Service
metadata: {name: svc-${String(i).padStart(2, '0')}}
spec:
  ports: [{port: ${port}, targetPort: 8080}]
${endpoints.map((e, j) => slice('default', `svc-${String(i).padStart(2, '0')}-${j}`, `svc-${String(i).padStart(2, '0')}`, { port: e, portName: '' })).join('')}`,
    )
    .join('');
}

async function openBrowser(t: Parameters<typeof startServer>[0]): Promise<{ page: Page; errors: string[] }> {
  const { page } = await launchChromium(t);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  return { page, errors };
}

t.test('30 Service ports: first paint from the served snapshot, compact, live per-endpoint counts, a peak label', { skip }, async (t) => {
  const a = await startEchoServer(t);
  const b = await startEchoServer(t);
  const ports: number[] = [];
  for (let i = 0; i < 30; i++) ports.push(await freePort());
  const dir = await configDir(t, { 'many.yaml': manyServices(ports, [a, b]) });
  const adminPort = await freePort();
  await startInstance(t, dir, { admin: { host: '127.0.0.1', port: adminPort } });
  const first = ports[0] ?? 0;
  for (let i = 0; i < 4; i++) {
    const c = await dialTo(t, first);
    c.resume().end('x');
    await once(c, 'close');
  }

  // Without a WebSocket at all, the page still paints everything from the snapshot it was served with.
  const still = await openBrowser(t);
  // A WebSocket that never opens and never closes: the first paint must not need one.
  await still.page.addInitScript({ content: 'window.WebSocket = class { constructor() {} };' });
  await still.page.goto(`http://127.0.0.1:${adminPort}/`);
  t.equal(await still.page.locator('.port[data-key]').count(), 30, 'all 30 Service ports painted');
  t.equal(await still.page.locator('#conn-status').textContent(), 'connecting', 'no socket was involved');
  t.equal(
    await still.page.locator('[data-key="default/svc-00"] .port-head [data-field="connections"]').textContent(),
    '4',
    'counts from the snapshot, not zeros',
  );
  t.equal(await still.page.locator('[data-key="default/svc-00"] .port-head [data-field="cps"]').textContent(), '-', 'a rate is "-" until it is measured');
  t.match(await still.page.locator('[data-key="default/svc-00"] [data-field="endpoints"]').textContent(), /^2 endpoints: 2 ready$/);

  const { page, errors } = await openBrowser(t);
  await page.goto(`http://127.0.0.1:${adminPort}/`);
  await shows(page, '#conn-status', 'live');
  const height = Number(await page.evaluate('document.documentElement.scrollHeight'));
  t.ok(height <= 2 * 900, `30 ports in two screens or less (${height} px at 900 px a screen)`);
  t.equal(await page.locator('tr[data-endpoint]').first().isVisible(), false, 'endpoint tables are folded with this many ports');

  // Unfold one port's endpoints: its per-endpoint counts follow the stats ticks, with no reload or refresh.
  await page.locator('[data-key="default/svc-00"] summary').click();
  const rows = page.locator('[data-key="default/svc-00"] tr[data-endpoint] [data-field="connections"]');
  const before = (await rows.allTextContents()).map(Number).reduce((x, y) => x + y, 0);
  t.equal(before, 4);
  const held = await dialTo(t, first);
  held.on('data', () => undefined).on('error', () => undefined);
  const busy = setInterval(() => held.write('y'.repeat(16 * 1024)), 50);
  t.teardown(() => clearInterval(busy));
  await eventually(async () => (await rows.allTextContents()).map(Number).reduce((x, y) => x + y, 0) === 5, 'the endpoint counts to go up live', 10_000);
  await shows(page, '[data-key="default/svc-00"] tr[data-endpoint] [data-field="active"]', '1');
  await shows(page, '[data-key="default/svc-00"] [data-field="peak"]', /^peak \d+(\.\d)? (KiB|MiB)\/s$/);
  await shows(page, '[data-key="default/svc-01"] [data-field="peak"]', 'peak 0 B/s');
  if (SCREENSHOT_COPY !== undefined) await page.screenshot({ path: SCREENSHOT_COPY.replace(/\.png$/, '-many.png'), fullPage: true });
  clearInterval(busy);
  t.same(errors, [], 'no script errors in the page');
});

t.test('the Pods table: where each Pod is expected, live readiness, a scaled-down Pod terminating then gone', { skip }, async (t) => {
  const net = isolatedNetwork();
  const servicePort = await freePort();
  // 'terminating' lasts the grace period: 2 s was shorter than a loaded machine's browser takes to show it.
  const dir = await configDir(t, {
    'web.yaml': serviceWithDeployment(2, servicePort).replace('terminationGracePeriodSeconds: 2', 'terminationGracePeriodSeconds: 10'),
  });
  const adminPort = await freePort();
  const proxy = await startInstance(t, dir, {
    admin: { host: '127.0.0.1', port: adminPort },
    podCidr: net.podCidr,
    serviceCidr: net.serviceCidr,
    bindAddress: net.bindAddress,
    nodeAddress: net.bindAddress,
  });
  const pods = [...proxy.pods.values()];
  t.equal(pods.length, 2);
  const { page, errors } = await openBrowser(t);
  await page.goto(`http://127.0.0.1:${adminPort}/`);
  await shows(page, '#pods [data-field="pods"]', '2 Pods, 0 ready');
  for (const p of pods) {
    await shows(page, `tr[data-pod="${p.key}"] [data-field="address"]`, p.address);
    await shows(page, `tr[data-pod="${p.key}"] [data-field="state"]`, 'not ready');
  }
  await shows(page, `tr[data-pod="${pods[0]?.key ?? ''}"]`, /Deployment web.*8080\/TCP.*tcpSocket :8080 \(http\) \(implied: no readinessProbe\)/);
  // Start "the process" of each Pod at its address: the rows turn ready as the probes find them.
  const servers = await Promise.all(
    pods.map(async (p) => {
      const { createServer } = await import('node:net');
      const server = createServer((s) => s.end());
      server.listen(8080, p.address);
      await once(server, 'listening');
      t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
      return server;
    }),
  );
  t.equal(servers.length, 2);
  await shows(page, '#pods [data-field="pods"]', '2 Pods, 2 ready', 15_000);
  await writeFile(
    join(dir, 'web.yaml'),
    serviceWithDeployment(1, servicePort).replace('terminationGracePeriodSeconds: 2', 'terminationGracePeriodSeconds: 10'),
  );
  await shows(page, '#pods [data-field="state"]', 'terminating');
  await shows(page, '#events', /pods changed/);
  await shows(page, '#pods [data-field="pods"]', '1 Pod, 1 ready', 15_000);
  t.equal(await page.locator('#pods tr[data-pod]').count(), 1, 'the terminating Pod is gone after its grace period');
  t.same(errors, [], 'no script errors in the page');
});
