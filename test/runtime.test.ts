/**
 * The suite runs on the Node that package.json pins as a devDependency (the
 * `node` package from the npm registry, which npm scripts put first on PATH),
 * not on whatever Node the machine has: Node 24 LTS is the target runtime.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';

t.test('tests run on Node 24 LTS', async (t) => {
  const major = Number(process.versions.node.split('.')[0]);
  t.equal(major, 24, `process.version is ${process.version}`);
});

t.test('engines names a Node that has every feature svcproxy uses', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
  t.equal(pkg.engines.node, '>=22.15');
});
