import { dns1123LabelError, dns1123SubdomainError, isRecord, labelMap, optionalString, stringMap, type IssueSink, type JsonRecord } from './fields.js';

/** `metadata` as every kind reads it, with the namespace defaulted to `default`. */
export interface ObjectMeta {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly deletionTimestamp: string | undefined;
}

const DEFAULT_NAMESPACE = 'default';

/**
 * Reads `metadata` and names the object in the sink as soon as it can,
 * so later messages say `Service default/web` rather than nothing.
 * @param nameError the name rule of this kind (DNS-1035 for Services, subdomain for most others)
 */
export function readMetadata(raw: JsonRecord, kind: string, sink: IssueSink, nameError: (name: string) => string = dns1123SubdomainError): ObjectMeta {
  const meta = raw['metadata'];
  if (!isRecord(meta)) {
    sink.identify(kind);
    sink.required('metadata.name');
    return { namespace: DEFAULT_NAMESPACE, name: '', labels: {}, annotations: {}, deletionTimestamp: undefined };
  }
  const name = optionalString(meta, 'name', 'metadata.name', sink) ?? '';
  const namespace = optionalString(meta, 'namespace', 'metadata.namespace', sink) || DEFAULT_NAMESPACE;
  sink.identify(`${kind} ${namespace}/${name === '' ? '<unnamed>' : name}`);
  if (name === '') sink.required('metadata.name', 'name or generateName is required');
  else {
    const err = nameError(name);
    if (err !== '') sink.invalid('metadata.name', name, err);
  }
  const nsErr = dns1123LabelError(namespace);
  if (nsErr !== '') sink.invalid('metadata.namespace', namespace, nsErr);
  return {
    namespace,
    name,
    labels: labelMap(meta, 'labels', 'metadata.labels', sink) ?? {},
    annotations: stringMap(meta, 'annotations', 'metadata.annotations', sink) ?? {},
    deletionTimestamp: optionalString(meta, 'deletionTimestamp', 'metadata.deletionTimestamp', sink),
  };
}
