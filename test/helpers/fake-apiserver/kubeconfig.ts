/**
 * Writes a kubeconfig file (JSON, which every kubeconfig reader takes as YAML) with one cluster, one
 * user and one context: the fake's URL with its CA inlined (`certificate-authority-data`), a bearer
 * token or a client certificate and key (`client-certificate-data`, `client-key-data`), and the
 * context's namespace.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

export type KubeconfigAuth = { readonly token: string } | { readonly clientCert: string; readonly clientKey: string };

export interface KubeconfigOptions {
  readonly server: string;
  readonly caCert: string;
  readonly auth: KubeconfigAuth;
  /** The context's namespace (omitted when absent: kubectl then uses "default"). */
  readonly namespace?: string;
  /** Names of the context, cluster and user (default "fake"). */
  readonly context?: string;
}

const b64 = (pem: string): string => Buffer.from(pem).toString('base64');

/** The kubeconfig document itself, for a test that writes several contexts or a broken variant. */
export function kubeconfigDocument(options: KubeconfigOptions): Record<string, unknown> {
  const name = options.context ?? 'fake';
  const user = 'token' in options.auth ? { token: options.auth.token } : { 'client-certificate-data': b64(options.auth.clientCert), 'client-key-data': b64(options.auth.clientKey) };
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: options.server, 'certificate-authority-data': b64(options.caCert) } }],
    users: [{ name, user }],
    contexts: [{ name, context: { cluster: name, user: name, ...(options.namespace === undefined ? {} : { namespace: options.namespace }) } }],
    'current-context': name,
    preferences: {},
  };
}

/** Writes the kubeconfig to a temporary directory removed at teardown; resolves with its path. */
export async function writeKubeconfig(t: Test, options: KubeconfigOptions): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-kubeconfig-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'config');
  await writeFile(path, `${JSON.stringify(kubeconfigDocument(options), null, 2)}\n`, { mode: 0o600 });
  return path;
}
