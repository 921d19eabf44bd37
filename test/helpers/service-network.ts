import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

/**
 * The published manifests svcproxy must accept unchanged: verbatim copies in
 * test/fixtures/manifests/ (test/fixtures/README.md says where they come
 * from), so the suite does not depend on what lies beside the repository.
 * Compiled tests run from build/test/...
 */
export const SHARED_MANIFESTS = fileURLToPath(new URL('../../../test/fixtures/manifests/', import.meta.url));

export async function sharedManifest(name: 'bookinfo.yaml' | 'guestbook-all-in-one.yaml'): Promise<{ path: string; text: string }> {
  const path = `${SHARED_MANIFESTS}${name}`;
  return { path, text: await readFile(path, 'utf8') };
}

function rand(n: number): number {
  return Math.floor(Math.random() * n);
}

/**
 * A service range, bind address and pod-like address nobody else uses: tests
 * run beside other suites on one machine, and the shared manifests use fixed
 * ports (9080, 6379, 80), so every run takes its own corner of 127/8.
 */
export function isolatedNetwork(): { serviceCidr: string; podCidr: string; bindAddress: string; backend: (n: number) => string } {
  const a = 100 + rand(100);
  const b = rand(256);
  const c = 200 + rand(50);
  // Pods of the shared manifests listen on fixed ports (9080, 6379): a pod range of the run's own too.
  const p = 60 + rand(30);
  return { serviceCidr: `127.${a}.${b}.0/24`, podCidr: `127.${p}.${b}.0/24`, bindAddress: `127.${c}.${b}.1`, backend: (n) => `127.${c}.${b}.${10 + n}` };
}

/** A TCP server on host:port that answers every connection with `name` and closes; closed at teardown. */
export async function startFixedServer(t: Test, host: string, port: number, name: string): Promise<void> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined).on('close', () => sockets.delete(s));
    s.end(name);
  });
  server.listen(port, host);
  await once(server, 'listening');
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}
