/**
 * A throwaway PKI for the fake API server, made with the `openssl` CLI at test time: a CA, a server
 * certificate for 127.0.0.1 and localhost, and one client certificate (CN = user, O = group, as
 * kube-apiserver reads them). EC P-256 keys: generating RSA keys is slow on a loaded machine, and
 * both Go (kubectl) and Node accept EC. Made once per test process and shared by every server in it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM text of every piece a server and its clients need. */
export interface FakePki {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** Client certificate for the user {@link CLIENT_CERT_USER} (group `system:masters`). */
  readonly clientCert: string;
  readonly clientKey: string;
}

/** The user name (certificate CN) of the generated client certificate. */
export const CLIENT_CERT_USER = 'fake-cert-user';

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  // Bounded: openssl never waits on input here, but a stuck child must not hang the suite.
  await run('openssl', [...args], { cwd, timeout: 20_000 });
}

async function signedBy(dir: string, name: string, subject: string, extensions: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}.crt`,
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
}

async function generate(): Promise<FakePki> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-apiserver-pki-'));
  try {
    await openssl(
      [
        'req',
        '-x509',
        ...EC_KEY,
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
        '-days',
        '2',
        '-subj',
        '/CN=fake-apiserver-ca',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
    // Go refuses a server certificate without subjectAltName (no CN fallback since 1.15).
    await signedBy(
      dir,
      'server',
      '/CN=fake-apiserver',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n',
    );
    await signedBy(
      dir,
      'client',
      `/O=system:masters/CN=${CLIENT_CERT_USER}`,
      'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
    );
    const read = (file: string): Promise<string> => readFile(join(dir, file), 'utf8');
    return {
      caCert: await read('ca.crt'),
      serverCert: await read('server.crt'),
      serverKey: await read('server.key'),
      clientCert: await read('client.crt'),
      clientKey: await read('client.key'),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let shared: Promise<FakePki> | undefined;

/** The process's PKI, generated on first use. A failed generation is retried by the next caller. */
export function fakePki(): Promise<FakePki> {
  shared ??= generate().catch((err: unknown) => {
    shared = undefined;
    throw err;
  });
  return shared;
}
