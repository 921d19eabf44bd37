/**
 * `--hosts-file PATH`: a marked block of `IP name...` lines, one per Service
 * address, kept in a hosts-format file (/etc/hosts when run as root, or a
 * file dnsmasq or a compose generator reads). Only the block is ever
 * written: every byte outside it stays as it was. The file is replaced by a
 * rename (atomic), except where the path is a bind mount that cannot be
 * renamed over (Docker's /etc/hosts), where it is rewritten in place.
 */
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
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

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/**
 * Writes the block (or removes it, for `undefined`) if the file's content
 * changes. Returns whether it wrote. Throws with the file system's reason.
 */
export async function updateHostsFile(path: string, lines: readonly string[] | undefined): Promise<boolean> {
  const before = await readOrEmpty(path);
  const after = spliceHostsBlock(before, lines);
  if (after === before) return false;
  const mode = await stat(path).then(
    (s) => s.mode & 0o7777,
    () => 0o644,
  );
  const temp = join(dirname(path), `.${basename(path)}.svcproxy-${process.pid}.tmp`);
  try {
    await writeFile(temp, after, { mode });
    await rename(temp, path);
  } catch (err: unknown) {
    await rm(temp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    // A bind-mounted file (Docker's /etc/hosts) cannot be renamed over, and its directory may be read-only: write in place.
    if (code !== 'EBUSY' && code !== 'EXDEV' && code !== 'EACCES' && code !== 'EROFS' && code !== 'EPERM') throw err;
    await writeFile(path, after);
  }
  return true;
}
