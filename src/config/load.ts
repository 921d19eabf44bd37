/**
 * Reads `--config` (a file, or a directory of manifests) into a whole
 * snapshot: every file's text plus a content hash. Any read problem is an
 * issue, never a partial snapshot, so a half-finished edit cannot be applied.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocuments, type ParsedDocument } from './parse.js';
import type { ConfigIssue } from './types.js';
import { validateDocuments, type ValidationResult } from './validate.js';

interface ConfigSource {
  readonly file: string;
  readonly text: string;
}

export type PathKind = 'file' | 'directory';

export interface ReadResult {
  /** What the config path was when read; undefined when it could not be read. */
  readonly kind: PathKind | undefined;
  readonly sources: readonly ConfigSource[];
  readonly issues: readonly ConfigIssue[];
  /** sha256 over file names and contents: equal hashes mean nothing changed. */
  readonly hash: string;
}

const MANIFEST = /\.(ya?ml|json)$/i;
/** A manifest larger than this is refused rather than read into memory. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

function readIssue(where: string, message: string): ConfigIssue {
  return { where, object: '', path: '', message };
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === undefined ? err.message : `${code}: ${err.message}`;
  }
  return String(err);
}

/**
 * Lists the manifests of a directory: `*.yaml`, `*.yml`, `*.json`, sorted,
 * not recursive. Names starting with `.` are skipped, which also skips the
 * `..data` and `..2026_…` entries of a Kubernetes ConfigMap mount; the
 * visible names there are symlinks that stat() follows.
 */
async function listManifests(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => !n.startsWith('.') && MANIFEST.test(n)).sort();
  const files: string[] = [];
  for (const name of names) {
    const info = await stat(join(dir, name));
    if (info.isFile()) files.push(join(dir, name));
  }
  return files;
}

/**
 * Reads every manifest under `path`. When `expect` is given (on reloads),
 * a path that turned from a directory into a file or back is an issue, not
 * a new config: it is far more likely a mistake than a migration.
 */
export async function readConfig(path: string, expect?: PathKind): Promise<ReadResult> {
  const issues: ConfigIssue[] = [];
  const sources: ConfigSource[] = [];
  let files: string[];
  let kind: PathKind;
  try {
    const info = await stat(path);
    kind = info.isDirectory() ? 'directory' : 'file';
    if (expect !== undefined && kind !== expect) {
      const message = `the config path was a ${expect} when svcproxy started and is now a ${kind}; restart svcproxy to change that`;
      return { kind, sources, issues: [readIssue(path, message)], hash: `kind:${kind}` };
    }
    files = kind === 'directory' ? await listManifests(path) : [path];
    if (kind === 'directory' && files.length === 0) {
      issues.push(readIssue(path, 'the directory holds no *.yaml, *.yml or *.json file'));
    }
  } catch (err: unknown) {
    const message = `cannot read the config: ${errorText(err)}`;
    return { kind: undefined, sources, issues: [readIssue(path, message)], hash: `error:${message}` };
  }
  const hash = createHash('sha256');
  for (const file of files) {
    try {
      const info = await stat(file);
      if (info.size > MAX_FILE_BYTES) {
        issues.push(readIssue(file, `the file is ${info.size} bytes; the limit is ${MAX_FILE_BYTES}`));
        continue;
      }
      const text = await readFile(file, 'utf8');
      if (text.length === 0) {
        // A zero-byte file is most often one an editor or a copy is still writing.
        issues.push(readIssue(file, 'the file is empty; to remove every object, leave a comment or a `---` in it'));
        continue;
      }
      hash.update(file).update('\0').update(text).update('\0');
      sources.push({ file, text });
    } catch (err: unknown) {
      issues.push(readIssue(file, `cannot read: ${errorText(err)}`));
    }
  }
  for (const issue of issues) hash.update(issue.message); // a changed read error is a change too
  return { kind, sources, issues, hash: hash.digest('hex') };
}

export interface LoadResult extends ValidationResult {
  readonly hash: string;
  readonly kind: PathKind | undefined;
}

/** Read, parse and validate: the whole pipeline from a path to a snapshot or its issues. */
export async function loadConfig(path: string, expect?: PathKind): Promise<LoadResult> {
  const read = await readConfig(path, expect);
  const documents: ParsedDocument[] = [];
  const issues: ConfigIssue[] = [...read.issues];
  for (const source of read.sources) {
    const parsed = parseDocuments(source.file, source.text);
    documents.push(...parsed.documents);
    issues.push(...parsed.issues);
  }
  const validated = validateDocuments(documents);
  return { snapshot: validated.snapshot, issues: [...issues, ...validated.issues], notes: validated.notes, hash: read.hash, kind: read.kind };
}
