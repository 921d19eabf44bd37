/**
 * `--hosts-file PATH`: a marked block of `IP name...` lines, one per Service
 * address, kept in a hosts-format file (/etc/hosts when run as root, or a
 * file dnsmasq or a compose generator reads). Only the block is ever
 * written: every byte outside it stays as it was. The file is replaced by a
 * rename (atomic), except where the path is a bind mount that cannot be
 * renamed over (Docker's /etc/hosts), where it is rewritten in place.
 *
 * Other writers take no lock (an `echo >> /etc/hosts` does not), so none is
 * taken here either; instead no appended line is lost (issue 25): the file is
 * read through an open descriptor, the descriptor is checked just before the
 * rename (grown, or the path no longer that file: start over), and after the
 * rename the replaced file is watched for SETTLE_MS more: bytes appended to it
 * by a writer that opened it before the rename are carried into the new file
 * in another round. What still loses a line: a writer that holds the file open
 * and writes more than SETTLE_MS after svcproxy's rename (a long-lived process
 * appending now and then), as with any editor that saves by rename; and,
 * where the file is rewritten in place, an append in the instant between the
 * read and the write.
 */
import { open, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { currentConditions } from '../state/endpoints.js';
import { serviceNames } from '../state/service-info.js';
import type { ServiceInfo } from '../state/types.js';

export const BLOCK_BEGIN = '# BEGIN svcproxy: Service names (managed by svcproxy; edits inside this block are lost)';
export const BLOCK_END = '# END svcproxy';

/**
 * The block's lines: for each Service address, the full name and the short
 * forms a Pod in its namespace could use (`<svc>.<ns>.svc`, `<svc>.<ns>`,
 * and `<svc>` for the `default` namespace). A headless Service lists each
 * ready endpoint; ExternalName Services cannot be expressed in a hosts file.
 */
export function hostsBlockLines(services: Iterable<ServiceInfo>, domain: string, podReady: (pod: string) => boolean): string[] {
  const lines: string[] = [];
  const sorted = [...services].sort((a, b) => a.key.localeCompare(b.key));
  for (const s of sorted) {
    const fqdn = `${s.name}.${s.namespace}.svc.${domain}`;
    const names = serviceNames(s, domain).join(' ');
    for (const ip of s.addresses) lines.push(`${ip}\t${names}`);
    if (!s.headless) continue;
    for (const e of s.endpoints) {
      if (!currentConditions(e, podReady, s.publishNotReadyAddresses).ready) continue;
      const host = e.hostname === '' ? '' : ` ${e.hostname}.${fqdn}`;
      lines.push(`${e.address}\t${names}${host}`);
    }
  }
  return lines;
}

/**
 * `text` with the block replaced by `lines` (in the same place), added at the
 * end when there was none, or removed when `lines` is undefined. Text outside
 * the block is returned unchanged.
 */
export function spliceHostsBlock(text: string, lines: readonly string[] | undefined): string {
  const block = lines === undefined ? '' : [BLOCK_BEGIN, ...lines, BLOCK_END].join('\n') + '\n';
  const begin = findLine(text, BLOCK_BEGIN, 0);
  if (begin !== -1) {
    const endLine = findLine(text, BLOCK_END, begin);
    // An unterminated block (cut by hand) runs to the end of the file.
    const endLineEnd = endLine === -1 ? text.length : lineEnd(text, endLine);
    return text.slice(0, begin) + block + text.slice(endLineEnd);
  }
  if (block === '') return text;
  const separator = text === '' || text.endsWith('\n') ? '' : '\n';
  return text + separator + block;
}

/** Start of the first line equal to `line` at or after `from`, or -1. */
function findLine(text: string, line: string, from: number): number {
  let at = from;
  while (at <= text.length) {
    const end = text.indexOf('\n', at);
    const current = text.slice(at, end === -1 ? text.length : end).replace(/\r$/, '');
    if (current === line) return at;
    if (end === -1) return -1;
    at = end + 1;
  }
  return -1;
}

/** Index just after the line starting at `start` (after its newline). */
function lineEnd(text: string, start: number): number {
  const end = text.indexOf('\n', start);
  return end === -1 ? text.length : end + 1;
}

/** After the rename, how long the replaced file is watched for appends made through descriptors opened before it. */
const SETTLE_MS = 150;
/** Rounds before giving up on a file that keeps changing under svcproxy. */
const MAX_ROUNDS = 20;

/** The file open for reading, or undefined when there is none. */
async function openOrNone(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The bytes of `handle` from `from` to its end. */
async function readFrom(handle: FileHandle, from: number): Promise<Buffer> {
  const size = (await handle.stat()).size;
  if (size <= from) return Buffer.alloc(0);
  const buffer = Buffer.alloc(size - from);
  const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
  return buffer.subarray(0, bytesRead);
}

/** Whether `handle` is still the file at `path`, `size` bytes long: nobody appended or replaced it since it was read. */
async function unchanged(handle: FileHandle | undefined, path: string, size: number): Promise<boolean> {
  if (handle === undefined) return (await stat(path).catch(() => undefined)) === undefined;
  const [held, now] = await Promise.all([handle.stat(), stat(path).catch(() => undefined)]);
  return held.size === size && now?.ino === held.ino && now.dev === held.dev;
}

/** Bytes appended to the replaced file after `size`, waiting SETTLE_MS for a writer that opened it before the rename. */
async function appendedAfterRename(handle: FileHandle | undefined, size: number): Promise<Buffer> {
  if (handle === undefined) return Buffer.alloc(0);
  const first = await readFrom(handle, size);
  if (first.length > 0) return first;
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  return readFrom(handle, size);
}

type Round = { readonly kind: 'done'; readonly wrote: boolean } | { readonly kind: 'again'; readonly carried: Buffer };

/** Writes a temp file beside `path` and renames it over; throws the rename's error (temp removed). */
async function replace(path: string, text: string, mode: number): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.svcproxy-${process.pid}.tmp`);
  try {
    await writeFile(temp, text, { mode });
    await rename(temp, path);
  } catch (err: unknown) {
    await rm(temp, { force: true });
    throw err;
  }
}

/**
 * One read-splice-replace. `carried`: bytes another writer appended to the
 * file this one replaced, to be appended to the current file's text.
 */
async function updateRound(path: string, lines: readonly string[] | undefined, carried: Buffer): Promise<Round> {
  const handle = await openOrNone(path);
  try {
    const raw = handle === undefined ? Buffer.alloc(0) : await readFrom(handle, 0);
    const before = raw.toString('utf8');
    const after = spliceHostsBlock(before + carried.toString('utf8'), lines);
    if (after === before) return { kind: 'done', wrote: false };
    const mode = handle === undefined ? 0o644 : (await handle.stat()).mode & 0o7777;
    // Appended to (or replaced) since the read: start over from what is there now.
    if (!(await unchanged(handle, path, raw.length))) return { kind: 'again', carried };
    try {
      await replace(path, after, mode);
    } catch (err: unknown) {
      const code = (err as NodeJS.ErrnoException).code;
      // A bind-mounted file (Docker's /etc/hosts) cannot be renamed over, and its directory may be read-only: write in place.
      if (code !== 'EBUSY' && code !== 'EXDEV' && code !== 'EACCES' && code !== 'EROFS' && code !== 'EPERM') throw err;
      if (!(await unchanged(handle, path, raw.length))) return { kind: 'again', carried };
      await writeFile(path, after);
      return { kind: 'done', wrote: true };
    }
    const late = await appendedAfterRename(handle, raw.length);
    return late.length === 0 ? { kind: 'done', wrote: true } : { kind: 'again', carried: late };
  } finally {
    await handle?.close();
  }
}

/**
 * Writes the block (or removes it, for `undefined`) if the file's content
 * changes. Returns whether it wrote. Throws with the file system's reason,
 * or when the file kept changing under it for MAX_ROUNDS rounds.
 */
export async function updateHostsFile(path: string, lines: readonly string[] | undefined): Promise<boolean> {
  let carried: Buffer = Buffer.alloc(0);
  let wrote = false;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const result = await updateRound(path, lines, carried);
    if (result.kind === 'done') return wrote || result.wrote;
    // A carried tail means this round's rename landed: the next one must write it in, even if the block is already right.
    if (result.carried !== carried) wrote = true;
    carried = result.carried;
  }
  throw new Error(`${path} kept changing while svcproxy rewrote its block (${MAX_ROUNDS} attempts)`);
}
