/**
 * --access-log as the command line gives it: to a file (one line per TCP
 * connection and UDP flow), to stdout (`-`, next to svcproxy's own log),
 * with --workers (each worker appends to the same file), and a path that
 * cannot be opened (an error at start).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { metric, scrape } from '../helpers/admin.js';
import { serviceWithEndpoints } from '../helpers/instance.js';
import { eventually, freePort, request, startServer } from '../helpers/net.js';
import { configDir, runCli, serveCli } from '../helpers/process.js';
import { ask, client, freeUdpPort, udpEcho } from '../helpers/udp.js';

function udpService(port: number, backend: number): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: dns
  annotations: {svcproxy.dev/udp-idle-timeout: 200ms}
spec:
  ports: [{name: dns, port: ${port}, protocol: UDP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dns-0, labels: {kubernetes.io/service-name: dns}}
addressType: IPv4
ports: [{name: dns, port: ${backend}, protocol: UDP}]
endpoints: [{addresses: [127.0.0.1]}]
`;
}

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'svcproxy-access-e2e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function fileLines(path: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text === ''
    ? []
    : text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
}

t.test('to a file: a TCP connection and a UDP flow, each one line; counted in /metrics', async (t) => {
  // It answers once the client has ended: the client's FIN is first for sure, whichever socket the proxy reads first.
  const web = await startServer(t, (s) => s.on('data', () => undefined).on('end', () => s.end('hello')));
  const dns = await udpEcho(t, 'a');
  const [tcpPort, udpPort, admin] = [await freePort(), await freeUdpPort(), await freePort()];
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', tcpPort, [web]), 'dns.yaml': udpService(udpPort, dns) });
  const log = join(await tempDir(t), 'access.log');
  const served = serveCli(t, ['--config', dir, '--admin-address', `127.0.0.1:${admin}`, '--access-log', log]);
  await served.waitForLog((l) => l['msg'] === 'started', 'started');

  t.equal((await request(tcpPort)).data.toString(), 'hello');
  const c = await client(t);
  t.equal((await ask(c, udpPort, 'q')).toString(), 'a|q');
  await eventually(async () => (await fileLines(log)).length === 2, 'two lines: the connection, then the flow once idle', 10_000);
  const [tcp, udp] = await fileLines(log);
  t.match(tcp, {
    level: 'info',
    msg: 'access',
    protocol: 'TCP',
    servicePort: 'default/web',
    client: /^127\.0\.0\.1:\d+$/,
    endpoint: `127.0.0.1:${web}`,
    bytesFromEndpoint: 5,
    termination: 'client_fin',
  });
  t.match(udp, {
    protocol: 'UDP',
    servicePort: 'default/dns:dns',
    client: `127.0.0.1:${c.address().port}`,
    endpoint: `127.0.0.1:${dns}`,
    bytesFromClient: 1,
    bytesFromEndpoint: 3,
    connectMs: -1,
    termination: 'idle_timeout',
  });
  t.notOk(
    served.logs.some((l) => l['msg'] === 'access'),
    'nothing of it on stdout',
  );
  const samples = await scrape(admin);
  t.equal(metric(samples, 'svcproxy_access_log_lines_total'), 2);
  t.equal(metric(samples, 'svcproxy_access_log_dropped_lines_total'), 0);
  served.child.kill('SIGTERM');
  t.equal((await served.exited).code, 0);
});

t.test("to stdout (-): pino-style lines among svcproxy's own; the text format", async (t) => {
  const web = await startServer(t, (s) => s.on('data', () => undefined).on('end', () => s.end('hi'))); // the client ends first
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [web]) });
  const json = serveCli(t, ['--config', dir, '--admin-address', `127.0.0.1:${await freePort()}`, '--access-log', '-']);
  await json.waitForLog((l) => l['msg'] === 'started', 'started');
  await request(port);
  t.match(await json.waitForLog((l) => l['msg'] === 'access', 'the access line'), { level: 'info', pid: json.child.pid, termination: 'client_fin' });
  json.child.kill('SIGTERM');
  await json.exited;

  const text = serveCli(t, ['--config', dir, '--admin-address', `127.0.0.1:${await freePort()}`], {
    SVCPROXY_ACCESS_LOG: '-',
    SVCPROXY_ACCESS_LOG_FORMAT: 'text',
  });
  await text.waitForLog((l) => l['msg'] === 'started', 'started');
  await request(port);
  const line = await text.waitForLog((l) => l['unparsed'] === true, 'a text line');
  t.match(line['msg'], new RegExp(`^127\\.0\\.0\\.1:\\d+ \\[[^\\]]+\\] default/web TCP 127\\.0\\.0\\.1:${web} [\\d.]+/[\\d.]+ 0 2 client_fin$`));
  text.child.kill('SIGTERM');
  t.equal((await text.exited).code, 0);
});

t.test('with --workers: every worker appends to the one file, saying which worker it is', async (t) => {
  const web = await startServer(t, (s) => s.end('w'));
  const [port, admin] = [await freePort(), await freePort()];
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [web]) });
  const log = join(await tempDir(t), 'access.log');
  const served = serveCli(t, ['--config', dir, '--admin-address', `127.0.0.1:${admin}`, '--workers', '2', '--access-log', log]);
  await served.waitForLog((l) => l['msg'] === 'started' && l['worker'] === 1, 'worker 1');
  await served.waitForLog((l) => l['msg'] === 'started' && l['worker'] === 2, 'worker 2');
  for (let i = 0; i < 30; i++) await request(port);
  await eventually(async () => (await fileLines(log)).length === 30, '30 lines', 10_000);
  const lines = await fileLines(log);
  t.ok(
    lines.every((l) => l['worker'] === 1 || l['worker'] === 2),
    'each line names its worker',
  );
  await eventually(async () => metric(await scrape(admin), 'svcproxy_access_log_lines_total') === 30, "the primary sums the workers' counts");
  served.child.kill('SIGTERM');
  t.equal((await served.exited).code, 0);
});

t.test('a path that cannot be opened is an error at start', async (t) => {
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', await freePort(), [1]) });
  const missing = join(await tempDir(t), 'no', 'such', 'dir', 'access.log');
  for (const workers of ['1', '2']) {
    const run = await runCli(['--config', dir, '--admin-address', `127.0.0.1:${await freePort()}`, '--access-log', missing, '--workers', workers]);
    t.equal(run.code, 1, `--workers ${workers}`);
    t.match(run.stderr, `svcproxy: --access-log: cannot open ${missing}: ENOENT`);
    t.notMatch(run.stdout, /started/);
  }
  const bad = await runCli(['--config', dir, '--access-log-format', 'xml']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, '--access-log-format: "xml" is not one of json, text');
});
