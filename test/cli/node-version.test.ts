/**
 * On a Node older than engines asks (issue 23, point 8): a warning, or, for
 * --cluster, a refusal that says why; run for real on the machine's own
 * Node where it is that old (Node 20 is the system Node of Debian 12 here).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { MIN_NODE, nodeVersionCheck } from '../../src/cli/node-version.js';
import { CLI, configDir, runProcess } from '../helpers/process.js';

t.test('the minimum is engines.node', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
  t.equal(`>=${MIN_NODE.replace(/\.0$/, '')}`, pkg.engines.node);
});

t.test('warn below it, refuse --cluster below it, say nothing from it on', async (t) => {
  t.same(nodeVersionCheck('24.11.0', false), { message: '', refuse: false });
  t.same(nodeVersionCheck('22.15.0', true), { message: '', refuse: false });
  t.same(nodeVersionCheck('22.14.9', true).refuse, true);
  const warned = nodeVersionCheck('20.20.2', false);
  t.equal(warned.refuse, false);
  t.match(warned.message, /^svcproxy: this is Node 20\.20\.2; svcproxy needs Node 22\.15 or newer \(tested on Node 24 LTS\); going on, but untested here/);
  t.match(nodeVersionCheck('20.20.2', true).message, /--cluster cannot run on it \(its Kubernetes client needs zlib zstd\); install a newer Node$/);
});

/** A `node` on PATH outside node_modules (npm scripts put the devDependency's Node 24 first). */
function systemNode(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir === '' || dir.includes('node_modules')) continue;
    const candidate = join(dir, 'node');
    if (!existsSync(candidate)) continue;
    const version = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    return nodeVersionCheck(version, false).message === '' ? undefined : candidate;
  }
  return undefined;
}

const old = systemNode();

t.test('for real, on the machine Node older than 22.15', { skip: old === undefined ? 'no Node older than 22.15 on PATH' : false }, async (t) => {
  const node = old ?? '';
  const dir = await configDir(t, { 'a.yaml': 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 18080}]}\n' });
  const checked = await runProcess(node, [CLI, '--check', '--config', dir], { env: process.env });
  t.equal(checked.code, 0, checked.stderr);
  t.match(checked.stderr, /^svcproxy: this is Node \d+\.\d+\.\d+; svcproxy needs Node 22\.15 or newer/);
  t.match(checked.stdout, /valid: 1 Service/);
  const kubeconfig = join(dir, 'kubeconfig');
  const refused = await runProcess(node, [CLI, '--check', '--cluster', '--kubeconfig', kubeconfig], { env: process.env });
  t.equal(refused.code, 1);
  t.match(refused.stderr, /--cluster cannot run on it \(its Kubernetes client needs zlib zstd\); install a newer Node\n$/);
  const version = await runProcess(node, [CLI, '--version'], { env: process.env });
  t.equal(version.stderr, '', '--version says nothing more');
});
