import { Resolver } from 'node:dns/promises';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { BLOCK_BEGIN, BLOCK_END } from '../../src/dns/hosts-file.js';
import type { Svcproxy } from '../../src/instance/instance.js';
import { listenerKey } from '../../src/state/types.js';
import { getJson } from '../helpers/admin.js';
import { startInstance } from '../helpers/instance.js';
import { eventually, request } from '../helpers/net.js';
import { configDir, runCli } from '../helpers/process.js';
import { isolatedNetwork, sharedManifest, startFixedServer } from '../helpers/service-network.js';

/** A hand-written Pod beside the Deployments (whose own Pods wait for processes at their addresses): labels the Service selects, a podIP, a port. */
function standInPod(name: string, labels: string, podIP: string, port: number): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {${labels}}}
spec:
  containers: [{name: app, ports: [{containerPort: ${port}}]}]
status: {podIP: ${podIP}}
`;
}

function resolverOf(proxy: Svcproxy): Resolver {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([`127.0.0.1:${proxy.names.dns?.port ?? 0}`]);
  return resolver;
}

function addressOf(proxy: Svcproxy, key: string): string {
  const address = proxy.services.get(key)?.addresses[0];
  if (address === undefined) throw new Error(`no address for ${key}`);
  return address;
}

t.test('--check accepts both shared manifests unchanged and prints each Service port on its own address', async (t) => {
  for (const name of ['bookinfo.yaml', 'guestbook-all-in-one.yaml'] as const) {
    const { path } = await sharedManifest(name);
    const run = await runCli(['--check', '--config', path, '--admin-address', '127.0.0.1:0']);
    t.equal(run.code, 0, `${name}: ${run.stderr}`);
    const ports = run.stdout.split('\n').filter((l) => l.startsWith('  Service '));
    t.ok(ports.length >= 3, name);
    for (const line of ports) t.match(line, /: 127\.96\.\d+\.\d+:\d+/, `${line}: its own address from the default --service-cidr`);
  }
  const bookinfo = await runCli(['--check', '--config', (await sharedManifest('bookinfo.yaml')).path, '--admin-address', '127.0.0.1:0']);
  t.match(
    bookinfo.stdout,
    /Service default\/details port http 9080\/TCP: 127\.96\.\d+\.\d+:9080 \(not on 127\.0\.0\.1:9080\/TCP: Services default\/productpage, default\/ratings and default\/reviews use the same port\)/,
  );
});

t.test('bookinfo unchanged: every Service port on its own address, names resolve, a resolved address reaches the backend', async (t) => {
  const net = isolatedNetwork();
  const bookinfo = await sharedManifest('bookinfo.yaml');
  const backend = net.backend(1);
  const dir = await configDir(t, { 'bookinfo.yaml': bookinfo.text, 'stand-in.yaml': standInPod('details-v1-stand-in', 'app: details', backend, 9080) });
  t.equal(await readFile(join(dir, 'bookinfo.yaml'), 'utf8'), bookinfo.text, 'the published file, byte for byte');
  await startFixedServer(t, backend, 9080, 'details stand-in');
  const hostsFile = join(dir, 'hosts');
  await writeFile(hostsFile, '127.0.0.1\tlocalhost\n');
  const proxy = await startInstance(t, dir, {
    serviceCidr: net.serviceCidr,
    bindAddress: net.bindAddress,
    nodeAddress: net.bindAddress,
    dnsAddress: { host: '127.0.0.1', port: 0 },
    hostsFile,
  });
  t.same([...proxy.services.keys()].sort(), ['default/details', 'default/productpage', 'default/ratings', 'default/reviews']);
  const own = new Set<string>();
  for (const service of proxy.services.values()) {
    const address = service.addresses[0] ?? '';
    t.ok(address.startsWith(net.serviceCidr.replace(/0\/24$/, '')), `${service.key} in ${net.serviceCidr}`);
    own.add(address);
    const listener = proxy.registry.listeners.get(listenerKey('TCP', address, 9080));
    t.equal(listener?.state, 'listening', `${service.key} listens on ${address}:9080`);
  }
  t.equal(own.size, 4, 'four Services, four addresses');
  t.notOk(
    [...proxy.registry.listeners.keys()].some((k) => k.includes(net.bindAddress)),
    'port 9080 is ambiguous: nothing on the bind address',
  );

  const resolver = resolverOf(proxy);
  const details = addressOf(proxy, 'default/details');
  for (const name of ['details', 'details.default', 'details.default.svc', 'details.default.svc.cluster.local']) {
    t.same(await resolver.resolve4(name), [details], name);
  }
  t.match(await resolver.resolveSrv('_http._tcp.details.default.svc.cluster.local'), [{ name: 'details.default.svc.cluster.local', port: 9080 }]);
  const [resolved] = await resolver.resolve4('details');
  t.equal((await request(9080, '', resolved)).data.toString(), 'details stand-in', 'the connection reached the backend behind details');
  t.not((await resolver.resolve4('ratings'))[0], resolved);

  const hosts = await readFile(hostsFile, 'utf8');
  t.ok(hosts.startsWith('127.0.0.1\tlocalhost\n'), 'lines outside the block untouched');
  t.match(hosts, new RegExp(`${details.replace(/\./g, '\\.')}\tdetails\\.default\\.svc\\.cluster\\.local details\\.default\\.svc details\\.default details\n`));

  const api = await getJson<{
    services: Array<{ key: string; addresses: string[]; names: string[]; ports: Array<{ servedOn: string[]; localhost: string }> }>;
  }>(proxy.adminPort, '/api/services');
  const view = api.services.find((s) => s.key === 'default/details');
  t.same(view?.addresses, [details]);
  t.equal(view?.names[0], 'details.default.svc.cluster.local');
  t.same(view?.ports[0]?.servedOn, [`${details}:9080`]);
  t.match(view?.ports[0]?.localhost, /Services default\/productpage, default\/ratings and default\/reviews use the same port/);

  await proxy.stop();
  t.equal(await readFile(hostsFile, 'utf8'), '127.0.0.1\tlocalhost\n', 'the block is removed on exit');
});

t.test('guestbook unchanged: every port on its own address; the unambiguous one also on the bind address', async (t) => {
  const net = isolatedNetwork();
  const guestbook = await sharedManifest('guestbook-all-in-one.yaml');
  const dir = await configDir(t, { 'guestbook.yaml': guestbook.text });
  const proxy = await startInstance(t, dir, {
    serviceCidr: net.serviceCidr,
    bindAddress: net.bindAddress,
    nodeAddress: net.bindAddress,
    dnsAddress: { host: '127.0.0.1', port: 0 },
  });
  for (const service of proxy.services.values()) {
    for (const port of service.ports) {
      for (const served of port.servedOn)
        t.equal(
          [...proxy.registry.listeners.values()].find((l) => `${l.plan.protocol} ${l.plan.address}:${l.plan.port}` === `${port.protocol} ${served.address}`)
            ?.state,
          'listening',
          `${service.key} ${served.address}`,
        );
      t.ok(
        port.servedOn.some((s) => s.address === `${service.addresses[0] ?? ''}:${port.port}`),
        `${service.key} on its own address`,
      );
    }
  }
  const frontend = proxy.services.get('default/frontend');
  t.ok(
    frontend?.ports[0]?.servedOn.some((s) => s.role === 'bindAddress' && s.address === `${net.bindAddress}:80`),
    'frontend alone on port 80: also on the bind address',
  );
  t.ok(
    frontend?.ports[0]?.servedOn.some((s) => s.role === 'nodePort'),
    'and its nodePort stays',
  );
  t.equal(proxy.services.get('default/redis-master')?.ports[0]?.servedOn.length, 1, 'redis-master shares 6379 with redis-replica: own address only');
  const resolver = resolverOf(proxy);
  t.same(await resolver.resolve4('redis-master'), [addressOf(proxy, 'default/redis-master')]);
  t.same(await resolver.resolve4('redis-replica.default.svc.cluster.local'), [addressOf(proxy, 'default/redis-replica')]);
});

t.test('a reload that adds and removes Services changes DNS and the hosts block at once; addresses stay put', async (t) => {
  const net = isolatedNetwork();
  const svc = (name: string, port: number): string => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec: {ports: [{port: ${port}}]}\n`;
  const dir = await configDir(t, { 'a.yaml': svc('alpha', 7001), 'b.yaml': svc('beta', 7002) });
  const hostsFile = join(dir, 'hosts.txt');
  const proxy = await startInstance(t, dir, {
    serviceCidr: net.serviceCidr,
    bindAddress: net.bindAddress,
    nodeAddress: net.bindAddress,
    dnsAddress: { host: '127.0.0.1', port: 0 },
    hostsFile,
  });
  const resolver = resolverOf(proxy);
  const beta = addressOf(proxy, 'default/beta');
  t.same(await resolver.resolve4('alpha'), [addressOf(proxy, 'default/alpha')]);
  await writeFile(join(dir, 'a.yaml'), svc('gamma', 7003));
  t.equal(await proxy.reload('signal'), 'applied');
  await t.rejects(resolver.resolve4('alpha'), { code: 'EREFUSED' }, 'a bare name that is no Service any more');
  await t.rejects(resolver.resolve4('alpha.default.svc.cluster.local'), { code: 'ENOTFOUND' });
  t.same(await resolver.resolve4('gamma'), [addressOf(proxy, 'default/gamma')]);
  t.equal(addressOf(proxy, 'default/beta'), beta, 'an untouched Service keeps its address');
  const hosts = await readFile(hostsFile, 'utf8');
  t.match(hosts, /\tgamma\.default\.svc\.cluster\.local /);
  t.notMatch(hosts, /alpha/);
  t.equal(hosts.split('\n').filter((l) => l === BLOCK_BEGIN || l === BLOCK_END).length, 2, 'one block');
});

t.test('bad input: a DNS address that cannot bind is retried and /readyz says why; an unwritable hosts file stops the start', async (t) => {
  const net = isolatedNetwork();
  const dir = await configDir(t, { 'a.yaml': 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 7010}]}\n' });
  const first = await startInstance(t, dir, {
    serviceCidr: net.serviceCidr,
    bindAddress: net.bindAddress,
    nodeAddress: net.bindAddress,
    dnsAddress: { host: '127.0.0.1', port: 0 },
  });
  const taken = first.names.dns?.port ?? 0;
  const other = isolatedNetwork();
  const second = await startInstance(t, dir, {
    serviceCidr: other.serviceCidr,
    bindAddress: other.bindAddress,
    nodeAddress: other.bindAddress,
    dnsAddress: { host: '127.0.0.1', port: taken },
  });
  t.match(second.ready, { ready: false, reason: /^DNS server failed: EADDRINUSE/ });
  const readyz = await fetch(`http://127.0.0.1:${second.adminPort}/readyz`);
  t.equal(readyz.status, 503);
  t.match(await readyz.text(), /not ready: DNS server failed: EADDRINUSE/);
  await first.stop();
  await eventually(() => second.ready.ready, 'the DNS server to bind once the port is free', 15_000);
  await t.rejects(
    startInstance(t, dir, {
      serviceCidr: other.serviceCidr,
      bindAddress: net.bindAddress,
      nodeAddress: net.bindAddress,
      hostsFile: join(dir, 'missing', 'hosts'),
    }),
    /cannot write the hosts file .*missing\/hosts: ENOENT/,
  );
});

t.test('bad input: a service range that is not loopback, or too small, is a usage error (exit 2)', async (t) => {
  const { path } = await sharedManifest('bookinfo.yaml');
  const remote = await runCli(['--check', '--config', path, '--service-cidr', '10.96.0.0/12']);
  t.equal(remote.code, 2);
  t.match(remote.stderr, /^svcproxy: --service-cidr: 10\.96\.0\.0\/12 is not inside the loopback block 127\.0\.0\.0\/8/);
  const small = await runCli(['--check', '--config', path, '--service-cidr', '127.96.0.0/31']);
  t.equal(small.code, 2);
  t.match(
    small.stderr,
    /^svcproxy: --service-cidr: 4 Services need an address of the service range 127\.96\.0\.0\/31, which has 2 usable addresses; give --service-cidr a larger range/,
  );
  const start = await runCli(['--config', path, '--service-cidr', '127.96.0.0/31', '--admin-address', '127.0.0.1:0']);
  t.equal(start.code, 2, 'at start-up too');
});
