/**
 * svcproxy's version, from package.json, for `--version` and the admin
 * surface's build info.
 */
import { readFileSync } from 'node:fs';

/** The version in package.json, found by walking up from this file (dist/, build/src/ or src/). */
export function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'));
      if (typeof pkg === 'object' && pkg !== null && 'name' in pkg && pkg.name === 'svcproxy' && 'version' in pkg) {
        return String(pkg.version);
      }
    } catch {
      // not at this level; try the next
    }
  }
  return 'unknown';
}
