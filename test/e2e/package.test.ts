/**
 * `npm pack` makes a package people can install: the tarball holds the
 * compiled code, the bundled configs and the docs, and no source, test,
 * map or build file; installed into an empty directory (its dependencies
 * from npm's cache, which `npm ci` filled), its `svcproxy` bin runs.
 *
 * The pack runs in a staging copy, not in the repository, so that the
 * `prepack` build (which rewrites dist/) cannot race other tests: package.json,
 * the docs and config/ are copied as they are, and build/src/ (the same
 * sources compiled with the same options, see test/container/image.ts)
 * stands in for dist/.
 */
import { cp, mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { REPO } from '../container/image.js';
import { runProcess } from '../helpers/process.js';

const npm = (args: string[], cwd: string) =>
  runProcess('npm', args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });

interface PackEntry {
  readonly filename: string;
  readonly files: ReadonlyArray<{ readonly path: string }>;
}

t.test('npm pack: an installable package whose svcproxy bin runs --version and --check', async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), 'svcproxy-pack-'));
  t.teardown(() => rm(tmp, { recursive: true, force: true }));
  const stage = join(tmp, 'stage');
  await mkdir(stage);
  for (const entry of [
    'package.json',
    'README.md',
    'CHANGELOG.md',
    'LICENSE',
    'config',
    'docs',
    'test',
    'scripts/build-native.mjs',
    'native/splice-pump/binding.gyp',
    'native/splice-pump/src',
  ]) {
    await cp(join(REPO, entry), join(stage, entry), { recursive: true });
  }
  await cp(join(REPO, 'build', 'src'), join(stage, 'dist'), { recursive: true });

  const packed = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], stage);
  t.equal(packed.code, 0, packed.stderr);
  const [entry] = JSON.parse(packed.stdout) as PackEntry[];
  if (entry === undefined) throw new Error(`npm pack printed no entry: ${packed.stdout}`);
  const files = entry.files.map((f) => f.path).sort();
  t.ok(files.includes('dist/main.js') && files.includes('dist/app.js'), 'the compiled code');
  t.ok(
    files.includes('config/admin-service.yaml') && files.includes('docs/config.md') && files.includes('README.md') && files.includes('LICENSE'),
    'the bundled configs, the docs and the licence',
  );
  t.ok(
    files.includes('dist/admin/dashboard/page.js') && files.includes('dist/admin/dashboard/client/main.js'),
    'the dashboard page and its browser script (client/, compiled by its own tsconfig)',
  );
  t.ok(files.includes('native/splice-pump/binding.gyp') && files.includes('scripts/build-native.mjs'), "the native pump's sources and its install-time build");
  const stray = files.filter(
    (f) =>
      !/^(dist\/.*\.js|config\/[^/]+\.yaml|docs\/[^/]+\.md|README\.md|CHANGELOG\.md|LICENSE|package\.json|native\/splice-pump\/(binding\.gyp|src\/[^/]+\.[ch])|scripts\/build-native\.mjs)$/.test(
        f,
      ),
  );
  t.same(stray, [], 'nothing else: no TypeScript source, test, source map or build output');
  t.notOk(
    files.some((f) => f.startsWith('test/')),
    'the test/ copied into the staging directory stayed out',
  );

  const app = join(tmp, 'app');
  await mkdir(app);
  // The install script runs (it would build the native pump; SVCPROXY_NATIVE_BUILD=0 makes it say why it does not).
  const installed = await runProcess('npm', ['install', '--prefer-offline', '--no-package-lock', '--foreground-scripts', join(tmp, entry.filename)], {
    cwd: app,
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', SVCPROXY_NATIVE_BUILD: '0' },
  });
  t.equal(installed.code, 0, installed.stderr);
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
  const bin = join(app, 'node_modules', '.bin', 'svcproxy');

  const version = await runProcess(bin, ['--version'], { cwd: app, env: process.env });
  t.equal(version.code, 0, version.stderr);
  t.equal(version.stdout, `${pkg.version}\n`, 'the bin runs, through its shebang, and knows its version');

  const config = join(app, 'node_modules', 'svcproxy', 'config');
  const check = await runProcess(bin, ['--check', '--config', config], { cwd: app, env: process.env });
  t.equal(check.stderr, '');
  t.equal(check.stdout.split('\n')[0], `${config}: valid: 2 Services, 2 proxied ports, 4 listeners, 2 Pods`, "the verdict (then each port's addresses)");
  t.equal(check.code, 0);

  // The installed package serves the dashboard with its script inlined (read from dist/admin/dashboard/client/).
  const page = join(app, 'node_modules', 'svcproxy', 'dist', 'admin', 'dashboard', 'page.js');
  const config0 = {
    config: '',
    hash: '',
    loadedAt: '',
    ready: true,
    reason: 'ok',
    reloads: { success: 0, failure: 0 },
    lastReload: { result: 'none', at: '', errors: [] },
  };
  const render = `const { dashboardHtml } = await import(${JSON.stringify(pathToFileURL(page).href)});
process.stdout.write(await dashboardHtml({ services: { servicePorts: [], services: [] }, config: ${JSON.stringify(config0)}, pods: [] }));`;
  const html = await runProcess(process.execPath, ['--input-type=module', '-e', render], { cwd: app, env: process.env });
  t.equal(html.code, 0, html.stderr);
  t.match(html.stdout, /<script>[\s\S]*new WebSocket[\s\S]*<\/script>/, 'the page with its script');
});
