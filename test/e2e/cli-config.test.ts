/**
 * How the CLI reads config: `--check` on hostile input prints problem
 * lines (never a stack trace), `--config` repeats, `-` is standard input,
 * kinds not read are counted, and published manifests pass the
 * config layer unchanged.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { formatIssue } from '../../src/config/types.js';
import { validateSources } from '../../src/config/validate-sources.js';
import { mangle, random } from '../helpers/fuzz.js';
import { CLI, configDir, runCli } from '../helpers/process.js';
import { SHARED_MANIFESTS } from '../helpers/service-network.js';

const REPRO = fileURLToPath(new URL('../../../test/fixtures/yaml-stack-overflow.yaml', import.meta.url));
const MANIFESTS = SHARED_MANIFESTS;

const SVC = 'apiVersion: v1\nkind: Service\nmetadata: {name: NAME}\nspec:\n  ports: [{port: 80, targetPort: 8080}]\n  clusterIP: @IP@\n';
const ENDPOINTS = 'apiVersion: v1\nkind: Endpoints\nmetadata: {name: NAME}\nsubsets: [{addresses: [{ip: 127.0.0.1}]}]\n';

function service(name: string, ip: string): string {
  return `${SVC.replace('NAME', name).replace('@IP@', ip)}---\n${ENDPOINTS.replace('NAME', name)}`;
}

t.test('--check on the issue-11 repro: one problem line and the verdict, no stack trace', async (t) => {
  const run = await runCli(['--check', '--config', REPRO]);
  t.equal(run.code, 1);
  t.equal(run.stderr, `${REPRO}: could not be parsed: nesting too deep (more than 128 levels at line 369)\n${REPRO}: invalid: 1 problem\n`);
  t.equal(run.stdout, '');
});

t.test('--check with --config repeated and a directory tree; kinds not read are counted in the summary', async (t) => {
  const one = await configDir(t, { 'a.yaml': service('a', '127.0.0.11') });
  const tree = await configDir(t, {});
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(tree, 'apps', 'b'), { recursive: true });
  await writeFile(join(tree, 'apps', 'b', 'b.yaml'), `${service('b', '127.0.0.12')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n`);
  await writeFile(
    join(tree, 'rbac.yaml'),
    'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n',
  );
  const run = await runCli(['--check', '--config', join(one, 'a.yaml'), '-c', tree]);
  t.equal(run.stderr, '');
  t.equal(
    run.stdout.split('\n')[0],
    `${join(one, 'a.yaml')}, ${tree}: valid: 2 Services, 2 proxied ports, 2 listeners; not read by svcproxy: 2 ConfigMap (v1), 1 ServiceAccount (v1)`,
  );
  t.equal(run.code, 0);
});

t.test('--config - reads the manifests from standard input', async (t) => {
  const child = spawn(process.execPath, [CLI, '--check', '--config', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(service('piped', '127.0.0.13'));
  const [code] = (await once(child, 'close')) as [number];
  t.equal(stderr, '');
  t.equal(stdout.split('\n')[0], '<stdin>: valid: 1 Service, 1 proxied port, 1 listener');
  t.equal(code, 0);
});

t.test('--config - twice, or an empty path, is a usage error', async (t) => {
  const run = await runCli(['--check', '--config', '-', '--config', '-']);
  t.equal(run.code, 2);
  t.match(run.stderr, /standard input \(-\) may be given once/);
});

for (const name of ['bookinfo.yaml', 'guestbook-all-in-one.yaml']) {
  t.test(`${name}, unchanged, passes the config layer: strict fields, YAML 1.1, kinds`, async (t) => {
    const text = readFileSync(join(MANIFESTS, name), 'utf8');
    const result = validateSources([{ file: name, text }]);
    t.same(result.issues.map(formatIssue), []);
    t.ok(result.snapshot.services.length > 0, 'Services read');
    t.ok(result.snapshot.workloads.length > 0, 'workloads read and kept for the workloads room');
    t.same(
      result.notes.filter((n) => n.level === 'warn').map((n) => n.msg),
      [],
      'no warning from the config layer',
    );
  });

  t.test(`${name}, unchanged, through --check: valid, kinds not read counted`, async (t) => {
    const run = await runCli(['--check', '--config', join(MANIFESTS, name)]);
    t.equal(
      run.stderr
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('warning: '))
        .join('\n'),
      '',
      'no problem line',
    );
    t.match(run.stdout, new RegExp(`^${join(MANIFESTS, name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: valid: `));
    if (name === 'bookinfo.yaml') t.match(run.stdout, /; not read by svcproxy: 4 ServiceAccount \(v1\)\n/);
    t.equal(run.code, 0);
  });
}

t.test('fuzz: mangled, huge and deeply nested documents through --check: problem lines or a summary, never a crash', async (t) => {
  const seed = 1_128;
  const rand = random(seed);
  const base = service('fz', '127.0.0.14');
  const dir = await configDir(t, {});
  for (let i = 0; i < 6; i++) {
    await writeFile(join(dir, 'fuzz.yaml'), mangle(base, rand));
    const run = await runCli(['--check', '--config', dir]);
    t.ok(run.code === 0 || run.code === 1, `case ${i} (seed ${seed}): exit ${run.code}`);
    t.notMatch(run.stderr, /^\s+at |fatal|RangeError/m, `case ${i} (seed ${seed}): no stack trace`);
    t.match(run.code === 0 ? run.stdout : run.stderr, /: (valid|invalid): /, `case ${i}: a verdict`);
  }
});
