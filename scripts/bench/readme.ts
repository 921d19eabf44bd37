/**
 * The figures section of bench/README.md, between two marker comments, so
 * `npm run bench -- --update-readme` can refresh it and leave the prose alone.
 */
import { pfSection } from './pf-report.js';
import { cpuRows, markdownTable, tableRows, type BenchResults } from './report.js';

export const START = '<!-- bench:figures:start -->';
export const END = '<!-- bench:figures:end -->';
/** Step 7 has a section of its own, so a `--steps portforward` run refreshes it and leaves steps 1-6's figures alone. */
export const PF_START = '<!-- bench:portforward:start -->';
export const PF_END = '<!-- bench:portforward:end -->';

/** Step 7's section of bench/README.md. */
export function portForwardMarkdown(results: BenchResults, files: { json: string; svg: string }): string | undefined {
  const pf = results.portforward;
  if (pf === undefined) return undefined;
  const m = results.machine;
  return [
    `Measured ${results.date.slice(0, 16).replace('T', ' ')} UTC${results.smoke ? ' (SMOKE run: tiny sizes, not figures)' : ''} on ${m.cpu}, ${m.cores} cores, Linux ${m.kernel}, Node ${m.node}; the CPUs were ${m.busyBeforePct}% busy in the second before the start, load average ${m.loadAverageStart.join(' ')}. Median of ${results.sizes.reps} interleaved run(s) per figure.`,
    '',
    ...pfSection(pf, markdownTable, '- '),
    '',
    `Files: \`${files.json}\`.`,
  ].join('\n');
}

export function figuresMarkdown(results: BenchResults, files: { json: string; svg: string }): string {
  const m = results.machine;
  const peers = results.targets.map(
    (t) =>
      `${t.name}: ${t.available ? `${t.version} (${t.setup})${t.fdLimit === undefined ? '' : `, open-file limit ${t.fdLimit}`}` : `skipped: ${t.note ?? ''}`}`,
  );
  const lines = [
    `Measured ${results.date.slice(0, 16).replace('T', ' ')} UTC${results.smoke ? ' (SMOKE run: tiny sizes, not figures)' : ''}, in ${Math.round(results.durationS)} s.`,
    '',
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Linux ${m.kernel}, Node ${m.node}.`,
    `- Other load: the CPUs were ${m.busyBeforePct}% busy in the second before the start; load average ${m.loadAverageStart.join(' ')} at start, ${m.loadAverageEnd.join(' ')} at end.`,
    `- Load generator and backends: ${results.generator.description}.`,
    ...peers.map((p) => `- ${p}`),
    `- Open-file limits: hard ${results.fdLimits.hard}; backends and generator raised to ${results.fdLimits.backends ?? '?'}, each proxy as listed.`,
    `- Median of ${results.sizes.reps} interleaved run(s) per figure for steps 1-4; step 5 on a fresh instance with ${results.sizes.holdConns} connections; step 6 (svcproxy targets only) on a fresh instance, ${results.sizes.reps * results.sizes.reloadsPerRep} reload(s) each, p50/p90 over the reloads.`,
    ...results.notes.map((n) => `- Note: ${n}`),
    '',
    markdownTable(tableRows(results)),
    '',
    'CPU during each step, % of one core (generator / proxy / backends), summed over the runs:',
    '',
    markdownTable(cpuRows(results)),
    '',
    `Files: \`${files.json}\`, \`${files.svg}\`.`,
  ];
  return lines.join('\n');
}

/** Replaces what is between the markers (appends a marked section when there is none). */
export function replaceFigures(readme: string, section: string, markers: readonly [string, string] = [START, END]): string {
  const [start, end] = markers;
  const block = `${start}\n${section}\n${end}`;
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  if (a === -1 || b === -1 || b < a) return `${readme.trimEnd()}\n\n${block}\n`;
  return `${readme.slice(0, a)}${block}${readme.slice(b + end.length)}`;
}
