/**
 * The whole untrusted part of a load: file texts -> parsed documents ->
 * validated snapshot. Pure and synchronous; it runs inside the validation
 * worker (validation-worker.ts), never on the event loop that carries traffic.
 */
import { parseDocuments, type ParsedDocument } from './parse.js';
import { locateIssues } from './positions.js';
import type { ConfigIssue, ConfigNote, SourcePosition } from './types.js';
import { validateDocuments, type ValidationResult } from './validate.js';

/** One file's text as read. */
export interface ConfigSource {
  readonly file: string;
  readonly text: string;
}

/**
 * @param onFile called with each file's index before it is parsed, and with
 *   sources.length before the objects are validated, so that a crash can be
 *   blamed on the file being read.
 */
export function validateSources(sources: readonly ConfigSource[], onFile: (index: number) => void = () => {}): ValidationResult {
  const documents: ParsedDocument[] = [];
  const issues: ConfigIssue[] = [];
  const notes: ConfigNote[] = [];
  const objectsAt: Record<string, SourcePosition> = {};
  for (const [index, source] of sources.entries()) {
    onFile(index);
    const parsed = parseDocuments(source.file, source.text);
    documents.push(...parsed.documents);
    issues.push(...parsed.issues);
    notes.push(...parsed.notes);
    Object.assign(objectsAt, parsed.objectsAt);
  }
  onFile(sources.length);
  const validated = validateDocuments(documents);
  return { ...validated, issues: [...issues, ...locateIssues(validated.issues, sources)], notes: [...notes, ...validated.notes], objectsAt };
}
