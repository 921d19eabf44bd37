import { parseDocuments } from '../../src/config/parse.js';
import { formatIssue, type ConfigSnapshot } from '../../src/config/types.js';
import { validateDocuments } from '../../src/config/validate.js';

/** Parses and validates YAML text as if it were the file `t.yaml`; returns formatted issues and the snapshot. */
export function validateYaml(text: string): { issues: string[]; snapshot: ConfigSnapshot; notes: string[] } {
  const parsed = parseDocuments('t.yaml', text);
  const validated = validateDocuments(parsed.documents);
  return {
    issues: [...parsed.issues, ...validated.issues].map(formatIssue),
    snapshot: validated.snapshot,
    notes: validated.notes.map((n) => `${n.level} ${n.where} ${n.object}: ${n.msg}`),
  };
}

/** A minimal Service manifest with the given spec lines (YAML, indented under spec). */
export function service(spec: string, name = 'web', extraMeta = ''): string {
  return `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n${extraMeta}spec:\n${spec}`;
}
