/**
 * A kubeconfig context, ready to talk to its API server. Which files, as kubectl picks them: `--kubeconfig`
 * (one file, which must exist), else `$KUBECONFIG` (a path list; missing entries are skipped, the rest
 * merged: the first file to name a cluster, user or context wins, and the first `current-context` set wins),
 * else `~/.kube/config`. Each file is read by @kubernetes/client-node's KubeConfig (relative paths resolved
 * against its own directory), and every request is authenticated by it (`applyToHTTPSOptions`: client
 * certificates, tokens, exec credential plugins, OIDC, the CA, insecure-skip-tls-verify, proxy-url), so every
 * cluster kubectl reaches, svcproxy reaches. The requests themselves are plain node:https, for the control
 * a watch needs (bookmarks, timeoutSeconds, resume) that client-node's ListWatch lacks.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { KubeConfig, type Cluster, type Context, type User } from '@kubernetes/client-node';
import { errorCode, errorMessage } from '../errors.js';
import { version } from '../version.js';
import type { ClusterAccess, KubeRequestOptions, KubeUpgrade, KubeUpgradeOptions } from './types.js';
import { upgradeRequest } from './upgrade.js';

export interface LoadClusterAccessOptions {
  /** `--kubeconfig`: one file, used alone. */
  readonly kubeconfig?: string;
  /** `--context`: else the kubeconfig's current-context. */
  readonly context?: string;
  /** Where $KUBECONFIG and $HOME are read (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

/** A kubeconfig that cannot be used; the message names the file(s) and the context. */
export class KubeconfigError extends Error {
  override readonly name = 'KubeconfigError';
}

/** The kubeconfig files to read, in kubectl's precedence, and whether a missing one is an error. */
function kubeconfigPaths(options: LoadClusterAccessOptions): { readonly paths: readonly string[]; readonly source: string } {
  if (options.kubeconfig !== undefined && options.kubeconfig !== '') return { paths: [options.kubeconfig], source: '--kubeconfig' };
  const env = options.env ?? process.env;
  const list = (env.KUBECONFIG ?? '').split(delimiter).filter((p) => p !== '');
  if (list.length > 0) return { paths: [...new Set(list)], source: '$KUBECONFIG' };
  const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir();
  return { paths: [join(home, '.kube', 'config')], source: 'the default kubeconfig' };
}

/** One file read into its own KubeConfig; undefined when it does not exist and `optional`. */
function loadFile(path: string, optional: boolean): KubeConfig | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (optional && errorCode(err) === 'ENOENT') return undefined;
    const what = errorCode(err) === 'ENOENT' ? 'does not exist' : `cannot be read (${errorMessage(err)})`;
    throw new KubeconfigError(`kubeconfig ${path} ${what}`);
  }
  const kc = new KubeConfig();
  if (text.trim() === '') return kc; // as kubectl: an empty file is an empty config
  try {
    kc.loadFromString(text, { onInvalidEntry: 'throw' });
  } catch (err) {
    throw new KubeconfigError(`kubeconfig ${path} is malformed: ${errorMessage(err)}`);
  }
  kc.makePathsAbsolute(dirname(path));
  return kc;
}

/** kubectl's merge: the first file to define a name wins; the first non-empty current-context wins. */
function merge(configs: readonly KubeConfig[]): KubeConfig {
  const merged = new KubeConfig();
  const clusters = new Map<string, Cluster>();
  const users = new Map<string, User>();
  const contexts = new Map<string, Context>();
  let current = '';
  for (const kc of configs) {
    for (const c of kc.getClusters()) if (!clusters.has(c.name)) clusters.set(c.name, c);
    for (const u of kc.getUsers()) if (!users.has(u.name)) users.set(u.name, u);
    for (const c of kc.getContexts()) if (!contexts.has(c.name)) contexts.set(c.name, c);
    const cc: unknown = kc.getCurrentContext();
    if (current === '' && typeof cc === 'string') current = cc;
  }
  merged.loadFromOptions({ clusters: [...clusters.values()], users: [...users.values()], contexts: [...contexts.values()], currentContext: current });
  return merged;
}

function describe(paths: readonly string[]): string {
  return paths.length === 1 ? `kubeconfig ${paths[0]}` : `kubeconfig ${paths.join(delimiter)}`;
}

/** Reads the kubeconfig(s) and resolves the context; throws a KubeconfigError naming the path(s) and the context. */
export function loadClusterAccess(options: LoadClusterAccessOptions = {}): ClusterAccess {
  const { paths, source } = kubeconfigPaths(options);
  const optional = source === '$KUBECONFIG';
  const configs = paths.map((p) => loadFile(p, optional)).filter((kc) => kc !== undefined);
  if (configs.length === 0) throw new KubeconfigError(`${describe(paths)} does not exist (from ${source})`);
  const kc = merge(configs);
  const where = describe(paths);
  const contextName = options.context !== undefined && options.context !== '' ? options.context : kc.getCurrentContext();
  if (contextName === undefined || contextName === '') {
    throw new KubeconfigError(`${where} has no current-context; pass --context (contexts: ${names(kc)})`);
  }
  const context = kc.getContextObject(contextName);
  if (context === null) throw new KubeconfigError(`${where} has no context "${contextName}" (contexts: ${names(kc)})`);
  const cluster = kc.getCluster(context.cluster);
  if (cluster === null) throw new KubeconfigError(`${where}: context "${contextName}" names cluster "${context.cluster}", which is not defined`);
  if (kc.getUser(context.user) === null) throw new KubeconfigError(`${where}: context "${contextName}" names user "${context.user}", which is not defined`);
  kc.setCurrentContext(contextName);
  let server: URL;
  try {
    server = new URL(cluster.server);
  } catch {
    throw new KubeconfigError(`${where}: cluster "${cluster.name}" of context "${contextName}" has an invalid server URL "${cluster.server}"`);
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:') {
    throw new KubeconfigError(`${where}: cluster "${cluster.name}" of context "${contextName}" has an unsupported server URL "${cluster.server}"`);
  }
  const namespace = context.namespace ?? 'default';
  return new KubeconfigAccess(kc, { contextName, server: cluster.server, user: context.user, namespace, kubeconfigPaths: paths });
}

function names(kc: KubeConfig): string {
  const all = kc.getContexts().map((c) => c.name);
  return all.length === 0 ? 'none' : all.join(', ');
}

interface AccessInfo {
  readonly contextName: string;
  readonly server: string;
  readonly user: string;
  readonly namespace: string;
  readonly kubeconfigPaths: readonly string[];
}

/** A request that got no response headers in time. */
class KubeRequestTimeout extends Error {
  override readonly name = 'KubeRequestTimeout';
  readonly code = 'ETIMEDOUT';
}

const USER_AGENT = `svcproxy/${version()}`;

class KubeconfigAccess implements ClusterAccess {
  readonly contextName: string;
  readonly server: string;
  readonly user: string;
  readonly namespace: string;
  readonly kubeconfigPaths: readonly string[];
  private readonly base: string;

  constructor(
    private readonly kc: KubeConfig,
    info: AccessInfo,
  ) {
    this.contextName = info.contextName;
    this.server = info.server;
    this.user = info.user;
    this.namespace = info.namespace;
    this.kubeconfigPaths = info.kubeconfigPaths;
    this.base = info.server.replace(/\/+$/, '');
  }

  async request(path: string, options: KubeRequestOptions): Promise<IncomingMessage> {
    const url = new URL(this.base + path);
    const opts: RequestOptions & { rejectUnauthorized?: boolean } = { method: 'GET', headers: { Accept: 'application/json', 'User-Agent': USER_AGENT } };
    await this.kc.applyToHTTPSOptions(opts);
    options.signal.throwIfAborted();
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise<IncomingMessage>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const req = send(url, { ...opts, signal: options.signal }, (res) => {
        clearTimeout(timer);
        resolve(res);
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => req.destroy(new KubeRequestTimeout(`no answer from ${this.server} within ${options.timeoutMs} ms`)), options.timeoutMs);
      }
      req.end();
    });
  }

  async upgrade(path: string, options: KubeUpgradeOptions): Promise<KubeUpgrade> {
    const opts: RequestOptions & { rejectUnauthorized?: boolean } = { headers: { 'User-Agent': USER_AGENT } };
    await this.kc.applyToHTTPSOptions(opts);
    return upgradeRequest(new URL(this.base + path), opts, options);
  }
}
