/**
 * Where in its file a problem is: the line and column of the object and of
 * the field an issue names, as compilers and `kubectl --validate` point at
 * them, so that nobody counts `---` lines in a 300-line file.
 *
 * The parser keeps every node's offsets (yaml's `range`); a problem's field
 * path (`spec.ports[0].name`, `metadata.labels[app]`, or the one quoted in
 * `unknown field "…"`) is walked down the document's node tree segment by
 * segment, without recursion, to the deepest node that exists: the field
 * itself, or the mapping a missing field belongs in.
 */
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node, type ParsedNode } from 'yaml';
import type { ConfigIssue, SourcePosition } from './types.js';
import { YAML_OPTIONS } from './yaml-1.1.js';

interface Located {
  readonly object?: SourcePosition;
  readonly field?: SourcePosition;
}

/** Finds positions in one document: `item` for a `kind: List`'s items, `path` a field path ('' for the object). */
type Locator = (item: number | undefined, path: string) => Located;

/** Field path segments the walk follows at most: past this the position is the deepest reached. */
const MAX_SEGMENTS = 256;

/** `spec.ports[0].name` -> ['spec', 'ports', '0', 'name']; a bracketed key may hold dots (`labels[app.kubernetes.io/name]`). */
function segments(path: string): string[] {
  const out: string[] = [];
  for (const match of path.matchAll(/\[([^\]]*)\]|([^.[\]]+)/g)) {
    out.push(match[1] ?? match[2] ?? '');
    if (out.length >= MAX_SEGMENTS) break;
  }
  return out;
}

interface Step {
  /** The node a segment leads to (its value). */
  readonly node: Node | null;
  /** Where the segment is written: a mapping key, or a list item. */
  readonly offset: number | undefined;
}

function child(node: Node, segment: string): Step | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      if (String(key) !== segment) continue;
      const keyNode = isScalar(pair.key) ? pair.key : undefined;
      const value = pair.value as Node | null;
      return { node: value, offset: keyNode?.range?.[0] ?? value?.range?.[0] };
    }
    return undefined;
  }
  if (isSeq(node) && /^\d+$/.test(segment)) {
    const item = node.items[Number(segment)] as Node | undefined;
    return item === undefined ? undefined : { node: item, offset: item.range?.[0] };
  }
  return undefined;
}

/** The offset of the deepest node on `path` below `root`, or undefined when not even the first segment is there. */
function fieldOffset(root: Node, path: string): number | undefined {
  let node: Node | null = root;
  let offset: number | undefined;
  for (const segment of segments(path)) {
    if (node === null) break;
    const step = child(node, segment);
    if (step === undefined) break;
    offset = step.offset ?? offset;
    node = step.node;
  }
  return offset;
}

/** A locator over one parsed document; `contents` is the document's root node. */
function documentLocator(file: string, contents: ParsedNode | null, lines: LineCounter): Locator {
  const position = (offset: number | undefined): SourcePosition | undefined => {
    if (offset === undefined) return undefined;
    const { line, col } = lines.linePos(offset);
    return { file, line, col };
  };
  return (item, path) => {
    let root: Node | null = contents;
    if (root !== null && item !== undefined) root = child(root, 'items')?.node ?? null;
    if (root !== null && item !== undefined) root = child(root, String(item))?.node ?? null;
    if (root === null) return {};
    const object = position(root.range?.[0]);
    const field = path === '' ? undefined : position(fieldOffset(root, path));
    if (object === undefined) return {};
    return field === undefined ? { object } : { object, field };
  };
}

/** The field an issue is about: its path, or the one its message names (`unknown field "spec.selectr"`). */
function issueField(issue: ConfigIssue): string {
  if (issue.path !== '') return issue.path;
  return /^unknown field "([^"]+)"/.exec(issue.message)?.[1] ?? '';
}

/** One file's text, parsed again for positions only when one of its objects has a problem (the AST is not kept otherwise). */
interface FileText {
  readonly file: string;
  readonly text: string;
}

/**
 * Adds `at` (the object) and `fieldAt` (the field) to every issue whose
 * `where` is a document of one of `files` (`file[doc]` or
 * `file[doc].items[i]`, as formatSource writes it); others are returned as
 * they are. Each file with a problem is parsed once more, here: it already
 * passed the bounded parse (parse.ts), so this parse is within those bounds,
 * and the tree lives only as long as this call.
 */
export function locateIssues(issues: readonly ConfigIssue[], files: readonly FileText[]): ConfigIssue[] {
  const texts = new Map(files.map((f) => [f.file, f.text]));
  const parsed = new Map<string, Locator[]>();
  const locatorsOf = (file: string): Locator[] => {
    let locators = parsed.get(file);
    if (locators === undefined) {
      const lines = new LineCounter();
      const docs = parseAllDocuments(texts.get(file) ?? '', { ...YAML_OPTIONS, lineCounter: lines });
      locators = (Array.isArray(docs) ? docs : []).map((d) => documentLocator(file, d.contents, lines));
      parsed.set(file, locators);
    }
    return locators;
  };
  return issues.map((issue) => {
    if (issue.at !== undefined) return issue;
    const match = /^(.*?)\[(\d+)\](?:\.items\[(\d+)\])?$/.exec(issue.where);
    if (match === null || !texts.has(match[1] ?? '')) return issue;
    const locate = locatorsOf(match[1] ?? '')[Number(match[2])];
    if (locate === undefined) return issue;
    const { object, field } = locate(match[3] === undefined ? undefined : Number(match[3]), issueField(issue));
    if (object === undefined) return issue;
    return field === undefined ? { ...issue, at: object } : { ...issue, at: object, fieldAt: field };
  });
}
