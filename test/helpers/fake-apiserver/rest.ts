/**
 * get, list and watch of the served kinds, namespaced (`/api/v1/namespaces/NS/services[/NAME]`) and
 * across namespaces (`/api/v1/services`), with label and field selectors, as JSON or as a Table.
 * Lists ignore `limit` (a server may, per the API conventions: no `continue` comes back) and
 * `resourceVersion` (they are always served from the latest state).
 */
import type { ServerResponse } from 'node:http';
import { apiVersionOf, resourceByPath, type ResourceInfo } from './resources.js';
import { SelectorError, parseFieldSelector, parseLabelSelector, type Matcher } from './selectors.js';
import { StatusError, badRequest, forbidden, notFound, status } from './status.js';
import type { Store } from './store.js';
import { toTable, type IncludeObject } from './table.js';
import type { WatchHub } from './watch.js';

/** Who may read what: a namespace listed here answers 403 to everyone, as would RBAC without a RoleBinding there. */
export interface AccessPolicy {
  readonly forbiddenNamespaces: Set<string>;
  /** True: lists and watches across all namespaces answer 403 (a user bound only per namespace). */
  forbidClusterScope: boolean;
}

export interface RestContext {
  readonly store: Store;
  readonly hub: WatchHub;
  readonly policy: AccessPolicy;
  readonly user: string;
}

interface Target {
  readonly info: ResourceInfo;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
}

const CORE = /^\/api\/(v1)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/;
const NAMED = /^\/apis\/([^/]+)\/([^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/;

/** The resource a path names; undefined for a path that is no resource path at all. */
function target(path: string): Target | undefined {
  const core = CORE.exec(path);
  const named = core === null ? NAMED.exec(path) : null;
  const [group, version, namespace, plural, name] =
    core !== null ? ['', core[1], core[2], core[3], core[4]] : named !== null ? [named[1], named[2], named[3], named[4], named[5]] : [];
  if (version === undefined || plural === undefined) return undefined;
  const info = resourceByPath(group ?? '', version, plural);
  if (info === undefined || (namespace !== undefined && !info.namespaced))
    throw new StatusError(status(404, 'NotFound', 'the server could not find the requested resource'));
  return {
    info,
    namespace: namespace === undefined ? undefined : decodeURIComponent(namespace),
    name: name === undefined ? undefined : decodeURIComponent(name),
  };
}

function tableOf(accept: string, query: URLSearchParams): IncludeObject | undefined {
  if (!accept.includes('as=Table')) return undefined;
  const include = query.get('includeObject');
  return include === 'None' || include === 'Object' ? include : 'Metadata';
}

function matcher(info: ResourceInfo, query: URLSearchParams): Matcher {
  try {
    const labels = parseLabelSelector(query.get('labelSelector') ?? undefined);
    const fields = parseFieldSelector(info.kind, query.get('fieldSelector') ?? undefined);
    return (o) => labels(o) && fields(o);
  } catch (err) {
    if (err instanceof SelectorError) throw new StatusError(badRequest(err.message));
    throw err;
  }
}

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

type Verb = 'get' | 'list' | 'watch';

function verbOf(found: Target, query: URLSearchParams): Verb {
  const watching = query.get('watch') === 'true' || query.get('watch') === '1';
  if (watching) return 'watch';
  return found.name === undefined ? 'list' : 'get';
}

function authorize(ctx: RestContext, { info, namespace }: Target, verb: Verb): void {
  const denied = namespace === undefined ? info.namespaced && ctx.policy.forbidClusterScope : ctx.policy.forbiddenNamespaces.has(namespace);
  if (denied) throw new StatusError(forbidden(info, ctx.user, verb, namespace));
}

function getOne(ctx: RestContext, { info, namespace, name = '' }: Target, table: IncludeObject | undefined, res: ServerResponse): void {
  const object = namespace === undefined && info.namespaced ? undefined : ctx.store.get(info.kind, namespace ?? '', name);
  if (object === undefined) throw new StatusError(notFound(info, name));
  sendJson(res, 200, table === undefined ? object : toTable(info.kind, [object], object.metadata.resourceVersion, table));
}

/** Selectors, and the name of a `get -w NAME` (a watch on one object's path). */
function selection({ info, name }: Target, query: URLSearchParams): Matcher {
  const base = matcher(info, query);
  return name === undefined ? base : (o) => o.metadata.name === name && base(o);
}

function watch(ctx: RestContext, found: Target, query: URLSearchParams, table: IncludeObject | undefined, res: ServerResponse): void {
  const timeout = query.get('timeoutSeconds');
  ctx.hub.serve(
    {
      info: found.info,
      namespace: found.namespace,
      matches: selection(found, query),
      resourceVersion: query.get('resourceVersion') ?? '',
      timeoutSeconds: timeout === null ? undefined : Number(timeout),
      bookmarks: query.get('allowWatchBookmarks') === 'true',
      table,
    },
    res,
  );
}

function list(ctx: RestContext, found: Target, query: URLSearchParams, table: IncludeObject | undefined, res: ServerResponse): void {
  const { info } = found;
  const rv = ctx.store.resourceVersion;
  const items = ctx.store.list(info.kind, found.namespace).filter(selection(found, query));
  if (table !== undefined) sendJson(res, 200, toTable(info.kind, items, rv, table));
  // As the real server: items of a list carry no kind/apiVersion (clients take them from the list).
  else
    sendJson(res, 200, {
      kind: info.listKind,
      apiVersion: apiVersionOf(info),
      metadata: { resourceVersion: rv },
      items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
    });
}

/** Serves `url` if it names a resource; returns false when it does not (the caller answers 404). */
export function serveResource(ctx: RestContext, url: URL, accept: string, res: ServerResponse): boolean {
  const found = target(url.pathname);
  if (found === undefined) return false;
  const query = url.searchParams;
  const verb = verbOf(found, query);
  authorize(ctx, found, verb);
  const table = tableOf(accept, query);
  if (verb === 'get') getOne(ctx, found, table, res);
  else if (verb === 'watch') watch(ctx, found, query, table, res);
  else list(ctx, found, query, table, res);
  return true;
}
