/**
 * Server-side printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), as kubectl asks for on
 * `get`: the columns kube-apiserver's printers give these kinds (pkg/printers/internalversion), each
 * row carrying the object's metadata as a PartialObjectMetadata (or the whole object on
 * `includeObject=Object`). kubectl adds the NAMESPACE column itself for `-A`.
 */
import type { EndpointSliceObject, KubeObject, PodObject, ServiceObject } from './types.js';

interface Column {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'date';
  readonly format: string;
  readonly description: string;
  readonly priority: number;
}

const col = (name: string, type: Column['type'] = 'string', priority = 0, format = ''): Column => ({ name, type, format, description: name, priority });

/** Durations as apimachinery's HumanDuration prints them ("5s", "3m2s", "4h", "2d"). */
export function humanAge(since: string, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

function servicePorts(svc: ServiceObject): string {
  const ports = svc.spec.ports ?? [];
  if (ports.length === 0) return '<none>';
  return ports.map((p) => `${p.port}${p.nodePort === undefined ? '' : `:${p.nodePort}`}/${p.protocol}`).join(',');
}

function serviceRow(svc: ServiceObject): unknown[] {
  const external = svc.spec.type === 'ExternalName' ? (svc.spec.externalName ?? '<none>') : svc.spec.type === 'LoadBalancer' ? '<pending>' : '<none>';
  const selector = Object.entries(svc.spec.selector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return [
    svc.metadata.name,
    svc.spec.type,
    svc.spec.clusterIP ?? '<none>',
    external,
    servicePorts(svc),
    humanAge(svc.metadata.creationTimestamp),
    selector === '' ? '<none>' : selector,
  ];
}

function podRow(pod: PodObject): unknown[] {
  const statuses = Array.isArray(pod.status['containerStatuses']) ? (pod.status['containerStatuses'] as Array<{ ready?: boolean; restartCount?: number }>) : [];
  const ready = statuses.filter((c) => c.ready === true).length;
  const restarts = statuses.reduce((n, c) => n + (c.restartCount ?? 0), 0);
  const phase = pod.metadata.deletionTimestamp === undefined ? pod.status.phase : 'Terminating';
  return [
    pod.metadata.name,
    `${ready}/${pod.spec.containers.length}`,
    phase,
    String(restarts),
    humanAge(pod.metadata.creationTimestamp),
    pod.status.podIP ?? '<none>',
    pod.spec.nodeName ?? '<none>',
    '<none>',
    '<none>',
  ];
}

function sliceRow(slice: EndpointSliceObject): unknown[] {
  const ports = slice.ports.length === 0 ? '<unset>' : slice.ports.map((p) => String(p.port)).join(',');
  const addresses = slice.endpoints.flatMap((e) => e.addresses);
  const shown =
    addresses.length === 0 ? '<unset>' : addresses.length > 3 ? `${addresses.slice(0, 3).join(',')} + ${addresses.length - 3} more...` : addresses.join(',');
  return [slice.metadata.name, slice.addressType, ports, shown, humanAge(slice.metadata.creationTimestamp)];
}

interface Printer {
  readonly columns: readonly Column[];
  readonly row: (object: KubeObject) => unknown[];
}

const PRINTERS: Readonly<Record<string, Printer>> = {
  Service: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Type'),
      col('Cluster-IP'),
      col('External-IP'),
      col('Port(s)'),
      col('Age', 'date'),
      col('Selector', 'string', 1),
    ],
    row: (o) => serviceRow(o as ServiceObject),
  },
  Pod: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Ready'),
      col('Status'),
      col('Restarts'),
      col('Age', 'date'),
      col('IP', 'string', 1),
      col('Node', 'string', 1),
      col('Nominated Node', 'string', 1),
      col('Readiness Gates', 'string', 1),
    ],
    row: (o) => podRow(o as PodObject),
  },
  Namespace: {
    columns: [col('Name', 'string', 0, 'name'), col('Status'), col('Age', 'date')],
    row: (o) => [o.metadata.name, (o['status'] as { phase?: string } | undefined)?.phase ?? 'Active', humanAge(o.metadata.creationTimestamp)],
  },
  EndpointSlice: {
    columns: [col('Name', 'string', 0, 'name'), col('AddressType'), col('Ports'), col('Endpoints'), col('Age', 'date')],
    row: (o) => sliceRow(o as EndpointSliceObject),
  },
};

/** `includeObject`: None, Metadata (the default) or Object. */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

function rowObject(object: KubeObject, include: IncludeObject): Record<string, unknown> | undefined {
  if (include === 'None') return undefined;
  if (include === 'Object') return object;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata };
}

/** A Table of `objects` of `kind`, as a list or (one row) a watch event answers with it. */
export function toTable(kind: string, objects: readonly KubeObject[], resourceVersion: string, include: IncludeObject): Record<string, unknown> {
  const printer = PRINTERS[kind];
  if (printer === undefined) throw new Error(`no table printer for ${kind}`);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: printer.columns,
    rows: objects.map((o) => {
      const object = rowObject(o, include);
      return { cells: printer.row(o), ...(object === undefined ? {} : { object }) };
    }),
  };
}
