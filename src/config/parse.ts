/**
 * YAML or JSON text -> plain documents. Knows nothing about Kubernetes;
 * a syntax error becomes an issue that names the file, document, line and column.
 */
import { parseAllDocuments } from 'yaml';
import type { ConfigIssue } from './types.js';

/** One document of one file, as parsed. `value` is null for an empty document. */
export interface ParsedDocument {
  readonly file: string;
  readonly doc: number;
  readonly value: unknown;
}

export interface ParseResult {
  readonly documents: ParsedDocument[];
  readonly issues: ConfigIssue[];
}

/** Bounds alias expansion, so a "billion laughs" document is an error rather than an out-of-memory crash. */
const MAX_ALIAS_COUNT = 100;

/**
 * Parses every document of a file. JSON is parsed by the same YAML 1.2
 * parser (JSON is a subset of it), so errors read the same for both.
 * Duplicate keys are errors, as in kubectl's strict decoding.
 */
export function parseDocuments(file: string, text: string): ParseResult {
  const documents: ParsedDocument[] = [];
  const issues: ConfigIssue[] = [];
  parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true }).forEach((document, doc) => {
    const errors = document.errors;
    if (errors.length > 0) {
      for (const error of errors) {
        issues.push({ where: `${file}[${doc}]`, object: '', path: '', message: `YAML syntax error: ${firstLine(error.message)}` });
      }
      return;
    }
    try {
      documents.push({ file, doc, value: document.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) });
    } catch (err: unknown) {
      const message = err instanceof Error ? err.message : String(err);
      issues.push({ where: `${file}[${doc}]`, object: '', path: '', message: `YAML error: ${firstLine(message)}` });
    }
  });
  return { documents, issues };
}

/** yaml's pretty errors carry a code frame after the first line; one line per problem is what users get. */
function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.endsWith(':') ? line.slice(0, -1) : line;
}
