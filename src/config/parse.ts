/**
 * YAML or JSON text -> plain documents, read the way kubectl reads them
 * (YAML 1.1 as gopkg.in/yaml.v2 resolves it; see yaml-1.1.ts) and within
 * fixed bounds, so that no file can exhaust the stack, the heap or the
 * time of whoever parses it. Knows nothing about Kubernetes objects.
 *
 * The bounds are checked while the text is parsed, not after: the parser's
 * own stack of open nodes is watched token by token, so a document nested
 * deeper than MAX_NESTING stops there with one problem, whatever the state
 * of the JIT (a warm parser recurses deeper than a cold one, so "catch the
 * stack overflow" alone gives answers that change with the process's age).
 */
import { Composer, isMap, isSeq, Lexer, LineCounter, Parser, type CST, type Document } from 'yaml';
import type { ConfigIssue, ConfigNote, SourcePosition } from './types.js';
import { YAML_OPTIONS } from './yaml-1.1.js';

/** One document of one file, as parsed. `value` is null for an empty document. */
export interface ParsedDocument {
  readonly file: string;
  readonly doc: number;
  readonly value: unknown;
}

export interface ParseResult {
  readonly documents: ParsedDocument[];
  readonly issues: ConfigIssue[];
  /** Things kubectl accepts that are most likely mistakes (duplicate keys). */
  readonly notes: ConfigNote[];
  /** Where each object starts, by `file[doc]` (and `file[doc].items[i]` in a List), for problems found after validation. */
  readonly objectsAt?: Record<string, SourcePosition>;
}

/** Open collections at once: real manifests, CRD schemas included, stay under 60. */
export const MAX_NESTING = 128;
/** Documents in one file. */
const MAX_DOCUMENTS = 10_000;
/** Items in one list or keys in one mapping. */
export const MAX_ITEMS = 10_000;
/** Alias expansions per document: a "billion laughs" document is an error, not an out-of-memory crash. */
const MAX_ALIAS_COUNT = 100;
/** Problems reported per file: past this, one line says how many more there were. */
const MAX_FILE_ISSUES = 20;

/** Stops the token loop; becomes one issue for the file. */
class ParseLimit extends Error {}

function issue(where: string, message: string, at?: SourcePosition): ConfigIssue {
  return at === undefined ? { where, object: '', path: '', message } : { where, object: '', path: '', message, at };
}

/**
 * Parses every document of a file. JSON is parsed by the same parser (JSON
 * is a subset of YAML), so errors read the same for both. A file that hits a
 * bound yields that one problem and no documents.
 */
export function parseDocuments(file: string, text: string): ParseResult {
  const lines = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = Array.from(new Composer(YAML_OPTIONS).compose(boundedTokens(text, lines)));
  } catch (err: unknown) {
    return { documents: [], issues: [issue(file, `could not be parsed: ${parseFailure(err)}`)], notes: [] };
  }
  const documents: ParsedDocument[] = [];
  const issues: ConfigIssue[] = [];
  const notes: ConfigNote[] = [];
  const objectsAt: Record<string, SourcePosition> = {};
  const place = (key: string, offset: number | undefined): void => {
    if (offset !== undefined) objectsAt[key] = { file, ...lines.linePos(offset) };
  };
  docs.forEach((document, doc) => {
    const where = `${file}[${doc}]`;
    const root = document.contents;
    place(where, root?.range[0]);
    const items = isMap(root) ? root.get('items', true) : undefined;
    if (isSeq(items)) items.items.forEach((item, i) => place(`${where}.items[${i}]`, isMap(item) ? item.range?.[0] : undefined));
    const at = (offset: number): string => {
      const pos = lines.linePos(offset);
      return `line ${pos.line}, column ${pos.col}`;
    };
    let failed = false;
    for (const error of document.errors) {
      if (error.code === 'DUPLICATE_KEY') {
        // kubectl converts YAML to JSON with the non-strict yaml.v2 decoder: the last value wins, silently.
        notes.push({
          level: 'warn',
          where,
          object: '',
          msg: `duplicate key at ${at(error.pos[0])}: the last value is used, as kubectl does (kustomize refuses the file)`,
        });
        continue;
      }
      failed = true;
      const pos = lines.linePos(error.pos[0]);
      issues.push(issue(where, `YAML syntax error at ${at(error.pos[0])}: ${firstLine(error.message)}`, { file, line: pos.line, col: pos.col }));
    }
    if (failed) return;
    try {
      const value: unknown = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
      const bad = shapeProblem(value);
      if (bad === '') documents.push({ file, doc, value });
      else issues.push(issue(where, bad));
    } catch (err: unknown) {
      issues.push(issue(where, `could not be parsed: ${parseFailure(err)}`));
    }
  });
  return { documents, issues: capIssues(file, issues), notes: notes.slice(0, MAX_FILE_ISSUES), objectsAt };
}

/**
 * The parser's token stream, stopped at the first bound crossed: nesting
 * (the parser's stack of open nodes), number of documents, or an
 * unrendered template (`{{` outside any quoted or block scalar).
 */
function* boundedTokens(text: string, lines: LineCounter): Generator<CST.Token> {
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0);
  let previous = '';
  let documents = 0;
  for (const lexeme of new Lexer().lex(text, false)) {
    if (lexeme === '{' && previous === '{') {
      const pos = lines.linePos(parser.offset);
      const rest = text.slice(Math.max(0, parser.offset - 1), parser.offset + 80).split('\n')[0] ?? '';
      const expression = /^\{\{.*?\}\}/.exec(rest)?.[0] ?? '{{';
      throw new ParseLimit(
        `unrendered Helm template ${JSON.stringify(expression)} at line ${pos.line}: this is a chart template, not a manifest; render it first (helm template …) and give svcproxy the output`,
      );
    }
    for (const token of parser.next(lexeme)) {
      if (token.type === 'document' && ++documents > MAX_DOCUMENTS) throw new ParseLimit(`more than ${MAX_DOCUMENTS} documents in one file`);
      yield token;
    }
    if (parser.stack.length > MAX_NESTING) {
      const pos = lines.linePos(parser.offset);
      throw new ParseLimit(`nesting too deep (more than ${MAX_NESTING} levels at line ${pos.line})`);
    }
    if (lexeme.length > 0 && !/^\s+$/.test(lexeme)) previous = lexeme;
  }
  yield* parser.end();
}

/** What a parser failure means to the user: a bound, the stack, or the parser's own words. */
function parseFailure(err: unknown): string {
  if (err instanceof ParseLimit) return err.message;
  if (err instanceof RangeError && /call stack/i.test(err.message)) return 'nesting too deep (stack overflow)';
  const message = err instanceof Error ? err.message : String(err);
  if (/excessive alias count/i.test(message)) return `too many alias expansions (more than ${MAX_ALIAS_COUNT}): an alias bomb ("billion laughs")?`;
  return firstLine(message);
}

/**
 * Walks the parsed value without recursion: depth (aliases can nest what
 * the text did not), size of every list and mapping, and no cycles.
 */
function shapeProblem(value: unknown): string {
  const stack: Array<[unknown, number]> = [[value, 0]];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const [node, depth] = stack.pop() ?? [null, 0];
    if (typeof node !== 'object' || node === null) continue;
    if (depth > MAX_NESTING) return `could not be parsed: nesting too deep (more than ${MAX_NESTING} levels once aliases are expanded)`;
    if (seen.has(node)) return 'could not be parsed: an alias refers to a node that contains it (a cycle)';
    seen.add(node);
    const children: unknown[] = Array.isArray(node) ? node : Object.values(node);
    if (children.length > MAX_ITEMS) {
      return `a ${Array.isArray(node) ? 'list' : 'mapping'} has ${children.length} items; the limit is ${MAX_ITEMS}`;
    }
    for (const child of children) stack.push([child, depth + 1]);
  }
  return '';
}

/** Keeps a broken file from flooding the log: the first problems, then a count. */
function capIssues(file: string, issues: ConfigIssue[]): ConfigIssue[] {
  if (issues.length <= MAX_FILE_ISSUES) return issues;
  const more = issues.length - MAX_FILE_ISSUES;
  return [...issues.slice(0, MAX_FILE_ISSUES), issue(file, `${more} more problem${more === 1 ? '' : 's'} in this file not shown`)];
}

/** yaml's errors carry a code frame after the first line; one line per problem is what users get. */
function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
}
