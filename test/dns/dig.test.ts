import { existsSync } from 'node:fs';
import t from 'tap';
import { startInstance } from '../helpers/instance.js';
import { runProcess } from '../helpers/process.js';
import { isolatedNetwork, sharedManifest } from '../helpers/service-network.js';
import { configDir } from '../helpers/process.js';

// dig comes from Debian's dnsutils, which .ci/run installs; there it must run, not skip.
const DIG = ['/usr/bin/dig', '/bin/dig'].find((p) => existsSync(p));
const required = process.env['SVCPROXY_REQUIRE_DIG'] === '1';
const skip = DIG === undefined && !required ? 'dig is not installed (apt-get install dnsutils)' : false;

t.test('dig against --dns-address: A, short forms, SRV, PTR, NXDOMAIN, REFUSED, over UDP and TCP', { skip }, async (t) => {
  if (DIG === undefined) throw new Error('SVCPROXY_REQUIRE_DIG=1 but dig is not installed: apt-get install dnsutils');
  const net = isolatedNetwork();
  const dir = await configDir(t, { 'bookinfo.yaml': (await sharedManifest('bookinfo.yaml')).text });
  const proxy = await startInstance(t, dir, {
    serviceCidr: net.serviceCidr,
    bindAddress: net.bindAddress,
    nodeAddress: net.bindAddress,
    dnsAddress: { host: '127.0.0.1', port: 0 },
  });
  const port = String(proxy.names.dns?.port ?? 0);
  const details = proxy.services.get('default/details')?.addresses[0] ?? '';
  const dig = async (...args: string[]): Promise<string> => {
    const run = await runProcess(DIG, ['@127.0.0.1', '-p', port, '+time=3', '+tries=2', ...args], { env: process.env });
    t.equal(run.code, 0, `dig ${args.join(' ')}: ${run.stderr}`);
    return run.stdout;
  };
  t.equal(await dig('+short', 'details.default.svc.cluster.local', 'A'), `${details}\n`);
  t.equal(await dig('+short', '+tcp', 'details', 'A'), `${details}\n`, 'over TCP, short form');
  t.equal(await dig('+short', '_http._tcp.details.default.svc.cluster.local', 'SRV'), '0 100 9080 details.default.svc.cluster.local.\n');
  t.equal(await dig('+short', '-x', details), 'details.default.svc.cluster.local.\n');
  const full = await dig('details.default.svc.cluster.local', 'A');
  t.match(full, /status: NOERROR/);
  t.match(full, /flags: qr aa rd;/, 'authoritative');
  t.match(full, new RegExp(`details\\.default\\.svc\\.cluster\\.local\\.\\s+5\\s+IN\\s+A\\s+${details.replace(/\./g, '\\.')}`));
  t.match(await dig('nope.default.svc.cluster.local', 'A'), /status: NXDOMAIN/);
  t.match(await dig('example.com', 'A'), /status: REFUSED/);
  t.match(await dig('+noedns', 'details', 'AAAA'), /status: NOERROR.*\n.*ANSWER: 0/);
  t.match(await dig('dns-version.cluster.local', 'TXT', '+short'), /^"1\.1\.0"\n$/);
});
