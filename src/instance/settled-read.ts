/**
 * The first half of a reload: read every source and decide whether there is
 * anything to apply. Reading is cheap and decides whether anything changed;
 * only a changed read goes on to be validated. A change a source reported
 * is taken only if the sources read the same twice, a wait apart, so a file
 * still being written (a YAML document cut mid-way that happens to parse) is
 * not applied: 'unsettled' then, and the reload loop reads again.
 */
import type { Source } from '../sources/source.js';
import { readSources, type SourcesRead } from './plan.js';

export type SettledRead = SourcesRead | 'unchanged' | 'unsettled';

export interface SettleOptions {
  /** The version last validated ('' before any). */
  readonly seen: string;
  /** A forced reload (SIGHUP, the API) validates whatever it reads, at once. */
  readonly forced: boolean;
  /** The wait between the two reads. */
  readonly wait: () => Promise<void>;
}

export async function settledRead(sources: readonly Source[], { seen, forced, wait }: SettleOptions): Promise<SettledRead> {
  const read = await readSources(sources);
  if (forced) return read;
  if (read.version === seen) return 'unchanged';
  await wait();
  const again = await readSources(sources);
  return again.version === read.version ? again : 'unsettled';
}
