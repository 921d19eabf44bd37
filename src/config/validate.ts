/**
 * Parsed documents -> one validated ConfigSnapshot, or every issue found.
 * A snapshot with any issue is rejected whole: nothing from it is applied.
 *
 * Each object goes through the registry (kinds.ts): a kind svcproxy reads
 * is checked strictly (unknown fields, value types) against its OpenAPI
 * field table, then by its typed validator; any other kind is counted and
 * left alone, as long as it says what it is (`apiVersion` and `kind`).
 */
import { crossChecks, podPortHolders, templatePortHolders } from './cross-checks.js';
import { IssueSink, isRecord, type JsonRecord } from './fields.js';
import { apiGroup, isKnownGroup, KINDS, type KindDefinition, type SnapshotBuilder } from './kinds.js';
import type { ParsedDocument } from './parse.js';
import { podTotalIssues } from './workload.js';
import { bindingChecks } from './workload-binding.js';
import { checkFields, editDistance, type FieldProblem } from './schema.js';
import { formatSource, type ConfigIssue, type ConfigNote, type ConfigSnapshot, type ObjectSource, type SourcePosition } from './types.js';

export interface ValidationResult {
  readonly snapshot: ConfigSnapshot;
  readonly issues: readonly ConfigIssue[];
  readonly notes: readonly ConfigNote[];
  /** Objects of kinds svcproxy does not read, by `apiVersion kind` (`v1 ConfigMap`). */
  readonly ignored: Readonly<Record<string, number>>;
  /** Where each object starts, by `file[doc]` / `file[doc].items[i]`: for problems found when the objects are planned. */
  readonly objectsAt?: Readonly<Record<string, SourcePosition>>;
}

interface Run {
  readonly out: SnapshotBuilder;
  readonly issues: ConfigIssue[];
  readonly notes: ConfigNote[];
  readonly ignored: Record<string, number>;
}

/** Validates every object of every document and the rules that span objects (duplicate names, references). */
export function validateDocuments(documents: readonly ParsedDocument[]): ValidationResult {
  const run: Run = {
    out: { services: [], endpoints: [], endpointSlices: [], pods: [], workloads: [], bindings: [], faults: [] },
    issues: [],
    notes: [],
    ignored: {},
  };
  for (const document of documents) {
    if (document.value === null || document.value === undefined) continue; // an empty document, e.g. a trailing `---`
    const source: ObjectSource = { file: document.file, doc: document.doc };
    const raw = document.value;
    if (isRecord(raw) && raw['kind'] === 'List' && Array.isArray(raw['items'])) {
      raw['items'].forEach((item: unknown, i) => validateObject(item, { ...source, item: i }, run));
    } else validateObject(raw, source, run);
  }
  const { out } = run;
  run.issues.push(
    ...duplicates(out.services),
    ...duplicates(out.endpoints),
    ...duplicates(out.endpointSlices),
    ...duplicates(out.pods),
    ...duplicates(out.workloads),
    ...duplicates(out.bindings),
    ...duplicates(out.faults),
    ...podTotalIssues(out.workloads, out.bindings),
  );
  const bindings = bindingChecks(out.workloads, out.bindings);
  run.issues.push(...bindings.issues);
  run.notes.push(...bindings.notes);
  run.notes.push(...crossChecks(out, [...podPortHolders(out), ...templatePortHolders(out.workloads)]));
  return { snapshot: out, issues: run.issues, notes: run.notes, ignored: run.ignored };
}

function validateObject(raw: unknown, source: ObjectSource, run: Run): void {
  const sink = new IssueSink(source, '');
  const finish = (): void => void run.issues.push(...sink.issues);
  if (!isRecord(raw)) {
    sink.add('', 'must be a Kubernetes object (a mapping with apiVersion and kind)');
    return finish();
  }
  const kind = raw['kind'];
  const apiVersion = raw['apiVersion'];
  const name = isRecord(raw['metadata']) && typeof raw['metadata']['name'] === 'string' ? raw['metadata']['name'] : '';
  if (typeof kind !== 'string' || kind === '') {
    if (kind === undefined || kind === null || kind === '') sink.required('kind');
    else sink.invalid('kind', kind, 'must be a string');
  } else sink.identify(name === '' ? kind : `${kind} ${name}`);
  if (apiVersion === undefined || apiVersion === null || apiVersion === '') {
    sink.required('apiVersion', 'every object names its API group and version (for example `apiVersion: v1` or `apps/v1`)');
  } else if (typeof apiVersion !== 'string') sink.invalid('apiVersion', apiVersion, 'must be a string');
  if (sink.count > 0 || typeof kind !== 'string' || typeof apiVersion !== 'string') return finish();

  const definition = KINDS.find((d) => d.kind === kind && d.apiVersion === apiVersion);
  if (definition === undefined) {
    if (!misnamed(kind, apiVersion, sink)) {
      const key = `${apiVersion} ${kind}`;
      run.ignored[key] = (run.ignored[key] ?? 0) + 1;
      run.notes.push({
        level: 'debug',
        msg: `kind ${kind} (${apiVersion}) is not read by svcproxy; skipped`,
        where: formatSource(source),
        object: `${kind} ${name}`,
      });
    }
    return finish();
  }
  readKind(definition, raw, source, sink, run);
  finish();
}

/**
 * A kind svcproxy reads, written so that a cluster would refuse it: in the
 * wrong case (`service`), misspelt within a group whose kinds are known
 * (`v1` Servce), or under another version of its own group
 * (`extensions/v1beta1` Deployment). Reports it and returns true.
 */
function misnamed(kind: string, apiVersion: string, sink: IssueSink): boolean {
  const group = apiGroup(apiVersion);
  const caseOnly = KINDS.find((d) => d.kind.toLowerCase() === kind.toLowerCase() && d.kind !== kind && apiGroup(d.apiVersion) === group);
  if (caseOnly !== undefined) {
    sink.invalid('kind', kind, `kinds are case-sensitive; did you mean ${JSON.stringify(caseOnly.kind)}?`);
    return true;
  }
  const sameName = KINDS.filter((d) => d.kind === kind);
  if (sameName.length > 0 && isKnownGroup(group)) {
    sink.unsupported(
      'apiVersion',
      apiVersion,
      sameName.map((d) => d.apiVersion),
    );
    return true;
  }
  // One slip in a short name, two in a longer one: `Node` is not a misspelt `Pod`.
  const typo = KINDS.find((d) => {
    const max = d.kind.length < 6 ? 1 : 2;
    return d.apiVersion === apiVersion && editDistance(d.kind.toLowerCase(), kind.toLowerCase(), max) <= max;
  });
  if (typo !== undefined) {
    sink.invalid('kind', kind, `no kind ${JSON.stringify(kind)} in ${apiVersion}; did you mean ${JSON.stringify(typo.kind)}?`);
    return true;
  }
  return false;
}

/**
 * The strict check and the typed validator, merged: unknown fields always
 * count; a wrong type the typed validator also reports (with its own,
 * more specific words) is reported once, in its words.
 */
function readKind(definition: KindDefinition, raw: JsonRecord, source: ObjectSource, sink: IssueSink, run: Run): void {
  const problems = checkFields(raw, definition.rootType, definition.types);
  definition.add(raw, source, sink, run.out);
  const typed = sink.issues.splice(0);
  const covered = (p: FieldProblem): boolean => typed.some((i) => i.path !== '' && overlaps(i.path, p.path));
  // A kind whose validator also names unknown fields (Fault's spec) is not told twice.
  const named = (p: FieldProblem): boolean => typed.some((i) => i.message.startsWith(`unknown field ${JSON.stringify(p.path)}`));
  for (const p of problems) {
    if (p.kind === 'unknown' && !named(p)) sink.add('', p.message);
  }
  sink.issues.push(...typed.map((i) => ({ ...i, object: i.object === '' ? sink.identity : i.object })));
  for (const p of problems) {
    if (p.kind === 'type' && !covered(p)) sink.add(p.path, p.message);
  }
}

/** True when one field path is the other or lies inside it. */
function overlaps(a: string, b: string): boolean {
  const inside = (inner: string, outer: string): boolean => inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);
  return inside(a, b) || inside(b, a);
}

/** Two objects of one kind with the same namespace/name: the later one is an error naming the first. */
function duplicates(objects: ReadonlyArray<{ kind: string; namespace: string; name: string; source: ObjectSource }>): ConfigIssue[] {
  const seen = new Map<string, ObjectSource>();
  const issues: ConfigIssue[] = [];
  for (const o of objects) {
    const key = `${o.namespace}/${o.name}`;
    const first = seen.get(`${o.kind} ${key}`);
    if (first === undefined) {
      seen.set(`${o.kind} ${key}`, o.source);
      continue;
    }
    issues.push({
      where: formatSource(o.source),
      object: `${o.kind} ${key}`,
      path: 'metadata.name',
      message: `Duplicate value: "${o.name}": ${o.kind} ${key} is already defined at ${formatSource(first)}`,
    });
  }
  return issues;
}
