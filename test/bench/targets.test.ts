import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { addonNear, direct, freePort, haproxyDriver, nginxDriver, nodePipeDriver, streamModule, svcproxyDriver, which } from '../../scripts/bench/targets.js';
import { Processes } from '../../scripts/bench/processes.js';
import { CLI } from '../helpers/process.js';

t.test('streamModule: built in, dynamic (found or not), or absent', async (t) => {
  t.equal(streamModule('configure arguments: --with-stream --with-http_ssl_module'), undefined);
  t.equal(streamModule('configure arguments: --with-http_ssl_module'), null);
  const dir = await mkdtemp(join(tmpdir(), 'bench-mod-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.equal(streamModule(`--modules-path=${dir} --with-stream=dynamic`, []), null, 'dynamic but no .so anywhere');
  await writeFile(join(dir, 'ngx_stream_module.so'), '');
  t.equal(streamModule(`--modules-path=${dir} --with-stream=dynamic`, []), join(dir, 'ngx_stream_module.so'));
  t.equal(streamModule('--with-stream=dynamic', [dir]), join(dir, 'ngx_stream_module.so'), 'found in a fallback directory');
});

t.test('which finds programs on PATH and answers undefined for missing ones', async (t) => {
  t.match(which('sh'), /\/sh$/);
  t.equal(which('no-such-program-svcproxy-bench'), undefined);
});

t.test('freePort hands out a loopback port and refuses other addresses', async (t) => {
  const port = await freePort('127.0.0.1');
  t.ok(port > 0 && port < 65536);
  await t.rejects(freePort('0.0.0.0'), { name: 'NotLoopbackError' });
});

t.test('direct targets the backends themselves, with no process', async (t) => {
  t.same(direct.detect(), { ok: true, version: 'no proxy', setup: 'the load generator connects to the backends' });
  const processes = new Processes();
  const target = await direct.start({ host: '127.0.0.1', backends: { discard: 1, echo: 2 }, processes, dir: '/nonexistent', maxConnections: 1 });
  t.same(target, { name: 'direct', ports: { discard: 1, echo: 2 }, process: undefined, fdLimit: undefined });
});

t.test('svcproxy is reported missing, with the fix, when the entry point is not built', async (t) => {
  const found = svcproxyDriver('/nonexistent/dist/main.js').detect();
  t.same(found, { ok: false, note: '/nonexistent/dist/main.js not found (npm run build)', required: true });
  t.match(svcproxyDriver('/nonexistent/dist/main.js', 'js').detect(), { ok: false, required: true });
});

t.test('svcproxy with its native pump is skipped, not fatal, where the addon is not built', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-bench-entry-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const entry = join(dir, 'dist', 'main.js');
  await mkdir(join(dir, 'dist'));
  await writeFile(entry, 'console.log("0.0.0")\n');
  t.equal(addonNear(entry), undefined);
  t.match(svcproxyDriver(entry, 'native').detect(), { ok: false, note: /native splice pump is not built/ });
  t.not((svcproxyDriver(entry, 'native').detect() as { required?: boolean }).required, true);
  t.match(svcproxyDriver(entry, 'js').detect(), { ok: true, setup: /--pump js/ });
  await mkdir(join(dir, 'native', 'splice-pump', 'build', 'Release'), { recursive: true });
  await writeFile(join(dir, 'native', 'splice-pump', 'build', 'Release', 'splice_pump.node'), '');
  t.match(svcproxyDriver(entry, 'native').detect(), { ok: true, setup: /--pump native/ });
});

t.test('the bare Node pipe proxy is found next to the bench, or skipped', async (t) => {
  t.match(nodePipeDriver().detect(), { ok: true, setup: /pipe\(\)/ });
  t.match(nodePipeDriver('/nonexistent/node-pipe-proxy.js').detect(), { ok: false, note: /not found/ });
});

t.test('svcproxy with --workers says so in its setup', async (t) => {
  const found = svcproxyDriver(CLI, 'native', 2).detect();
  t.match(found, { ok: true, setup: /--log-level warn --workers 2$/ });
  t.match(svcproxyDriver(CLI).detect(), { ok: true, setup: /--log-level warn$/ });
});

t.test('peers: detected with a version, or skipped with an install hint', async (t) => {
  for (const driver of [haproxyDriver(), nginxDriver()]) {
    const found = driver.detect();
    if (found.ok) t.match(found.version, /^\d+\.\d+/, `${driver.name} version`);
    else t.match(found.note, /apt-get install/, `${driver.name} skipped with a hint`);
  }
});
