/** metav1.Status bodies, worded as kube-apiserver words them (clients match on code and reason). */
import type { ResourceInfo } from './resources.js';

export interface StatusBody {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure';
  readonly message: string;
  readonly reason: string;
  readonly details?: { readonly name?: string; readonly group?: string; readonly kind?: string };
  readonly code: number;
}

/** A request the fake answers with a Status instead of an object. */
export class StatusError extends Error {
  override readonly name = 'StatusError';
  constructor(readonly body: StatusBody) {
    super(body.message);
  }
}

export function status(code: number, reason: string, message: string, details?: StatusBody['details']): StatusBody {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details === undefined ? {} : { details }), code };
}

export const unauthorized = (): StatusBody => status(401, 'Unauthorized', 'Unauthorized');

export function notFound(info: ResourceInfo, name: string): StatusBody {
  return status(404, 'NotFound', `${info.plural}${info.group === '' ? '' : `.${info.group}`} "${name}" not found`, {
    name,
    ...(info.group === '' ? {} : { group: info.group }),
    kind: info.plural,
  });
}

export function forbidden(info: ResourceInfo, user: string, verb: string, namespace: string | undefined): StatusBody {
  const scope = namespace === undefined ? 'at the cluster scope' : `in the namespace "${namespace}"`;
  const resource = `${info.plural}${info.group === '' ? '' : `.${info.group}`}`;
  return status(403, 'Forbidden', `${resource} is forbidden: User "${user}" cannot ${verb} resource "${info.plural}" in API group "${info.group}" ${scope}`, {
    ...(info.group === '' ? {} : { group: info.group }),
    kind: info.plural,
  });
}

export function expired(asked: number, oldest: number): StatusBody {
  return status(410, 'Expired', `too old resource version: ${asked} (${oldest})`);
}

export const badRequest = (message: string): StatusBody => status(400, 'BadRequest', message);
