/**
 * The docs keep true: every fenced code block marked ```sh runnable in
 * README.md and docs/*.md runs here, in the repository root, under
 * `bash -euo pipefail`, with `svcproxy` on PATH being this checkout's build
 * (as `npm install -g svcproxy` would put it). Each block must exit 0 within
 * 30 s. Blocks meant for a reader's machine only (npm install, docker) are
 * plain ```sh and are not run.
 */
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import t from 'tap';
import { REPO } from '../container/image.js';
import { CLI, runProcess } from '../helpers/process.js';

interface Block {
  readonly file: string;
  readonly line: number;
  readonly code: string;
}

/** The ```sh runnable blocks of a Markdown text, with the line each starts on. */
function runnableBlocks(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```sh runnable\s*$/.test(lines[i] ?? '')) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !(lines[end] ?? '').startsWith('```')) end++;
    blocks.push({ file, line: start, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

t.test('the marker is found, and only on sh blocks', async (t) => {
  const md = 'a\n```sh runnable\necho one\necho two\n```\n```sh\nnot run\n```\n```sh runnable\nexit 0\n```\n';
  t.same(runnableBlocks('x.md', md), [
    { file: 'x.md', line: 2, code: 'echo one\necho two' },
    { file: 'x.md', line: 9, code: 'exit 0' },
  ]);
});

const files = ['README.md', ...(await readdir(join(REPO, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const blocks = (await Promise.all(files.map(async (f) => runnableBlocks(f, await readFile(join(REPO, f), 'utf8'))))).flat();

t.test('README.md has runnable blocks', async (t) => {
  t.ok(
    blocks.some((b) => b.file === 'README.md'),
    `${blocks.length} runnable blocks in all`,
  );
});

t.test('README.md puts svcproxy on PATH (npm link) before its first block that types svcproxy', async (t) => {
  const text = await readFile(join(REPO, 'README.md'), 'utf8');
  const shBlocks = [...text.matchAll(/^```sh(?: runnable)?\n([^]*?)^```/gm)].map((m) => ({ at: m.index, code: m[1] ?? '' }));
  const link = shBlocks.find((b) => /^npm link\b/m.test(b.code));
  const first = shBlocks.find((b) => /^(?!npm |cd |curl )[^#\n]*\bsvcproxy (?:--|env|healthcheck)/m.test(b.code));
  t.ok(link !== undefined, 'a block runs npm link');
  t.ok(first !== undefined, 'a block types svcproxy');
  t.ok((link?.at ?? Number.POSITIVE_INFINITY) < (first?.at ?? 0), 'npm link comes first');
  // The shim below stands for npm link's: a command named svcproxy that runs this checkout's build.
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  t.same(pkg.bin, { svcproxy: 'dist/main.js' }, 'npm link links bin.svcproxy, the built main.js');
});

for (const block of blocks) {
  t.test(`${block.file}:${block.line} runs`, async (t) => {
    const bin = await mkdtemp(join(tmpdir(), 'svcproxy-docs-bin-'));
    t.teardown(() => rm(bin, { recursive: true, force: true }));
    const shim = join(bin, 'svcproxy');
    await writeFile(shim, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    await chmod(shim, 0o755);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}${delimiter}${process.env['PATH'] ?? ''}` };
    for (const k of Object.keys(env)) if (k.startsWith('SVCPROXY_')) delete env[k];
    const run = await runProcess('timeout', ['30', 'bash', '-euo', 'pipefail', '-c', block.code], { cwd: REPO, env });
    t.equal(run.code, 0, `exit 0\n--- block:\n${block.code}\n--- stdout:\n${run.stdout}\n--- stderr:\n${run.stderr}`);
  });
}
