/**
 * No file can hurt a running svcproxy (issue 11): whatever lands in the
 * config directory is either applied or refused with a problem line, the
 * last good config keeps serving, and the next good file applies. Sizes are
 * bounded so the suite stays quick on a shared machine.
 */
import { copyFile, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import type { Svcproxy } from '../../src/instance/instance.js';
import { serviceWithEndpoints, startInstance } from '../helpers/instance.js';
import { freePort, request, startServer } from '../helpers/net.js';
import { mangle, random } from '../helpers/fuzz.js';
import { configDir, serveCli } from '../helpers/process.js';

// 300 reloads, each validated in a fresh worker, take a while on a busy 2-core machine.
t.setTimeout(300_000);

const REPRO = fileURLToPath(new URL('../../../test/fixtures/yaml-stack-overflow.yaml', import.meta.url));

async function setup(t: Test): Promise<{ dir: string; port: number; proxy: Svcproxy; backend: number }> {
  const backend = await startServer(t, (s) => s.end('ok'));
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [backend]) });
  const proxy = await startInstance(t, dir, { watch: false });
  return { dir, port, proxy, backend };
}

async function serves(t: Test, port: number, what = 'the last good config still serves'): Promise<void> {
  t.equal((await request(port)).data.toString(), 'ok', what);
}

t.test('the repro dropped into a live watched directory of a cold process: one problem line, still serving, the next good file applies', async (t) => {
  const backend = await startServer(t, (s) => s.end('ok'));
  const port = await freePort();
  const dir = await configDir(t, { 'web.yaml': serviceWithEndpoints('web', port, [backend]) });
  const admin = await freePort();
  const served = serveCli(t, ['--config', dir, '--admin-address', `127.0.0.1:${admin}`, '--config-poll-interval', '0']);
  await served.waitForLog((l) => l['msg'] === 'started', 'started');
  await serves(t, port, 'serves before');

  await copyFile(REPRO, join(dir, 'repro.yaml'));
  await served.waitForLog((l) => l['msg'] === 'config rejected; still serving the last good config', 'the rejection', 30_000);
  const problems = served.logs.filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('invalid config: '));
  t.same(
    problems.map((l) => l['msg']),
    [`invalid config: ${join(dir, 'repro.yaml')}: could not be parsed: nesting too deep (more than 128 levels at line 369)`],
  );
  await serves(t, port);
  t.equal(served.child.exitCode, null, 'still running');

  const port2 = await freePort();
  await rm(join(dir, 'repro.yaml'));
  await writeFile(join(dir, 'web.yaml'), serviceWithEndpoints('web', port2, [backend]));
  await served.waitForLog((l) => l['msg'] === 'config applied' && l['trigger'] === 'watch', 'the next good config applied', 30_000);
  await serves(t, port2, 'the next good file applies');
});

t.test('the repro after 300 reloads of the same process: the same one line', async (t) => {
  const { dir, port, proxy, backend } = await setup(t);
  for (let i = 0; i < 300; i++) {
    // Every reload has new content, so every one is parsed and validated for real.
    const text = serviceWithEndpoints('web', port, [backend]).replace('name: web\n', `name: web\n  annotations: {round: "${i}"}\n`);
    await writeFile(join(dir, 'web.yaml'), text);
    const outcome = await proxy.reload('api');
    if (outcome !== 'applied') t.fail(`reload ${i}: ${outcome}: ${proxy.status.lastErrors.join('; ')}`);
  }
  t.equal(proxy.status.successes, 301);
  await copyFile(REPRO, join(dir, 'repro.yaml'));
  t.equal(await proxy.reload('api'), 'invalid');
  t.same(proxy.status.lastErrors, [`${join(dir, 'repro.yaml')}: could not be parsed: nesting too deep (more than 128 levels at line 369)`]);
  await serves(t, port);
});

const BAD_FILES: ReadonlyArray<{ name: string; write: (file: string) => Promise<void>; problem: RegExp }> = [
  {
    name: 'deep flow nesting',
    write: (file) => writeFile(file, `a: ${'['.repeat(200_000)}${']'.repeat(200_000)}\n`),
    problem: /bad\.yaml: could not be parsed: nesting too deep \(more than 128 levels at line 1\)$/,
  },
  {
    name: 'an alias bomb',
    write: (file) => {
      const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
      for (let i = 1; i < 12; i++)
        levels.push(
          `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
            .fill(`*${String.fromCharCode(96 + i)}`)
            .join(', ')}]`,
        );
      return writeFile(file, `${levels.join('\n')}\n`);
    },
    problem: /bad\.yaml\[0\]: could not be parsed: too many alias expansions/,
  },
  {
    name: 'a 50 MB file',
    write: async (file) => {
      await writeFile(file, '');
      await truncate(file, 50 * 1024 * 1024);
    },
    problem: /bad\.yaml: the file is 52428800 bytes; the limit is \d+$/,
  },
  {
    name: 'a binary file',
    write: async (file) => writeFile(file, await readFile(process.execPath).then((b) => b.subarray(0, 64 * 1024))),
    problem: /bad\.yaml: the file holds binary data \(a NUL byte at offset \d+\), not YAML or JSON text$/,
  },
];

for (const bad of BAD_FILES) {
  t.test(`${bad.name} in a live config: refused with one line, still serving, the next good file applies`, async (t) => {
    const { dir, port, proxy, backend } = await setup(t);
    await bad.write(join(dir, 'bad.yaml'));
    t.equal(await proxy.reload('api'), 'invalid');
    t.equal(proxy.status.lastErrors.length, 1);
    t.match(proxy.status.lastErrors[0], bad.problem);
    await serves(t, port);
    await rm(join(dir, 'bad.yaml'));
    const port2 = await freePort();
    await writeFile(join(dir, 'web.yaml'), serviceWithEndpoints('web', port2, [backend]));
    t.equal(await proxy.reload('api'), 'applied');
    await serves(t, port2, 'the next good file applies');
  });
}

t.test('fuzz: mangled, huge and deeply nested documents through live reload never crash, and the last good config keeps serving', async (t) => {
  const { dir, port, proxy } = await setup(t);
  // Held ports, not fixed ones: a mangled copy is served, and a fixed port may be one another test file holds.
  const [a, b, c] = [await freePort(), await freePort(), await freePort()];
  const base = serviceWithEndpoints('fz', a, [b]).replace(`ports: [{port: ${a}}]`, `ports: [{port: ${a}, name: a}, {port: ${c}, name: b}]`);
  const seed = 20_261_128;
  const rand = random(seed);
  const outcomes: Record<string, number> = {};
  for (let i = 0; i < 30; i++) {
    await writeFile(join(dir, 'fuzz.yaml'), mangle(base, rand));
    const outcome = await proxy.reload('api');
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    for (const line of proxy.status.lastErrors) if (/\n/.test(line)) t.fail(`case ${i} (seed ${seed}): a problem spans lines: ${line}`);
    await serves(t, port, `case ${i} (seed ${seed}): web still serves`);
  }
  t.ok((outcomes['invalid'] ?? 0) > 0, `some cases were refused: ${JSON.stringify(outcomes)}`);
});
