/**
 * The first things a newcomer types (issue 23, point 5): `--help` lists
 * every subcommand; `-v` and `-V` print the version; `env` for a namespace
 * with no Service says so.
 */
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { ENV_USAGE } from '../../src/cli/env-command.js';
import { parseCommand, USAGE } from '../../src/cli/options.js';
import { configDir, runCli } from '../helpers/process.js';
import { serviceWithEndpoints } from '../helpers/instance.js';

t.test('--help lists every subcommand main.ts and app.ts dispatch on', async (t) => {
  const dispatch =
    (await readFile(new URL('../../../src/main.ts', import.meta.url), 'utf8')) + (await readFile(new URL('../../../src/app.ts', import.meta.url), 'utf8'));
  const subcommands = [...dispatch.matchAll(/argv\[0\] === '([a-z-]+)'/g)].map((m) => m[1] ?? '');
  t.same([...new Set(subcommands)].sort(), ['env', 'healthcheck'], 'the subcommands the entry points know');
  for (const name of subcommands) {
    t.match(USAGE, new RegExp(`^Usage: .*\\n(?:.*\\n)*? +svcproxy ${name} `, 'm'), `the usage lines name ${name}`);
    t.match(USAGE, new RegExp(`\\nCommands:\\n(?:.*\\n)*  svcproxy ${name} `), `the Commands section describes ${name}`);
  }
});

t.test('-v and -V print the version, as --version does', async (t) => {
  for (const flag of ['-v', '-V', '--version']) t.same(parseCommand([flag], {}), { kind: 'version' }, flag);
  const run = await runCli(['-V']);
  t.equal(run.code, 0);
  t.match(run.stdout, /^\d+\.\d+\.\d+\n$/);
});

t.test('env: -n is --namespace; a namespace with no Service says so on stderr, as kubectl does, and exits 0', async (t) => {
  t.match(ENV_USAGE, /--namespace\|-n NS/);
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', 18080, [8080]) });
  const none = await runCli(['env', '-n', 'nope', '--config', dir]);
  t.equal(none.code, 0);
  t.equal(none.stdout, '');
  t.equal(none.stderr, 'svcproxy env: no Services in namespace "nope" (the config has Services in default)\n');
  const some = await runCli(['env', '-n', 'default', '--config', dir]);
  t.equal(some.code, 0);
  t.match(some.stdout, /^export WEB_SERVICE_HOST=/m);
  t.equal(some.stderr, '');
});
