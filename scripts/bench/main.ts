#!/usr/bin/env node
/**
 * `npm run bench`: svcproxy against a direct connection, HAProxy and nginx,
 * on loopback, with its own backends and load generator (see bench/README.md).
 * Progress goes to stderr, one line per step; the tables go to stdout; JSON and
 * SVG go to bench/results/. Every process started is stopped by its process
 * group at the end, on SIGINT/SIGTERM/SIGHUP, on an error, and at the
 * --max-seconds deadline.
 */
import { rmSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuBusyPct, describeMachine } from './machine.js';
import { parseBenchArgs, USAGE, type BenchOptions } from './options.js';
import { Processes } from './processes.js';
import { figuresMarkdown, PF_END, PF_START, portForwardMarkdown, replaceFigures } from './readme.js';
import { pfSection } from './pf-report.js';
import { cpuRows, tableRows, textTable, type BenchResults } from './report.js';
import { runBench } from './run.js';
import { renderSvg } from './svg.js';

function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

async function writeOutputs(results: BenchResults, options: BenchOptions): Promise<{ json: string; svg: string }> {
  await mkdir(options.outDir, { recursive: true });
  const stamp = results.date.replace(/[:]/g, '').replace(/\..*$/, '');
  const base = join(options.outDir, `${results.smoke ? 'smoke' : 'bench'}-${stamp}`);
  const files = { json: `${base}.json`, svg: `${base}.svg` };
  await writeFile(files.json, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(files.svg, renderSvg(results));
  await copyFile(files.json, join(options.outDir, 'latest.json'));
  await copyFile(files.svg, join(options.outDir, 'latest.svg'));
  if (!options.example) return files;
  const example = { json: join(options.outDir, 'example.json'), svg: join(options.outDir, 'example.svg') };
  await copyFile(files.json, example.json);
  await copyFile(files.svg, example.svg);
  return example;
}

function printTables(results: BenchResults): void {
  const out = [
    '',
    `svcproxy bench${results.smoke ? ' (SMOKE: tiny sizes, not figures)' : ''}, ${results.date}, load generator: ${results.generator.description}`,
    `${results.machine.cpu}, ${results.machine.cores} cores, Linux ${results.machine.kernel}, Node ${results.machine.node}; CPUs ${results.machine.busyBeforePct}% busy before the start, load average ${results.machine.loadAverageStart.join(' ')}`,
    ...results.targets.map(
      (t) =>
        `  ${t.name}: ${t.available ? `${t.version} (${t.setup})${t.fdLimit === undefined ? '' : `, open-file limit ${t.fdLimit}`}` : `skipped: ${t.note ?? ''}`}`,
    ),
    `  open-file limits: hard ${results.fdLimits.hard}, backends ${results.fdLimits.backends ?? '?'}; ${results.sizes.holdConns} connections held in step 5`,
    ...(results.targets.length === 0 ? [] : ['', textTable(tableRows(results)), '', textTable(cpuRows(results))]),
    '',
    ...results.notes.map((n) => `note: ${n}`),
    ...(results.portforward === undefined ? [] : ['', ...pfSection(results.portforward, textTable, '  ')]),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

/** Set once the run is being aborted (signal or deadline): the exit code to leave with. */
let abortCode: number | undefined;

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseBenchArgs(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.kind === 'usage-error') {
    process.stderr.write(`bench: ${parsed.message} (npm run bench -- --help lists the options)\n`);
    return 2;
  }
  const options = parsed.options;
  const started = Date.now();
  const loadStart = loadavg();
  const busyBefore = await cpuBusyPct(1000);
  progress(
    `the machine's CPUs were ${busyBefore}% busy in the second before the start${busyBefore > 10 ? ': other work is running, figures will be noisier' : ''}`,
  );
  const processes = new Processes();
  if (options.verbose) processes.onEvent = (line) => progress(line);
  const tmp = await mkdtemp(join(tmpdir(), 'svcproxy-bench-'));

  // Last resort: whatever happens, no process of ours outlives the bench.
  process.on('exit', () => {
    processes.killAllSync();
    rmSync(tmp, { recursive: true, force: true });
  });
  const abort = (why: string, code: number): void => {
    if (abortCode !== undefined) return;
    abortCode = code;
    progress(`${why}: stopping ${processes.pids.length} process(es) (${processes.pids.join(', ') || 'none'})`);
    void processes.stopAll().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => abort('interrupted (SIGINT)', 130));
  process.once('SIGTERM', () => abort('terminated (SIGTERM)', 143));
  process.once('SIGHUP', () => abort('hung up (SIGHUP)', 129));
  const watchdog = setTimeout(() => abort(`over --max-seconds ${options.maxSeconds}`, 124), options.maxSeconds * 1000);

  try {
    const partial = await runBench(options, processes, tmp, progress);
    const busyNote =
      busyBefore > 10 ? [`the machine was shared: its CPUs were ${busyBefore}% busy in the second before the run, so the figures are noisier`] : [];
    const results: BenchResults = {
      ...partial,
      notes: [...busyNote, ...partial.notes],
      durationS: (Date.now() - started) / 1000,
      machine: describeMachine(loadStart, busyBefore),
    };
    printTables(results);
    const files = await writeOutputs(results, options);
    progress(`wrote ${files.json} and ${files.svg} (also latest.json, latest.svg)`);
    if (options.updateReadme) {
      const readme = join('bench', 'README.md');
      let text = await readFile(readme, 'utf8');
      if (results.targets.length > 0) text = replaceFigures(text, figuresMarkdown(results, files));
      const pf = portForwardMarkdown(results, files);
      if (pf !== undefined) text = replaceFigures(text, pf, [PF_START, PF_END]);
      await writeFile(readme, text);
      progress(`updated the figures in ${readme}`);
    }
    return 0;
  } catch (err: unknown) {
    if (abortCode === undefined) progress(`failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    clearTimeout(watchdog);
    await processes.stopAll();
    await rm(tmp, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(abortCode ?? code),
  (err: unknown) => {
    process.stderr.write(`bench: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
