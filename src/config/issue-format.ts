/**
 * An issue as a user reads it: `formatIssue`'s line, then where the problem
 * is in its file (positions.ts finds it), as `file:line:col`.
 */
import { formatIssue, type ConfigIssue, type SourcePosition } from './types.js';

/** `web.yaml:12:7`, the form editors and terminals turn into a link. */
function formatPosition(position: SourcePosition): string {
  return `${position.file}:${position.line}:${position.col}`;
}

/**
 * The issue as a user reads it in `--check` and a reload report: formatIssue
 * and then where it is, the field first (what an editor should jump to),
 * then the object: `… (at web.yaml:12:7, in the object at web.yaml:5:1)`.
 */
export function formatIssueAt(issue: ConfigIssue): string {
  const line = formatIssue(issue);
  const { at, fieldAt } = issue;
  if (at === undefined) return fieldAt === undefined ? line : `${line} (at ${formatPosition(fieldAt)})`;
  if (fieldAt === undefined || (fieldAt.line === at.line && fieldAt.col === at.col)) return `${line} (at ${formatPosition(at)})`;
  return `${line} (at ${formatPosition(fieldAt)}, in the object at ${formatPosition(at)})`;
}

/** Problems found after validation (planning for this machine) get their object's place from `objectsAt` (validate-sources.ts). */
export function withObjectPositions(issues: readonly ConfigIssue[], objectsAt: Readonly<Record<string, SourcePosition>> | undefined): ConfigIssue[] {
  return issues.map((issue) => {
    const at = issue.at ?? objectsAt?.[issue.where];
    return at === undefined || issue.at !== undefined ? issue : { ...issue, at };
  });
}
