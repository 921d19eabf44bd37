/**
 * The YAML dialect kubectl reads: YAML 1.1 as gopkg.in/yaml.v2 resolves it
 * when decoding into untyped values (sigs.k8s.io/yaml converts YAML to JSON
 * that way before anything sees the object). See ../shared/k8s-local-cluster.md §5.
 *
 * The `yaml` package's 1.1 schema already has yaml.v2's booleans
 * (`y Y yes Yes YES on On ON true…`, `n no off…`), nulls, 0b/0x/leading-0
 * octal integers, `1_000`, and `<<` merge keys. It differs from yaml.v2 in
 * three places, fixed here:
 * - timestamps: yaml.v2 keeps a timestamp-looking plain scalar as the
 *   string it was when the target is untyped ("for backward compatibility",
 *   its decode.go says), so `2024-01-01` stays a string, not a Date;
 * - base 60: `1:30` is a string for yaml.v2, 90 for the package;
 * - `0o17`: yaml.v2 hands integers to Go's ParseInt(s, 0), which reads the
 *   0o prefix (15); the package leaves it a string.
 */
import type { ParseOptions, DocumentOptions, SchemaOptions, ScalarTag, Tags } from 'yaml';

const DROPPED = new Set(['tag:yaml.org,2002:timestamp']);

/** `0o17` -> 15, as Go's strconv.ParseInt(s, 0, 64) reads it. */
const intOctO: ScalarTag = {
  identify: (value) => typeof value === 'number' && Number.isInteger(value),
  default: true,
  tag: 'tag:yaml.org,2002:int',
  format: 'OCT',
  test: /^[-+]?0o[0-7_]+$/,
  resolve: (text) => {
    const sign = text.startsWith('-') ? -1 : 1;
    return sign * parseInt(text.replace(/^[-+]?0o/, '').replace(/_/g, ''), 8);
  },
};

/** Drops the tags yaml.v2 does not resolve in untyped values; adds `0o` octal. */
function kubectlTags(tags: Tags): Tags {
  const kept = tags.filter((tag) => {
    if (typeof tag === 'string') return true;
    if (DROPPED.has(tag.tag)) return false;
    // base-60 integers and floats (`1:30`): the package files them under the int/float tags with format TIME
    return !('format' in tag && tag.format === 'TIME');
  });
  return [intOctO, ...kept];
}

/**
 * Options for `Composer`: YAML 1.1, and duplicate keys reported (as
 * DUPLICATE_KEY errors, which parse.ts turns into warnings: the value still
 * ends up last-wins, as with kubectl).
 */
export const YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  customTags: kubectlTags,
  uniqueKeys: true,
  prettyErrors: false,
};
