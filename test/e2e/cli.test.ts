/**
 * The built CLI as users run it: a real child process, a temp config, real
 * sockets through it.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { dialTo, freePort, readAll, request, startEchoServer } from '../helpers/net.js';
import { configDir, runCli, serveCli } from '../helpers/process.js';

function serviceYaml(name: string, port: number, targetPort: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  ports:
    - port: ${port}
      targetPort: ${targetPort}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  labels: {kubernetes.io/service-name: ${name}}
addressType: IPv4
endpoints:
  - addresses: [127.0.0.1]
`;
}

t.test('--check: a valid config exits 0 with a summary and every address of every Service port', async (t) => {
  const dir = await configDir(t, { 'web.yaml': serviceYaml('web', 18080, 8080) });
  const run = await runCli(['--check', '--config', dir]);
  t.equal(run.code, 0);
  t.match(
    run.stdout,
    new RegExp(
      `^${dir}: valid: 1 Service, 1 proxied port, 2 listeners\n  Service default/web port 18080/TCP: 127\\.96\\.\\d+\\.\\d+:18080, 127\\.0\\.0\\.1:18080 \\(bind address\\)\n$`,
    ),
  );
  t.equal(run.stderr, '');
});

t.test('--check: an invalid config exits 1 and prints every problem with file, document, object and path', async (t) => {
  const dir = await configDir(t, {
    'web.yaml': `apiVersion: v1
kind: Service
metadata: {name: ok}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports:
    - {name: http, port: 80}
    - {port: 81, targetPort: Bad}
`,
  });
  const run = await runCli(['--check', '--config', dir]);
  t.equal(run.code, 1);
  const file = join(dir, 'web.yaml');
  t.equal(
    run.stderr,
    [
      `warning: ${file}[0] Service default/ok: the Service has no selector and no Endpoints or EndpointSlice (labelled kubernetes.io/service-name=ok) names it, so it has no endpoints`,
      `${file}[1] Service default/web: spec.ports[1].name: Required value: must be set when a Service has more than one port (at ${file}:12:7, in the object at ${file}:6:1)`,
      `${file}[1] Service default/web: spec.ports[1].targetPort: Invalid value: "Bad": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-) (at ${file}:12:18, in the object at ${file}:6:1)`,
      `${dir}: invalid: 2 problems`,
      '',
    ].join('\n'),
  );
  t.equal(run.stdout, '');
});

t.test('--check reads SVCPROXY_CONFIG and prints warnings without failing', async (t) => {
  const dir = await configDir(t, { 'a.yaml': serviceYaml('web', 18081, 8080).replace('port: 18081', 'port: 18081\n      protocol: SCTP') });
  const run = await runCli(['--check'], { SVCPROXY_CONFIG: dir });
  t.equal(run.code, 0);
  t.match(run.stderr, /^warning: .*a\.yaml\[0\] Service default\/web: spec\.ports\[0\]: SCTP is not supported; no listener$/m);
});

t.test('--version, --help and usage errors', async (t) => {
  const version = await runCli(['--version']);
  t.equal(version.code, 0);
  t.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  const help = await runCli(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--config PATH/);
  const bad = await runCli(['--nope']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^svcproxy: Unknown option '--nope'/);
});

t.test('an invalid config at start-up: one line per problem on stderr, exit 1', async (t) => {
  const dir = await configDir(t, { 'a.yaml': 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 0}]}\n' });
  const run = await runCli(['--config', dir, '--admin-address', `127.0.0.1:${await freePort()}`]);
  t.equal(run.code, 1);
  const file = join(dir, 'a.yaml');
  t.equal(
    run.stderr,
    `${file}[0] Service default/a: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive (at ${file}:4:17, in the object at ${file}:1:1)\n`,
  );
});

t.test('the admin port taken at start-up: a clear line on stderr, exit 1', async (t) => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const address = blocker.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const dir = await configDir(t, { 'a.yaml': serviceYaml('web', await freePort(), 8080) });
  const run = await runCli(['--config', dir, '--admin-address', `127.0.0.1:${port}`]);
  t.equal(run.code, 1);
  t.equal(
    run.stderr,
    `svcproxy: admin server cannot listen on 127.0.0.1:${port}: EADDRINUSE: address already in use 127.0.0.1:${port} (listen)\nsvcproxy: is another svcproxy running? Stop it, or give this one an admin address of its own: --admin-address 127.0.0.1:9902 (or 127.0.0.1:0 for any free port)\n`,
  );
});

t.test('serves: a client talks through the Service port to the targetPort; SIGTERM exits 0', async (t) => {
  const echo = await startEchoServer(t);
  const servicePort = await freePort();
  const adminPort = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceYaml('web', servicePort, echo) });
  const served = serveCli(t, ['--config', dir, '--admin-address', `127.0.0.1:${adminPort}`]);
  await served.waitForLog((l) => l['msg'] === 'started', 'started');

  const client = await dialTo(t, servicePort);
  const outcome = readAll(client);
  client.end('through the proxy');
  t.equal((await outcome).data.toString(), 'through the proxy');

  const health = await fetch(`http://127.0.0.1:${adminPort}/healthz`);
  t.equal(health.status, 200);
  t.equal(await health.text(), 'ok\n');

  served.child.kill('SIGTERM');
  const exit = await served.exited;
  t.equal(exit.code, 0);
  t.ok(served.logs.some((l) => l['msg'] === 'shutting down' && l['signal'] === 'SIGTERM'));
  const after = await request(servicePort);
  t.equal(after.error, 'ECONNREFUSED', 'nothing listens after exit');
});

t.test('a Service port that cannot bind fails alone; the others serve', async (t) => {
  const echo = await startEchoServer(t);
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const address = blocker.address();
  const taken = typeof address === 'object' && address !== null ? address.port : 0;
  const free = await freePort();
  const dir = await configDir(t, { 'a.yaml': serviceYaml('taken', taken, echo), 'b.yaml': serviceYaml('free', free, echo) });
  const served = serveCli(t, ['--config', dir, '--admin-address', `127.0.0.1:${await freePort()}`]);
  const failure = await served.waitForLog((l) => l['level'] === 'error', 'the bind error');
  t.match(failure['msg'], `default/taken: cannot listen on 127.0.0.1:${taken}/TCP: EADDRINUSE`);
  await served.waitForLog((l) => l['msg'] === 'started', 'started');
  t.equal((await request(free, 'still works')).data.toString(), 'still works');
  served.child.kill('SIGTERM');
  t.equal((await served.exited).code, 0);
});
