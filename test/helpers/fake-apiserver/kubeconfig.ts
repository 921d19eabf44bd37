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

/**
 * How the kubeconfig's user authenticates: a bearer token, a client certificate, or an exec credential
 * plugin (as EKS and GKE configure one): `command` is run with `args` and must print an ExecCredential.
 */
export type KubeconfigAuth =
  | { readonly token: string }
  | { readonly clientCert: string; readonly clientKey: string }
  | { readonly exec: { readonly command: string; readonly args?: readonly string[] } };

function userOf(auth: KubeconfigAuth): Record<string, unknown> {
  if ('token' in auth) return { token: auth.token };
  if ('exec' in auth) {
    return {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: auth.exec.command,
        args: [...(auth.exec.args ?? [])],
        interactiveMode: 'Never',
        provideClusterInfo: false,
      },
    };
  }
  return { 'client-certificate-data': b64(auth.clientCert), 'client-key-data': b64(auth.clientKey) };
}

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
  const user = userOf(options.auth);
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

/**
 * An exec credential plugin for `auth: { exec }`: a shell script in a temporary directory (removed at
 * teardown) that prints an ExecCredential carrying `token`.
 */
export async function writeExecPlugin(t: Test, token: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-exec-plugin-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'credential-plugin.sh');
  const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token } });
  await writeFile(path, `#!/bin/sh\ncat <<'EOF'\n${credential}\nEOF\n`, { mode: 0o700 });
  return path;
}

/** Writes the kubeconfig to a temporary directory removed at teardown; resolves with its path. */
export async function writeKubeconfig(t: Test, options: KubeconfigOptions): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-kubeconfig-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'config');
  await writeFile(path, `${JSON.stringify(kubeconfigDocument(options), null, 2)}\n`, { mode: 0o600 });
  return path;
}
