import t from 'tap';
import { parseHostPort } from '../../src/cli/host-port.js';
import { parseCommand } from '../../src/cli/options.js';

t.test('defaults', async (t) => {
  t.same(parseCommand([], {}), {
    kind: 'run',
    options: {
      config: ['config/'],
      bindAddress: '127.0.0.1',
      nodeAddress: '127.0.0.1',
      admin: { host: '127.0.0.1', port: 9901 },
      logLevel: 'info',
      check: false,
      halfCloseTimeoutMs: 60_000,
      tcpKeepAliveMs: 60_000,
      drainTimeoutMs: 30_000,
      configPollIntervalMs: 5_000,
      watch: true,
      workers: 1,
      accessLog: '',
      accessLogFormat: 'json',
      serviceCidr: '127.96.0.0/16',
      podCidr: '127.64.0.0/16',
      dnsAddress: undefined,
      clusterDomain: 'cluster.local',
      hostsFile: '',
      pump: 'native',
    },
  });
});

t.test('Service network and name options: flags, variables and usage errors', async (t) => {
  t.match(
    parseCommand(['--service-cidr', '127.10.0.0/24', '--dns-address', '127.0.0.1:5353', '--cluster-domain', 'Example.Test.', '--hosts-file', '/tmp/h'], {}),
    {
      options: { serviceCidr: '127.10.0.0/24', dnsAddress: { host: '127.0.0.1', port: 5353 }, clusterDomain: 'example.test', hostsFile: '/tmp/h' },
    },
  );
  t.match(
    parseCommand([], {
      SVCPROXY_SERVICE_CIDR: '127.20.0.0/16',
      SVCPROXY_DNS_ADDRESS: '[::1]:53',
      SVCPROXY_CLUSTER_DOMAIN: 'c.local',
      SVCPROXY_HOSTS_FILE: '/etc/hosts',
    }),
    { options: { serviceCidr: '127.20.0.0/16', dnsAddress: { host: '::1', port: 53 }, clusterDomain: 'c.local', hostsFile: '/etc/hosts' } },
  );
  const errors: Array<[string[], string]> = [
    [
      ['--service-cidr', '10.96.0.0/12'],
      '--service-cidr: 10.96.0.0/12 is not inside the loopback block 127.0.0.0/8: only loopback addresses can be bound without configuring the machine',
    ],
    [['--service-cidr', '127.96.0.1/16'], '--service-cidr: "127.96.0.1/16" has host bits set; the network address is 127.96.0.0/16'],
    [['--dns-address', 'localhost:53'], '--dns-address: "localhost:53" is not HOST:PORT (an IP address and a port, [::1]:5353 for IPv6)'],
    [['--cluster-domain', 'bad_domain'], '--cluster-domain: "bad_domain" is not a DNS domain such as cluster.local'],
  ];
  for (const [argv, message] of errors) t.same(parseCommand(argv, {}), { kind: 'usage-error', message }, argv.join(' '));
});

t.test('--pod-cidr: flag, variable, loopback only, apart from the service range', async (t) => {
  t.match(parseCommand(['--pod-cidr', '127.65.0.0/24'], {}), { options: { podCidr: '127.65.0.0/24' } });
  t.match(parseCommand([], { SVCPROXY_POD_CIDR: '127.66.0.0/20' }), { options: { podCidr: '127.66.0.0/20' } });
  t.match(parseCommand(['--pod-cidr', '127.65.0.0/24'], { SVCPROXY_POD_CIDR: '127.66.0.0/20' }), { options: { podCidr: '127.65.0.0/24' } }, 'the flag wins');
  const errors: Array<[string[], string]> = [
    [
      ['--pod-cidr', '10.244.0.0/16'],
      '--pod-cidr: 10.244.0.0/16 is not inside the loopback block 127.0.0.0/8: only loopback addresses can be bound without configuring the machine',
    ],
    [['--pod-cidr', 'pods'], '--pod-cidr: "pods" is not an IPv4 CIDR such as 127.96.0.0/16'],
    [['--pod-cidr', '127.96.16.0/20'], '--pod-cidr: 127.96.16.0/20 overlaps --service-cidr 127.96.0.0/16; Pods and Services need addresses apart'],
    [
      ['--pod-cidr', '127.0.0.0/8', '--service-cidr', '127.96.0.0/24'],
      '--pod-cidr: 127.0.0.0/8 overlaps --service-cidr 127.96.0.0/24; Pods and Services need addresses apart',
    ],
  ];
  for (const [argv, message] of errors) t.same(parseCommand(argv, {}), { kind: 'usage-error', message }, argv.join(' '));
});

t.test('drain timeout and poll interval', async (t) => {
  t.match(parseCommand(['--drain-timeout', '0', '--config-poll-interval', '250ms'], {}), { options: { drainTimeoutMs: 0, configPollIntervalMs: 250 } });
  t.match(parseCommand([], { SVCPROXY_DRAIN_TIMEOUT: '2s' }), { options: { drainTimeoutMs: 2000 } });
  t.match(parseCommand([], { SVCPROXY_HALF_CLOSE_TIMEOUT: '10s' }), { options: { halfCloseTimeoutMs: 10_000 } });
  t.match(parseCommand(['--no-watch'], {}), { options: { watch: false } });
  t.match(parseCommand(['--tcp-keepalive', '0'], {}), { options: { tcpKeepAliveMs: 0 } });
  t.match(parseCommand([], { SVCPROXY_TCP_KEEPALIVE: '2m' }), { options: { tcpKeepAliveMs: 120_000 } });
  t.match(parseCommand(['--workers', '3'], {}), { options: { workers: 3 } });
  t.match(parseCommand([], { SVCPROXY_WORKERS: 'auto' }), { options: { workers: (await import('node:os')).availableParallelism() } });
  t.match(parseCommand(['--workers', '0'], {}), { kind: 'usage-error', message: '--workers: "0" is not a number from 1 to 64 or "auto"' });
  t.match(parseCommand(['--pump', 'js'], {}), { options: { pump: 'js' } });
  t.match(parseCommand([], { SVCPROXY_PUMP: 'js' }), { options: { pump: 'js' } });
  t.match(parseCommand(['--pump', 'native'], { SVCPROXY_PUMP: 'js' }), { options: { pump: 'native' } }, 'the flag wins');
  t.match(parseCommand(['--pump', 'splice'], {}), { kind: 'usage-error', message: '--pump: "splice" is not one of native, js' });
  t.match(parseCommand(['--bind-address', '0.0.0.0'], {}), { options: { nodeAddress: '0.0.0.0' } }, 'the node address follows the bind address');
  t.match(parseCommand(['--node-address', '127.0.0.9'], { SVCPROXY_NODE_ADDRESS: '127.0.0.8' }), { options: { nodeAddress: '127.0.0.9' } });
  t.match(parseCommand(['--node-address', 'x'], {}), { kind: 'usage-error', message: '--node-address: "x" is not an IP address' });
  t.match(parseCommand(['--drain-timeout', 'soon'], {}), {
    kind: 'usage-error',
    message: '--drain-timeout: "soon" is not a duration such as 500ms, 30s or 5m',
  });
});

t.test('environment variables, and flags over them', async (t) => {
  const env = { SVCPROXY_CONFIG: '/etc/svcproxy', SVCPROXY_BIND_ADDRESS: '0.0.0.0', SVCPROXY_ADMIN_ADDRESS: '0.0.0.0:9901', SVCPROXY_LOG_LEVEL: 'debug' };
  t.match(parseCommand([], env), { options: { config: ['/etc/svcproxy'], bindAddress: '0.0.0.0', admin: { host: '0.0.0.0', port: 9901 }, logLevel: 'debug' } });
  t.match(
    parseCommand(
      ['--config', 'x.yaml', '--bind-address', '::1', '--admin-address', '[::1]:1234', '--log-level', 'warn', '--check', '--half-close-timeout', '5s'],
      env,
    ),
    {
      options: { config: ['x.yaml'], bindAddress: '::1', admin: { host: '::1', port: 1234 }, logLevel: 'warn', check: true, halfCloseTimeoutMs: 5000 },
    },
  );
});

t.test('help and version', async (t) => {
  t.same(parseCommand(['--help'], {}), { kind: 'help' });
  t.same(parseCommand(['--version'], {}), { kind: 'version' });
});

const errors: ReadonlyArray<[string[], string]> = [
  [['--bogus'], "Unknown option '--bogus'"],
  [['extra'], 'Unexpected argument'],
  [['--bind-address', 'localhost'], '--bind-address: "localhost" is not an IP address'],
  [['--admin-address', '9901'], '--admin-address: "9901" is not HOST:PORT'],
  [['--admin-address', '127.0.0.1:70000'], '--admin-address: "127.0.0.1:70000" is not HOST:PORT'],
  [['--log-level', 'loud'], '--log-level: "loud" is not one of fatal, error, warn, info, debug, trace, silent'],
  [['--half-close-timeout', '5 sec'], '--half-close-timeout: "5 sec" is not a duration'],
];
for (const [argv, message] of errors) {
  t.test(`usage error: ${argv.join(' ')}`, async (t) => {
    const command = parseCommand(argv, {});
    t.equal(command.kind, 'usage-error');
    t.match(command.kind === 'usage-error' ? command.message : '', message);
  });
}

t.test('host:port forms', async (t) => {
  t.same(parseHostPort('127.0.0.1:80'), { host: '127.0.0.1', port: 80 });
  t.same(parseHostPort('[::1]:80'), { host: '::1', port: 80 });
  t.equal(parseHostPort(':80'), undefined);
  t.equal(parseHostPort('example.com:80'), undefined);
});

t.test('--config repeats, in order; - is standard input, once, and not with --workers', async (t) => {
  t.match(parseCommand(['--config', 'a.yaml', '-c', 'dir/', '--config', '-'], {}), { options: { config: ['a.yaml', 'dir/', '-'] } });
  t.match(parseCommand(['--config', '-', '--config', '-'], {}), { kind: 'usage-error', message: /standard input \(-\) may be given once/ });
  t.match(parseCommand(['--config', ''], {}), { kind: 'usage-error', message: /an empty path/ });
  t.match(parseCommand(['--config', '-', '--workers', '2'], {}), { kind: 'usage-error', message: /cannot be used with --workers/ });
});

t.test('--toxiproxy-address: off by default, loopback unless --toxiproxy-allow-remote, one worker', async (t) => {
  t.match(parseCommand([], {}), { kind: 'run', options: { toxiproxy: undefined } });
  t.match(parseCommand(['--toxiproxy-address', '127.0.0.1:8474'], {}), {
    kind: 'run',
    options: { toxiproxy: { host: '127.0.0.1', port: 8474 }, toxiproxyAllowRemote: false },
  });
  t.match(parseCommand([], { SVCPROXY_TOXIPROXY_ADDRESS: '[::1]:8474' }), { kind: 'run', options: { toxiproxy: { host: '::1', port: 8474 } } });
  t.match(parseCommand(['--toxiproxy-address', '0.0.0.0:8474'], {}), {
    kind: 'usage-error',
    message: '--toxiproxy-address: 0.0.0.0:8474 is not a loopback address; the API changes traffic, so add --toxiproxy-allow-remote to mean it',
  });
  t.match(parseCommand(['--toxiproxy-address', '0.0.0.0:8474', '--toxiproxy-allow-remote'], {}), { kind: 'run', options: { toxiproxyAllowRemote: true } });
  t.match(parseCommand(['--toxiproxy-address', 'localhost'], {}), { kind: 'usage-error', message: /is not HOST:PORT/ });
  t.match(parseCommand(['--toxiproxy-address', '127.0.0.1:8474', '--workers', '2'], {}), {
    kind: 'usage-error',
    message: '--toxiproxy-address needs --workers 1 (API toxics live in one process)',
  });
});
