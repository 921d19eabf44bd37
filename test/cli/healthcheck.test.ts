import t from 'tap';
import { healthcheck } from '../../src/cli/healthcheck.js';
import { freePort, startServer } from '../helpers/net.js';
import { runCli } from '../helpers/process.js';

async function healthyServer(t: Parameters<typeof startServer>[0], host = '127.0.0.1'): Promise<number> {
  return startServer(t, (s) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\n\r\nok\n')), host);
}

async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await healthcheck(
    argv,
    env,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out, err };
}

t.test('the admin address: the flag over SVCPROXY_ADMIN_ADDRESS over the default; a wildcard is checked on loopback', async (t) => {
  const port = await healthyServer(t);
  const closed = await freePort();
  t.same(await run(['--admin-address', `127.0.0.1:${port}`], { SVCPROXY_ADMIN_ADDRESS: `127.0.0.1:${closed}` }), {
    code: 0,
    out: [`healthy: 127.0.0.1:${port}/healthz: http 200`],
    err: [],
  });
  t.same(await run([], { SVCPROXY_ADMIN_ADDRESS: `127.0.0.1:${closed}` }), { code: 1, out: [], err: [`unhealthy: 127.0.0.1:${closed}/healthz: ECONNREFUSED`] });
  t.match(await run([], { SVCPROXY_ADMIN_ADDRESS: `0.0.0.0:${port}` }), { code: 0, out: [`healthy: 127.0.0.1:${port}/healthz: http 200`] });
  const v6 = await healthyServer(t, '::1');
  t.match(await run(['--admin-address', `[::]:${v6}`]), { code: 0, out: [`healthy: [::1]:${v6}/healthz: http 200`] });
});

t.test('usage errors exit 2', async (t) => {
  t.match(await run(['--admin-address', 'localhost:9901']), { code: 2, err: ['svcproxy healthcheck: --admin-address: "localhost:9901" is not HOST:PORT'] });
  t.match(await run(['--timeout', 'soon']), { code: 2, err: ['svcproxy healthcheck: --timeout: "soon" is not a duration such as 500ms or 2s'] });
  t.match(await run(['--timeout', '0']), { code: 2 });
  t.match(await run(['--bogus']), { code: 2, err: [/Unknown option '--bogus'/] });
  t.match(await run(['--help']), { code: 0, out: [/^Usage: svcproxy healthcheck/] });
});

t.test('svcproxy healthcheck as a process: the subcommand of the executable', async (t) => {
  const port = await healthyServer(t);
  const ok = await runCli(['healthcheck'], { SVCPROXY_ADMIN_ADDRESS: `127.0.0.1:${port}` });
  t.equal(ok.code, 0);
  t.equal(ok.stdout, `healthy: 127.0.0.1:${port}/healthz: http 200\n`);
  const down = await runCli(['healthcheck', '--admin-address', `127.0.0.1:${await freePort()}`, '--timeout', '1s']);
  t.equal(down.code, 1);
  t.match(down.stderr, /^unhealthy: .*ECONNREFUSED\n$/);
});
