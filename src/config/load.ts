/**
 * Reads the config paths (`--config`, repeatable: files, directory trees,
 * `-` for standard input) into a whole snapshot: every file's text plus a
 * content hash. Any read problem is an issue, never a partial snapshot, so a
 * half-finished edit cannot be applied. Reading is bounded (file size, total
 * size, number of files, directory depth) and cheap; parsing and validating
 * happen in a child process (isolated-validation.ts).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../errors.js';
import { validateIsolated, type ValidationLimits } from './isolated-validation.js';
import type { ConfigIssue, ConfigNote } from './types.js';
import type { ConfigSource } from './validate-sources.js';
import type { ValidationResult } from './validate.js';

export type PathKind = 'file' | 'directory' | 'stdin';

/** The config path that means standard input. */
export const STDIN_PATH = '-';

export interface ReadResult {
  /** What each config path was when read (undefined: it could not be read), in the order given. */
  readonly kinds: readonly (PathKind | undefined)[];
  readonly sources: readonly ConfigSource[];
  readonly issues: readonly ConfigIssue[];
  readonly notes: readonly ConfigNote[];
  /** sha256 over file names and contents: equal hashes mean nothing changed. */
  readonly hash: string;
}

const MANIFEST = /\.(ya?ml|json)$/i;
/** kustomize's own files: instructions for kustomize, not objects (see listManifests). */
const KUSTOMIZATION = /^(kustomization\.ya?ml|Kustomization)$/;
/** A manifest larger than this is refused rather than read (about 20x that while parsed). */
export const MAX_FILE_BYTES = 8 * 1024 * 1024;
/** All files of a snapshot together. */
export const MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024;
/** Manifest files in one snapshot. */
const MAX_FILES = 1000;
/** Directory levels below a config directory. */
export const MAX_DEPTH = 16;

function readIssue(where: string, message: string): ConfigIssue {
  return { where, object: '', path: '', message };
}

const errorText = describeError;

class TooMany extends Error {}

/**
 * Lists the manifests of a directory tree: `*.yaml`, `*.yml`, `*.json`,
 * depth first in name order. Names starting with `.` are skipped, which also
 * skips the `..data` and `..2026_…` entries of a Kubernetes ConfigMap mount
 * (the visible names there are symlinks that stat() follows). A
 * kustomization file is not an object: it is skipped with a note, since
 * svcproxy reads the files as they are and does not apply kustomize.
 */
async function listManifests(dir: string, notes: ConfigNote[], depth = 0, seen = new Set<string>()): Promise<string[]> {
  const info = await stat(dir);
  const id = `${info.dev}:${info.ino}`;
  if (seen.has(id)) return []; // a symlink back up the tree
  seen.add(id);
  if (depth > MAX_DEPTH) throw new TooMany(`directories nested more than ${MAX_DEPTH} levels deep under the config path (at ${dir})`);
  const files: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    const entry = await stat(path).catch(() => undefined); // a dangling link that is no manifest does not matter
    if (entry?.isDirectory() === true) {
      files.push(...(await listManifests(path, notes, depth + 1, seen)));
    } else if (KUSTOMIZATION.test(name)) {
      notes.push({
        level: 'warn',
        where: path,
        object: '',
        msg: 'a kustomization: svcproxy reads the manifests of this directory as they are and does not apply it; to use an overlay, run `kubectl kustomize DIR | svcproxy --config -`',
      });
    } else if (MANIFEST.test(name)) {
      files.push(path);
    }
    if (files.length > MAX_FILES) throw new TooMany(`more than ${MAX_FILES} manifest files under the config path`);
  }
  return files;
}

/** Bytes -> text, or why they are not YAML/JSON text. */
function decodeText(bytes: Uint8Array): { text: string } | { problem: string } {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return { problem: 'the file is UTF-16 text; save it as UTF-8' };
  }
  const nul = bytes.indexOf(0);
  if (nul !== -1) return { problem: `the file holds binary data (a NUL byte at offset ${nul}), not YAML or JSON text` };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { problem: 'the file is not UTF-8 text (YAML and JSON manifests are UTF-8)' };
  }
}

export interface ReadOptions {
  /** What each path was at start-up: on reloads, a path that turned from a directory into a file (or back) is an issue. */
  readonly expect?: readonly (PathKind | undefined)[];
  /** Standard input's bytes, for the path `-` (read once by the caller: a reload sees the same text). */
  readonly stdin?: Uint8Array;
}

/** Reads every manifest under `paths`. */
export async function readConfig(paths: readonly string[], options: ReadOptions = {}): Promise<ReadResult> {
  const issues: ConfigIssue[] = [];
  const notes: ConfigNote[] = [];
  const sources: ConfigSource[] = [];
  const kinds: (PathKind | undefined)[] = [];
  const hash = createHash('sha256');
  let total = 0;
  let files = 0;
  const add = (file: string, bytes: Uint8Array): void => {
    total += bytes.length;
    if (bytes.length > MAX_FILE_BYTES) return void issues.push(readIssue(file, `the file is ${bytes.length} bytes; the limit is ${MAX_FILE_BYTES}`));
    if (total > MAX_SNAPSHOT_BYTES)
      return void issues.push(readIssue(file, `the config is over ${MAX_SNAPSHOT_BYTES} bytes in all with this file; that is the limit`));
    // A zero-byte file is most often one an editor or a copy is still writing.
    if (bytes.length === 0) return void issues.push(readIssue(file, 'the file is empty; to remove every object, leave a comment or a `---` in it'));
    const decoded = decodeText(bytes);
    if ('problem' in decoded) return void issues.push(readIssue(file, decoded.problem));
    hash.update(file).update('\0').update(decoded.text).update('\0');
    sources.push({ file, text: decoded.text });
  };
  for (const [i, path] of paths.entries()) {
    if (path === STDIN_PATH) {
      kinds.push('stdin');
      add('<stdin>', options.stdin ?? new Uint8Array());
      continue;
    }
    const listed = await listPath(path, options.expect?.[i], notes);
    kinds.push(listed.kind);
    if ('problem' in listed) {
      issues.push(readIssue(path, listed.problem));
      hash.update(`error:${listed.problem}`);
      continue;
    }
    for (const file of listed.files) {
      if (++files > MAX_FILES) {
        issues.push(readIssue(path, `more than ${MAX_FILES} manifest files in all`));
        break;
      }
      try {
        const info = await stat(file);
        // Checked before reading: a 50 GB file is refused without touching it.
        if (info.size > MAX_FILE_BYTES) issues.push(readIssue(file, `the file is ${info.size} bytes; the limit is ${MAX_FILE_BYTES}`));
        else add(file, await readFile(file));
      } catch (err: unknown) {
        issues.push(readIssue(file, `cannot read: ${errorText(err)}`));
      }
    }
  }
  for (const issue of issues) hash.update(issue.message); // a changed read error is a change too
  return { kinds, sources, issues, notes, hash: hash.digest('hex') };
}

type Listed = { kind: PathKind | undefined; files: string[] } | { kind: PathKind | undefined; problem: string };

async function listPath(path: string, expect: PathKind | undefined, notes: ConfigNote[]): Promise<Listed> {
  let kind: PathKind;
  try {
    kind = (await stat(path)).isDirectory() ? 'directory' : 'file';
  } catch (err: unknown) {
    return { kind: undefined, problem: `cannot read the config: ${errorText(err)}` };
  }
  if (expect !== undefined && kind !== expect) {
    return { kind, problem: `the config path was a ${expect} when svcproxy started and is now a ${kind}; restart svcproxy to change that` };
  }
  if (kind === 'file') return { kind, files: [path] };
  try {
    const files = await listManifests(path, notes);
    if (files.length === 0) return { kind, problem: 'the directory holds no *.yaml, *.yml or *.json file' };
    return { kind, files };
  } catch (err: unknown) {
    return { kind, problem: err instanceof TooMany ? err.message : `cannot read the config: ${errorText(err)}` };
  }
}

export interface LoadResult extends ValidationResult {
  readonly hash: string;
  readonly kinds: readonly (PathKind | undefined)[];
}

/** The label for problems that belong to no one file. */
export function describePaths(paths: readonly string[]): string {
  return paths.map((p) => (p === STDIN_PATH ? '<stdin>' : p)).join(', ');
}

/** Parse and validate what was read (in a child process): the rest of the pipeline from a read to a snapshot or its issues. */
export async function validateRead(read: ReadResult, paths: readonly string[], limits?: ValidationLimits): Promise<LoadResult> {
  const validated = await validateIsolated(read.sources, describePaths(paths), limits);
  return {
    ...validated,
    issues: [...read.issues, ...validated.issues],
    notes: [...read.notes, ...validated.notes],
    hash: read.hash,
    kinds: read.kinds,
  };
}

/** Standard input, whole, up to MAX_FILE_BYTES + 1 bytes (so that the size check can refuse more). */
export async function readStream(stream: NodeJS.ReadableStream): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    chunks.push(buffer);
    size += buffer.length;
    if (size > MAX_FILE_BYTES) break; // stop reading: what is kept already says "too large"
  }
  return Buffer.concat(chunks);
}
