import { formatIssue, type ConfigSnapshot } from '../../src/config/types.js';
import { validateSources } from '../../src/config/validate-sources.js';

/**
 * Parses and validates YAML text as if it were the file `t.yaml`, in this
 * thread (the pure pipeline the validation worker runs); returns formatted
 * issues, the snapshot, notes and the count of kinds not read.
 */
export function validateYaml(text: string): { issues: string[]; snapshot: ConfigSnapshot; notes: string[]; ignored: Readonly<Record<string, number>> } {
  const validated = validateSources([{ file: 't.yaml', text }]);
  return {
    issues: validated.issues.map(formatIssue),
    snapshot: validated.snapshot,
    notes: validated.notes.map((n) => `${n.level} ${n.where} ${n.object}: ${n.msg}`),
    ignored: validated.ignored,
  };
}

/** A minimal Service manifest with the given spec lines (YAML, indented under spec). */
export function service(spec: string, name = 'web', extraMeta = ''): string {
  return `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n${extraMeta}spec:\n${spec}`;
}
