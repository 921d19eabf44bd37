/**
 * One `GET /version` with the context's credentials, for a clear error at start: the server unreachable,
 * its certificate refused, or the credentials refused (401), each said with the server, context and user.
 */
import { errorMessage } from '../errors.js';
import { KubeStatusError, readBody, statusError } from './api.js';
import type { ClusterAccess } from './types.js';

export interface ServerVersion {
  /** e.g. `v1.32.4`; '' when the server did not say. */
  readonly gitVersion: string;
}

/** A cluster that cannot be reached or refuses the credentials. */
export class ClusterUnavailable extends Error {
  override readonly name = 'ClusterUnavailable';
  constructor(
    message: string,
    /** The HTTP status when the server answered (401, 403 ...); 0 when it did not. */
    readonly code: number,
  ) {
    super(message);
  }
}

export async function probeCluster(access: ClusterAccess, options: { readonly timeoutMs?: number } = {}): Promise<ServerVersion> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const where = `${access.server} (context "${access.contextName}", user "${access.user}")`;
  let body: string;
  let code: number;
  try {
    const res = await access.request('/version', { signal: AbortSignal.timeout(timeoutMs * 2), timeoutMs });
    code = res.statusCode ?? 0;
    body = await readBody(res, 64 * 1024);
  } catch (err) {
    throw new ClusterUnavailable(`cannot reach the API server ${where}: ${errorMessage(err)}`, 0);
  }
  if (code !== 200) {
    const status: KubeStatusError = statusError(code, body);
    const hint = code === 401 ? ': the credentials were refused' : '';
    throw new ClusterUnavailable(`the API server ${where} answered ${status.message}${hint}`, status.code);
  }
  try {
    const parsed: unknown = JSON.parse(body);
    const said: unknown = typeof parsed === 'object' && parsed !== null && 'gitVersion' in parsed ? parsed.gitVersion : '';
    return { gitVersion: typeof said === 'string' ? said : '' };
  } catch {
    return { gitVersion: '' };
  }
}
