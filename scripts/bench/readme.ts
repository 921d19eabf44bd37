/**
 * The figures section of bench/README.md, between two marker comments, so
 * `npm run bench -- --update-readme` can refresh it and leave the prose alone.
 */
import { pfSection } from './pf-report.js';
import { cpuRows, markdownTable, tableRows, type BenchResults } from './report.js';

export const START = '<!-- bench:figures:start -->';
export const END = '<!-- bench:figures:end -->';

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
    ...(results.portforward === undefined ? [] : [...pfSection(results.portforward, markdownTable, '- '), '']),
    `Files: \`${files.json}\`, \`${files.svg}\`.`,
  ];
  return lines.join('\n');
}

/** Replaces what is between the markers (appends a marked section when there is none). */
export function replaceFigures(readme: string, section: string): string {
  const block = `${START}\n${section}\n${END}`;
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a === -1 || b === -1 || b < a) return `${readme.trimEnd()}\n\n${block}\n`;
  return `${readme.slice(0, a)}${block}${readme.slice(b + END.length)}`;
}
