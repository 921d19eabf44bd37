/**
 * `/version` and legacy discovery (`/api`, `/api/v1`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`),
 * built from the resource table. Aggregated discovery (apidiscovery.k8s.io/v2) is not served: kubectl
 * 1.32 asks for it in the Accept header of `/api` and `/apis`, and on a plain `application/json`
 * answer falls back to the per-group-version lists, as against any pre-1.26 server.
 */
import { RESOURCES, VERBS, apiVersionOf, type ResourceInfo } from './resources.js';

/** kubectl warns when the server is more than one minor version away; 1.32 matches the kubectl here. */
export const VERSION_INFO = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.4-fake',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-04-22T16:03:15Z',
  goVersion: 'go1.23.8',
  compiler: 'gc',
  platform: 'linux/amd64',
} as const;

function groups(): Map<string, ResourceInfo[]> {
  const out = new Map<string, ResourceInfo[]>();
  for (const r of RESOURCES) out.set(apiVersionOf(r), [...(out.get(apiVersionOf(r)) ?? []), r]);
  return out;
}

function apiGroup(name: string, version: string): Record<string, unknown> {
  const gv = { groupVersion: `${name}/${version}`, version };
  return { name, versions: [gv], preferredVersion: gv };
}

/** The discovery document at `path`, or undefined when `path` is not a discovery path. */
export function discovery(path: string, serverAddress: string): unknown {
  const byGv = groups();
  if (path === '/version') return VERSION_INFO;
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
  if (path === '/apis') {
    const named = [...new Set(RESOURCES.filter((r) => r.group !== '').map((r) => `${r.group}/${r.version}`))];
    return { kind: 'APIGroupList', apiVersion: 'v1', groups: named.map((gv) => apiGroup(gv.split('/')[0] ?? '', gv.split('/')[1] ?? '')) };
  }
  const group = /^\/apis\/([^/]+)$/.exec(path)?.[1];
  if (group !== undefined) {
    const info = RESOURCES.find((r) => r.group === group);
    return info === undefined ? undefined : { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(info.group, info.version) };
  }
  const gv = path === '/api/v1' ? 'v1' : /^\/apis\/([^/]+\/[^/]+)$/.exec(path)?.[1];
  const resources = gv === undefined ? undefined : byGv.get(gv);
  if (gv === undefined || resources === undefined) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: gv,
    resources: resources.map((r) => ({
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: [...VERBS],
      ...(r.shortNames.length > 0 ? { shortNames: [...r.shortNames] } : {}),
      ...(r.categories.length > 0 ? { categories: [...r.categories] } : {}),
    })),
  };
}
