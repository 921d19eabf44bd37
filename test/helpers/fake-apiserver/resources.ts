/**
 * The kinds the fake serves and where they live: one table drives discovery, the URL router, list
 * kinds and the Table printer columns. Adding a kind is one entry here plus its columns in table.ts.
 */

export interface ResourceInfo {
  readonly kind: string;
  readonly listKind: string;
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly namespaced: boolean;
}

export const RESOURCES: readonly ResourceInfo[] = [
  // kubectl asks for the Namespace after a namespaced 404, to tell "no such object" from "no such namespace".
  {
    kind: 'Namespace',
    listKind: 'NamespaceList',
    group: '',
    version: 'v1',
    plural: 'namespaces',
    singular: 'namespace',
    shortNames: ['ns'],
    categories: [],
    namespaced: false,
  },
  {
    kind: 'Service',
    listKind: 'ServiceList',
    group: '',
    version: 'v1',
    plural: 'services',
    singular: 'service',
    shortNames: ['svc'],
    categories: ['all'],
    namespaced: true,
  },
  { kind: 'Pod', listKind: 'PodList', group: '', version: 'v1', plural: 'pods', singular: 'pod', shortNames: ['po'], categories: ['all'], namespaced: true },
  {
    kind: 'EndpointSlice',
    listKind: 'EndpointSliceList',
    group: 'discovery.k8s.io',
    version: 'v1',
    plural: 'endpointslices',
    singular: 'endpointslice',
    shortNames: [],
    categories: [],
    namespaced: true,
  },
];

/** `v1` or `discovery.k8s.io/v1`. */
export function apiVersionOf(info: ResourceInfo): string {
  return info.group === '' ? info.version : `${info.group}/${info.version}`;
}

export function resourceByPath(group: string, version: string, plural: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

/** The verbs the fake answers (and discovery advertises, so kubectl offers get/list/watch only). */
export const VERBS = ['get', 'list', 'watch'] as const;
