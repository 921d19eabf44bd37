import t from 'tap';
import { parseEnvCommand } from '../../src/cli/env-command.js';
import { runCli } from '../helpers/process.js';
import { sharedManifest } from '../helpers/service-network.js';

t.test('parseEnvCommand: --namespace and --format (either spelling); the rest are svcproxy options', async (t) => {
  t.match(parseEnvCommand(['--namespace', 'shop', '--format=dotenv', '--config', 'x.yaml'], {}), {
    kind: 'env',
    namespace: 'shop',
    format: 'dotenv',
    options: { config: ['x.yaml'] },
  });
  t.match(parseEnvCommand([], {}), { kind: 'env', namespace: 'default', format: 'shell' });
  t.same(parseEnvCommand(['--format', 'yaml'], {}), { kind: 'usage-error', message: '--format: "yaml" is not shell or dotenv' });
  t.same(parseEnvCommand(['--namespace'], {}), { kind: 'usage-error', message: '--namespace needs a value' });
  t.same(parseEnvCommand(['--help'], {}), { kind: 'help' });
  t.match(parseEnvCommand(['--nope'], {}), { kind: 'usage-error', message: /Unknown option '--nope'/ });
});

t.test('svcproxy env on guestbook: the kubelet variables with the addresses --check shows', async (t) => {
  const { path } = await sharedManifest('guestbook-all-in-one.yaml');
  const check = await runCli(['--check', '--config', path]);
  const master = /Service default\/redis-master port 6379\/TCP: (127\.96\.\d+\.\d+):6379/.exec(check.stdout)?.[1] ?? 'missing';
  const shell = await runCli(['env', '--config', path]);
  t.equal(shell.code, 0, shell.stderr);
  const lines = shell.stdout.trim().split('\n');
  t.ok(
    lines.every((l) => /^export [A-Z_0-9]+='[^']*'$/.test(l)),
    'only export lines',
  );
  for (const line of [
    `export REDIS_MASTER_SERVICE_HOST='${master}'`,
    "export REDIS_MASTER_SERVICE_PORT='6379'",
    `export REDIS_MASTER_PORT='tcp://${master}:6379'`,
    `export REDIS_MASTER_PORT_6379_TCP='tcp://${master}:6379'`,
    "export REDIS_MASTER_PORT_6379_TCP_PROTO='tcp'",
    "export REDIS_MASTER_PORT_6379_TCP_PORT='6379'",
    `export REDIS_MASTER_PORT_6379_TCP_ADDR='${master}'`,
  ]) {
    t.ok(lines.includes(line), line);
  }
  t.equal(lines.filter((l) => l.includes('_SERVICE_HOST=')).length, 3, 'frontend, redis-master, redis-replica');
  const dotenv = await runCli(['env', '--config', path, '--format', 'dotenv']);
  t.ok(dotenv.stdout.includes(`REDIS_MASTER_SERVICE_HOST=${master}\n`));
  const other = await runCli(['env', '--config', path, '--namespace', 'other']);
  t.same([other.code, other.stdout], [0, ''], 'no Service in that namespace');
  const bad = await runCli(['env', '--format', 'xml']);
  t.same([bad.code, bad.stderr], [2, 'svcproxy env: --format: "xml" is not shell or dotenv\nTry svcproxy env --help.\n']);
  const help = await runCli(['env', '--help']);
  t.match(help.stdout, /^Usage: svcproxy env/);
});
