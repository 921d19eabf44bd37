/**
 * The image's exact ENTRYPOINT, ENV and WORKDIR, read from the Dockerfile's
 * runtime stage, run outside a container against the examples' configs and
 * the bundled one: proves that the paths, the environment variable names and
 * the ports of the Dockerfile, the compose files and the CLI agree.
 *
 * The image's filesystem is a temp directory laid out by the runtime stage's
 * COPY instructions and the compose volume mounts (see image.ts); the compiled
 * dist/ the Dockerfile copies is stood in for by the test build's build/src/
 * (same sources, same compiler options, checked in dockerfile.test.ts), so no
 * second compile is needed and the child processes count towards coverage.
 *
 * What cannot be shown here: that svcproxy is PID 1 (the exec-form ENTRYPOINT
 * is checked in dockerfile.test.ts), and listening on port 80 as a non-root
 * user, which works in a container only because Docker lowers
 * net.ipv4.ip_unprivileged_port_start to 0 in the container's own network
 * namespace. So the --check runs use the example configs unchanged, and the
 * real runs use copies rewritten to ephemeral ports on 127.0.0.1.
 */
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { freePort } from '../helpers/net.js';
import { configDir } from '../helpers/process.js';
import {
  EXAMPLES,
  makeContainer,
  readCompose,
  readDockerfile,
  REPO,
  rewriteManifests,
  runToEnd,
  start,
  svcproxyService,
  type Container,
  type Stage,
} from './image.js';

function entrypoint(image: Stage, extra: readonly string[] = []): string[] {
  if (image.entrypoint === undefined) throw new Error('no ENTRYPOINT');
  return [...image.entrypoint, ...(image.cmd ?? []), ...extra];
}

function healthcheck(image: Stage): readonly string[] {
  if (image.healthcheck === undefined) throw new Error('no HEALTHCHECK');
  return image.healthcheck.command;
}

/** What --check says of each example's config: its verdict, and the notes after the port lines. */
const CHECK_SUMMARY: Readonly<Record<string, { verdict: string; notes: readonly RegExp[] }>> = {
  compose: { verdict: 'valid: 1 Service, 1 proxied port, 1 listener', notes: [] },
  sidecar: { verdict: 'valid: 1 Service, 1 proxied port, 1 listener', notes: [] },
  'compose-replicas': {
    verdict: 'valid: 1 Service, 1 proxied port, 1 listener, 0 Pods (0 from 1 workload)',
    notes: [/^note: WorkloadBinding default\/web-on-compose: Deployment default\/web has one Pod per address app resolves to, when svcproxy runs$/],
  },
};

for (const example of EXAMPLES) {
  t.test(
    `examples/${example.name}: the image's entrypoint and env, with the compose service's mounts and environment, accept its config (--check)`,
    async (t) => {
      const { runtime } = await readDockerfile();
      const compose = await readCompose(example.file);
      const service = svcproxyService(compose);
      const config = service.mounts.find((m) => m.target === runtime.env['SVCPROXY_CONFIG']);
      if (config === undefined) throw new Error(`${example.file}: no volume at SVCPROXY_CONFIG=${String(runtime.env['SVCPROXY_CONFIG'])}`);
      t.ok((await stat(config.source)).isDirectory(), 'the config mount is a directory, not a single file');
      t.ok(config.readOnly, 'mounted read-only');

      const container = await makeContainer(t, runtime, { mounts: service.mounts, environment: service.environment });
      const run = await runToEnd(container, entrypoint(runtime, [...(service.command ?? []), '--check']));
      t.equal(run.stderr, '', 'no problem and no warning (a slice without its service-name label would warn here)');
      const [summary, ...rest] = run.stdout.trimEnd().split('\n');
      const expected = CHECK_SUMMARY[example.name];
      t.equal(summary, `${container.host('/etc/svcproxy')}: ${expected?.verdict ?? '?'}`);
      // The image binds 0.0.0.0: the port is served there, which also serves the Service's own address.
      t.match(
        rest.filter((l) => l.startsWith('  ')),
        [/^ {2}Service default\/web port http 80\/TCP: 127\.96\.\d+\.\d+:80 \(through 0\.0\.0\.0:80\), 0\.0\.0\.0:80 \(bind address\)$/],
      );
      const notes = rest.filter((l) => !l.startsWith('  '));
      t.equal(notes.length, expected?.notes.length, notes.join('\n'));
      expected?.notes.forEach((pattern, i) => t.match(notes[i], pattern));
      t.equal(run.code, 0);
    },
  );
}

t.test('the bare image: the entrypoint and env accept the bundled config that COPY puts at /etc/svcproxy (--check)', async (t) => {
  const { runtime } = await readDockerfile();
  const container = await makeContainer(t, runtime);
  const run = await runToEnd(container, entrypoint(runtime, ['--check']));
  t.equal(run.stderr, '');
  t.equal(run.stdout.split('\n')[0], `${container.host('/etc/svcproxy')}: valid: 2 Services, 2 proxied ports, 2 listeners, 2 Pods`);
  t.match(run.stdout, /\(through 0\.0\.0\.0:8080\), 0\.0\.0\.0:8080 \(bind address\)/);
  t.equal(run.code, 0);
});

t.test('every SVCPROXY_* variable the image sets is one the CLI reads (a bad value of each fails --check)', async (t) => {
  const { runtime } = await readDockerfile();
  const names = Object.keys(runtime.env).filter((k) => k.startsWith('SVCPROXY_'));
  t.ok(names.length >= 3, `the image sets ${names.join(', ')}`);
  for (const name of names) {
    const container = await makeContainer(t, runtime, { environment: { [name]: name === 'SVCPROXY_CONFIG' ? '/nonexistent' : 'not-valid' } });
    const run = await runToEnd(container, entrypoint(runtime, ['--check']));
    t.not(run.code, 0, `${name}=<bad> makes --check fail`);
    t.not(run.stderr, '', `${name}: the reason is printed`);
  }
});

/** The image's env with the addresses a non-root test process can bind. */
async function localEnvironment(): Promise<{ adminPort: number; environment: Record<string, string> }> {
  const adminPort = await freePort();
  return { adminPort, environment: { SVCPROXY_BIND_ADDRESS: '127.0.0.1', SVCPROXY_ADMIN_ADDRESS: `127.0.0.1:${adminPort}` } };
}

async function healthcheckExit(container: Container, image: Stage, environment: Record<string, string> = {}): Promise<number | null> {
  const run = await runToEnd({ ...container, env: { ...container.env, ...environment } }, healthcheck(image));
  return run.code;
}

t.test('the bare image for real: serves the bundled Service, /healthz answers, the HEALTHCHECK passes, SIGTERM exits 0', async (t) => {
  const { runtime } = await readDockerfile();
  const { adminPort, environment } = await localEnvironment();
  const servicePort = await freePort();
  // The bundled config (Service 8080 -> targetPort 9901, the admin server), moved to free ports.
  const bundled = await readFile(join(REPO, 'config', 'admin-service.yaml'), 'utf8');
  const dir = await configDir(t, {
    'admin-service.yaml': rewriteManifests(bundled, {
      ports: new Map([
        [8080, servicePort],
        [9901, adminPort],
      ]),
    }),
  });
  const container = await makeContainer(t, runtime, { mounts: [{ source: dir, target: '/etc/svcproxy', readOnly: true }], environment });
  const proxy = start(t, container, entrypoint(runtime));
  await proxy.waitForLog((l) => l['msg'] === 'started', 'started');

  const direct = await fetch(`http://127.0.0.1:${adminPort}/healthz`);
  t.equal(direct.status, 200);
  t.equal(await direct.text(), 'ok\n');
  const proxied = await fetch(`http://127.0.0.1:${servicePort}/healthz`);
  t.equal(await proxied.text(), 'ok\n', 'the bundled Service forwards its port to the admin server');

  t.equal(await healthcheckExit(container, runtime), 0, 'the HEALTHCHECK command passes');
  t.equal(
    await healthcheckExit(container, runtime, { SVCPROXY_ADMIN_ADDRESS: `0.0.0.0:${adminPort}` }),
    0,
    'a wildcard admin address (as in the image) is checked on loopback',
  );
  t.equal(
    await healthcheckExit(container, runtime, { SVCPROXY_ADMIN_ADDRESS: `127.0.0.1:${await freePort()}` }),
    1,
    'it follows SVCPROXY_ADMIN_ADDRESS: a port nothing listens on fails',
  );

  proxy.child.kill('SIGTERM');
  const exit = await proxy.exited;
  t.equal(exit.code, 0, 'SIGTERM: exit 0');
  t.ok(
    proxy.logs.some((l) => l['msg'] === 'shutting down' && l['signal'] === 'SIGTERM'),
    'svcproxy handled SIGTERM itself',
  );
  t.equal(await healthcheckExit(container, runtime), 1, 'the HEALTHCHECK fails once svcproxy is gone');
});

/** A compose example's svcproxy service, the image's runtime and the config mount. */
async function composeExample(name: string) {
  const example = EXAMPLES.find((e) => e.name === name);
  if (example === undefined) throw new Error(`no ${name} example`);
  const { runtime } = await readDockerfile();
  const service = svcproxyService(await readCompose(example.file));
  const mount = service.mounts.find((m) => m.target === '/etc/svcproxy');
  if (mount === undefined) throw new Error('no config mount');
  return { runtime, service, mount };
}

/** An HTTP server on 127.0.0.1:<ephemeral> answering `body`, closed at teardown; its port. */
async function standIn(t: Test, body: string): Promise<number> {
  const app = createServer((_req, res) => res.end(body));
  app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => app.once('listening', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => app.close(() => resolve())));
  const address = app.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

t.test('examples/compose for real: its Service forwards port -> targetPort to the FQDN endpoints', async (t) => {
  const { runtime, service, mount } = await composeExample('compose');
  // A stand-in for the http-echo replicas; the compose DNS name app becomes localhost.
  const appPort = await standIn(t, 'hello from app\n');

  const servicePort = await freePort();
  const original = await readFile(join(mount.source, 'web.yaml'), 'utf8');
  const dir = await configDir(t, {
    'web.yaml': rewriteManifests(original, {
      ports: new Map([
        [80, servicePort],
        [8080, appPort],
      ]),
      addresses: new Map([['app', 'localhost']]),
    }),
  });
  const { environment } = await localEnvironment();
  const container = await makeContainer(t, runtime, {
    mounts: [{ source: dir, target: '/etc/svcproxy', readOnly: true }],
    environment: { ...service.environment, ...environment },
  });
  const proxy = start(t, container, entrypoint(runtime, service.command ?? []));
  await proxy.waitForLog((l) => l['msg'] === 'started', 'started');
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`http://127.0.0.1:${servicePort}/`, { headers: { connection: 'close' } });
    t.equal(await res.text(), 'hello from app\n', `request ${i + 1} reached the app through the Service port`);
  }
  proxy.child.kill('SIGTERM');
  t.equal((await proxy.exited).code, 0);
  t.same(
    proxy.logs.filter((l) => l['level'] !== 'info' && l['level'] !== 'debug'),
    [],
    'no warning or error logged',
  );
});

t.test('examples/compose-replicas for real: each address of the bound name is a Pod, probed with the template probe, behind the Service', async (t) => {
  const { runtime, service, mount } = await composeExample('compose-replicas');
  // A stand-in for the http-echo replicas on 127.0.0.1; the compose name `app` becomes localhost.
  const appPort = await standIn(t, 'hello from a replica of app\n');

  const servicePort = await freePort();
  const web = await readFile(join(mount.source, 'web.yaml'), 'utf8');
  const binding = await readFile(join(mount.source, 'binding.yaml'), 'utf8');
  t.match(binding, /\n {2}dnsName: app\b/);
  const dir = await configDir(t, {
    'web.yaml': rewriteManifests(web, { ports: new Map([[80, servicePort]]) }),
    // The containers' port (8080, the template's) is the stand-in's port here.
    'binding.yaml': binding.replace(/\n {2}dnsName: app\b.*/, `\n  dnsName: localhost:${appPort}`),
  });
  const { adminPort, environment } = await localEnvironment();
  const container = await makeContainer(t, runtime, {
    mounts: [{ source: dir, target: '/etc/svcproxy', readOnly: true }],
    environment: { ...service.environment, ...environment, SVCPROXY_POD_CIDR: '127.64.0.0/16' },
  });
  const proxy = start(t, container, entrypoint(runtime, service.command ?? []));
  await proxy.waitForLog((l) => l['msg'] === 'started', 'started');
  const ready = async (): Promise<boolean> => {
    const res = await fetch(`http://127.0.0.1:${adminPort}/api/pods`);
    const body = (await res.json()) as { pods: Array<{ address: string; ready: boolean }> };
    return body.pods.some((p) => p.address === '127.0.0.1' && p.ready);
  };
  for (let deadline = Date.now() + 20_000; !(await ready()); ) {
    if (Date.now() > deadline) throw new Error('the Pod at 127.0.0.1 never turned ready');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`http://127.0.0.1:${servicePort}/`, { headers: { connection: 'close' } });
    t.equal(await res.text(), 'hello from a replica of app\n', `request ${i + 1} reached a replica through the Service port`);
  }
  proxy.child.kill('SIGTERM');
  t.equal((await proxy.exited).code, 0);
});
