/**
 * GET /: the dashboard, one self-contained page (inline CSS and script, no
 * CDN, nothing fetched but the admin API and feed). The script is the
 * TypeScript of client/, compiled with the DOM library by its own tsconfig
 * (client/tsconfig.json; `npm run build` and `npm test` run it) next to this
 * file's output, and inlined here in order as one classic script.
 *
 * The first paint comes from the snapshot the page is served with (inlined
 * as JSON, typed as contract.ts's DashboardData); the page then follows
 * /api/events (client/main.ts). Stats ticks update the live numbers, the
 * per-endpoint counts and the sparklines in place; reload, listener and
 * readiness events re-fetch the structure (/api/services, /api/config). Rates
 * show "-" until the first tick has measured them. Each sparkline is labelled
 * with its peak (its scale). With many Service ports the endpoint tables fold
 * away behind a one-line summary, so 30 ports fit in about two screens. With
 * --workers the header lists the workers and each port says how its
 * connections split. Below the Services, the Pods table says where each Pod's
 * process is expected and whether it is ready. With --cluster the header
 * names the context, server and namespaces followed, and while the API
 * server is out of reach a banner says since when (the last state is served);
 * the page re-reads /api/cluster every few seconds, as no feed event says so.
 */
import { readFile } from 'node:fs/promises';
import type { DashboardData } from './contract.js';
import { STYLE } from './style.js';

/** client/'s files in the order they run: helpers first, main.js (state, the feed, the first paint) last. */
const CLIENT_FILES = ['dom.js', 'header.js', 'cluster.js', 'ports.js', 'services.js', 'pods.js', 'main.js'];

let script: Promise<string> | undefined;

/** The compiled client, read once. Wrapped in a function so that none of its names lands on `window`. */
async function readScript(): Promise<string> {
  const parts = await Promise.all(CLIENT_FILES.map((name) => readFile(new URL(`./client/${name}`, import.meta.url), 'utf8')));
  const body = parts.join('\n');
  if (/<\/script/i.test(body)) throw new Error('the dashboard script contains </script>');
  return `(() => {\n${body}\n})();`;
}

function clientScript(): Promise<string> {
  script ??= readScript().catch((err: unknown) => {
    script = undefined; // a later request tries again (a build that was still being written)
    throw err;
  });
  return script;
}

/** JSON that is safe inside a <script> element: no `<` (so no `</script>`), no U+2028/2029. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** The page, with the current snapshot inlined for its first paint. */
export async function dashboardHtml(initial: DashboardData): Promise<string> {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>svcproxy</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>svcproxy <span id="version" class="meta"></span></h1>
  <span id="conn-status" class="pill warn">connecting</span>
  <span id="ready" class="pill warn">unknown</span>
  <span id="config-meta" class="meta"></span>
  <span id="cluster" class="meta"></span>
  <div id="workers"></div>
</header>
<main>
  <div id="reload-errors" role="alert"></div>
  <div id="cluster-outage" role="alert"></div>
  <div id="services"></div>
  <h3 class="meta">Pods</h3>
  <div id="pods-box"><div id="pods"></div></div>
  <h3 class="meta">Events</h3>
  <div id="events"><div class="muted">No events since this page connected.</div></div>
</main>
<script id="initial" type="application/json">${scriptJson(initial)}</script>
<script>${await clientScript()}</script>
</body>
</html>
`;
}
