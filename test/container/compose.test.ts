/**
 * The docker-compose examples. Without a container engine: each file is
 * validated and normalised by `docker-compose config` (Debian's
 * docker-compose 1.29, which .ci/run installs), and the parts that must agree
 * across the compose file, the config it mounts and the image are checked by
 * reading them (these run everywhere, docker-compose or not).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { EXAMPLES, isRecord, readCompose, readDockerfile, REPO, svcproxyService, type ComposeService } from './image.js';

interface PortMapping {
  readonly hostIp: string | undefined;
  readonly published: number | undefined;
  readonly target: number;
}

/** compose's short port syntax ("8080:80", "127.0.0.1:9901:9901") or the long one. */
function portsOf(service: ComposeService): PortMapping[] {
  const raw = service.raw['ports'];
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new Error(`${service.name}.ports is not a list`);
  return raw.map((p: unknown) => {
    if (typeof p === 'string') {
      const parts = p.replace(/\/tcp$/, '').split(':');
      const target = Number(parts.pop());
      const published = parts.length > 0 ? Number(parts.pop()) : undefined;
      return { hostIp: parts.pop(), published, target };
    }
    if (isRecord(p) && typeof p['target'] === 'number') {
      return {
        hostIp: typeof p['host_ip'] === 'string' ? p['host_ip'] : undefined,
        published: typeof p['published'] === 'number' ? p['published'] : Number(p['published']),
        target: p['target'],
      };
    }
    throw new Error(`${service.name}: unknown port ${JSON.stringify(p)}`);
  });
}

interface WebConfig {
  readonly port: number;
  readonly targetPort: number;
  readonly addresses: readonly string[];
}

/** The example's single Service port and the endpoint addresses of its slices. */
async function webConfig(dir: string): Promise<WebConfig> {
  const docs = parseAllDocuments(await readFile(join(dir, 'web.yaml'), 'utf8')).map((d): unknown => d.toJS());
  let port: WebConfig | undefined;
  const addresses: string[] = [];
  for (const doc of docs) {
    if (!isRecord(doc)) continue;
    const spec = doc['spec'];
    if (doc['kind'] === 'Service' && isRecord(spec) && Array.isArray(spec['ports'])) {
      const [p] = spec['ports'] as unknown[];
      if (isRecord(p) && typeof p['port'] === 'number' && typeof p['targetPort'] === 'number')
        port = { port: p['port'], targetPort: p['targetPort'], addresses };
    }
    if (doc['kind'] === 'EndpointSlice' && Array.isArray(doc['endpoints'])) {
      for (const e of doc['endpoints'] as unknown[]) if (isRecord(e) && Array.isArray(e['addresses'])) addresses.push(String(e['addresses'][0]));
    }
  }
  if (port === undefined) throw new Error(`${dir}/web.yaml: no Service with a numeric port and targetPort`);
  return port;
}

/** The port an http-echo service listens on, from its `-listen=:PORT` argument. */
function listenPort(service: ComposeService): number | undefined {
  const arg = service.command?.find((a) => a.startsWith('-listen='));
  return arg === undefined ? undefined : Number(arg.split(':').pop());
}

async function adminPort(): Promise<number> {
  const { runtime } = await readDockerfile();
  return Number((runtime.env['SVCPROXY_ADMIN_ADDRESS'] ?? '').split(':').pop());
}

for (const example of EXAMPLES) {
  t.test(`examples/${example.name}: svcproxy service conventions`, async (t) => {
    const service = svcproxyService(await readCompose(example.file));
    t.equal(service.raw['init'], true, 'init: true');
    t.match(service.raw['image'], /^svcproxy(:|$)/, 'tagged svcproxy, as the README builds it');
    const mount = service.mounts.find((m) => m.target === '/etc/svcproxy');
    t.equal(mount?.source, join(dirname(example.file), 'config'), 'mounts its config directory at /etc/svcproxy');
    t.equal(mount?.readOnly, true);
  });
}

t.test('examples/compose: the Service fronts the replicas of one compose service by its DNS name, on the targetPort', async (t) => {
  const example = EXAMPLES.find((e) => e.name === 'compose');
  if (example === undefined) throw new Error('no compose example');
  const compose = await readCompose(example.file);
  const proxy = svcproxyService(compose);
  const web = await webConfig(join(dirname(example.file), 'config'));
  t.equal(web.port, 80);
  t.equal(web.targetPort, 8080);
  t.same(web.addresses, ['app'], 'one FQDN endpoint: the name of the scaled service');
  for (const name of web.addresses) {
    const app = compose.services.get(name);
    if (app === undefined) throw new Error(`no compose service named ${name}`);
    const deploy = app.raw['deploy'];
    t.ok(isRecord(deploy) && deploy['replicas'] === 2, `${name} has two replicas: one name, two addresses`);
    t.equal(listenPort(app), web.targetPort, `${name} listens on the targetPort`);
    t.same(portsOf(app), [], `${name} publishes nothing: the way in is svcproxy`);
    t.match(app.raw['image'], /^hashicorp\/http-echo:/, `${name}: a ready-made image, no build`);
  }
  const ports = portsOf(proxy);
  const admin = await adminPort();
  t.same(
    ports.map((p) => p.target),
    [web.port, admin],
    'publishes the Service port and the admin port',
  );
  t.same(
    ports.find((p) => p.target === admin),
    { hostIp: '127.0.0.1', published: admin, target: admin },
    'the admin port is published on the host loopback only',
  );
  t.equal(proxy.raw['network_mode'], undefined);
});

t.test('examples/compose-replicas: the binding names a scaled compose service; the Service, the template port and the containers agree', async (t) => {
  const example = EXAMPLES.find((e) => e.name === 'compose-replicas');
  if (example === undefined) throw new Error('no compose-replicas example');
  const compose = await readCompose(example.file);
  const dir = join(dirname(example.file), 'config');
  const docs = [
    ...parseAllDocuments(await readFile(join(dir, 'web.yaml'), 'utf8')),
    ...parseAllDocuments(await readFile(join(dir, 'binding.yaml'), 'utf8')),
  ].map((d): unknown => d.toJS());
  const find = (kind: string): Record<string, unknown> => {
    const doc = docs.find((d) => isRecord(d) && d['kind'] === kind);
    if (!isRecord(doc)) throw new Error(`no ${kind}`);
    return doc;
  };
  const binding = find('WorkloadBinding');
  const deployment = find('Deployment');
  const service = find('Service');
  t.match(binding, {
    apiVersion: 'svcproxy.dev/v1alpha1',
    spec: { workload: { kind: 'Deployment', name: (deployment['metadata'] as { name: string }).name } },
  });
  const dnsName = String((binding['spec'] as Record<string, unknown>)['dnsName']);
  const app = compose.services.get(dnsName);
  if (app === undefined) throw new Error(`no compose service named ${dnsName}`);
  const deploy = app.raw['deploy'];
  t.ok(isRecord(deploy) && typeof deploy['replicas'] === 'number' && deploy['replicas'] > 1, `${dnsName} has several replicas: one name, several addresses`);
  t.same(portsOf(app), [], `${dnsName} publishes nothing: the way in is svcproxy`);
  const template = (
    (deployment['spec'] as Record<string, unknown>)['template'] as { spec: { containers: Array<{ ports: Array<{ name: string; containerPort: number }> }> } }
  ).spec;
  const [port] = (service['spec'] as Record<string, unknown>)['ports'] as Array<{ port: number; targetPort: string }>;
  const named = template.containers[0]?.ports.find((p) => p.name === port?.targetPort);
  t.ok(named !== undefined, "the Service's targetPort names a port of the template");
  t.equal(listenPort(app), named?.containerPort, 'the containers listen on that container port (the binding maps no port)');
  t.equal(port?.port, 80);
  t.same(
    portsOf(svcproxyService(compose)).map((p) => p.target),
    [80, await adminPort()],
  );
});

t.test("examples/sidecar: svcproxy shares app's network namespace and reaches it on 127.0.0.1:targetPort", async (t) => {
  const example = EXAMPLES.find((e) => e.name === 'sidecar');
  if (example === undefined) throw new Error('no sidecar example');
  const compose = await readCompose(example.file);
  const proxy = svcproxyService(compose);
  t.equal(proxy.raw['network_mode'], 'service:app');
  // docker-compose 1.29 accepts ports next to network_mode: service:...; Compose v2 refuses them.
  t.equal(proxy.raw['ports'], undefined, 'no ports on the sidecar');
  const app = compose.services.get('app');
  if (app === undefined) throw new Error('no app service');
  const web = await webConfig(join(dirname(example.file), 'config'));
  t.same(web.addresses, ['127.0.0.1']);
  t.equal(web.port, 80);
  t.equal(listenPort(app), web.targetPort, 'the app listens on the targetPort');
  const admin = await adminPort();
  t.same(
    portsOf(app).map((p) => p.target),
    [web.port, admin],
    "svcproxy's Service port and admin port are published on app, which owns the namespace",
  );
  t.same(
    portsOf(app).find((p) => p.target === admin),
    { hostIp: '127.0.0.1', published: admin, target: admin },
    'admin on the host loopback only',
  );
});

// ------------------------------------------------------- docker-compose config

function haveDockerCompose(): boolean {
  const probe = spawnSync('docker-compose', ['version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

const installed = haveDockerCompose();
// .ci/run installs docker-compose and sets this, so CI fails rather than skips when the install did not work.
const required = process.env['SVCPROXY_REQUIRE_DOCKER_COMPOSE'] === '1';
const skip = installed || required ? false : 'docker-compose not installed: apt-get install docker-compose (.ci/run does) to validate the compose files';

async function dockerComposeConfig(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('docker-compose', ['-f', file, 'config'], { cwd: dirname(file), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

t.test('docker-compose config', { skip }, async (t) => {
  if (!installed) {
    t.fail('docker-compose is not on PATH, and SVCPROXY_REQUIRE_DOCKER_COMPOSE=1 says it must be (.ci/run installs it with apt-get)');
    return;
  }
  for (const example of EXAMPLES) {
    t.test(`examples/${example.name}/docker-compose.yml is valid`, async (t) => {
      const run = await dockerComposeConfig(example.file);
      t.equal(run.code, 0, run.stderr);
      const normalised: unknown = parse(run.stdout);
      if (!isRecord(normalised) || !isRecord(normalised['services'])) throw new Error(`no services in:\n${run.stdout}`);
      const proxy = normalised['services']['svcproxy'];
      if (!isRecord(proxy)) throw new Error('no svcproxy service');
      t.same(proxy['build'], { context: REPO.replace(/\/$/, '') }, 'the build context is the repository root');
      t.same(proxy['volumes'], [`${join(dirname(example.file), 'config')}:/etc/svcproxy:ro`], 'the config directory, read-only');
    });
  }
  t.test('an invalid compose file is refused (the check can fail)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'svcproxy-compose-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'docker-compose.yml');
    await writeFile(file, 'services:\n  svcproxy:\n    image: svcproxy\n    init: yes-please\n');
    const run = await dockerComposeConfig(file);
    t.equal(run.code, 1);
    t.match(run.stderr, /services\.svcproxy\.init contains an invalid type, it should be a boolean/);
  });
});
