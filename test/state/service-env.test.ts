import t from 'tap';
import { formatEnvVars, namespaceEnvVars, serviceEnvVars } from '../../src/state/service-env.js';
import type { Protocol } from '../../src/config/types.js';
import type { ServiceInfo } from '../../src/state/types.js';

function info(name: string, address: string, ports: Array<[name: string, port: number, protocol: Protocol]>, namespace = 'default'): ServiceInfo {
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    type: 'ClusterIP',
    headless: address === '',
    externalName: '',
    addresses: address === '' ? [] : [address],
    ipv6Alias: '',
    mappedFrom: [],
    ports: ports.map(([n, port, protocol]) => ({ name: n, port, protocol, targetPort: String(port), servedOn: [], localhost: '' })),
    publishNotReadyAddresses: false,
    endpoints: [],
  };
}

t.test("the notes' example: redis-master, 10.0.0.11, TCP 6379 named redis", async (t) => {
  t.same(serviceEnvVars(info('redis-master', '10.0.0.11', [['redis', 6379, 'TCP']])), [
    ['REDIS_MASTER_SERVICE_HOST', '10.0.0.11'],
    ['REDIS_MASTER_SERVICE_PORT', '6379'],
    ['REDIS_MASTER_SERVICE_PORT_REDIS', '6379'],
    ['REDIS_MASTER_PORT', 'tcp://10.0.0.11:6379'],
    ['REDIS_MASTER_PORT_6379_TCP', 'tcp://10.0.0.11:6379'],
    ['REDIS_MASTER_PORT_6379_TCP_PROTO', 'tcp'],
    ['REDIS_MASTER_PORT_6379_TCP_PORT', '6379'],
    ['REDIS_MASTER_PORT_6379_TCP_ADDR', '10.0.0.11'],
  ]);
});

t.test("the kubelet's own test (envvars_test.go): names, UDP first port, numeric port names, IPv6 brackets; no address, no variables", async (t) => {
  const services = [
    info('foo-bar', '1.2.3.4', [['', 8080, 'TCP']]),
    info('abc-123', '5.6.7.8', [
      ['u-d-p', 8081, 'UDP'],
      ['t-c-p', 8081, 'TCP'],
    ]),
    info('q-u-u-x', '9.8.7.6', [
      ['', 8082, 'TCP'],
      ['8083', 8083, 'TCP'],
    ]),
    info('svrc-clusterip-none', '', [['', 8082, 'TCP']]),
    info('sctp-1', '2001:db8::', [['', 8084, 'SCTP']]),
  ];
  const vars = services.flatMap(serviceEnvVars);
  t.same(vars.slice(0, 7), [
    ['FOO_BAR_SERVICE_HOST', '1.2.3.4'],
    ['FOO_BAR_SERVICE_PORT', '8080'],
    ['FOO_BAR_PORT', 'tcp://1.2.3.4:8080'],
    ['FOO_BAR_PORT_8080_TCP', 'tcp://1.2.3.4:8080'],
    ['FOO_BAR_PORT_8080_TCP_PROTO', 'tcp'],
    ['FOO_BAR_PORT_8080_TCP_PORT', '8080'],
    ['FOO_BAR_PORT_8080_TCP_ADDR', '1.2.3.4'],
  ]);
  t.same(vars.slice(7, 20), [
    ['ABC_123_SERVICE_HOST', '5.6.7.8'],
    ['ABC_123_SERVICE_PORT', '8081'],
    ['ABC_123_SERVICE_PORT_U_D_P', '8081'],
    ['ABC_123_SERVICE_PORT_T_C_P', '8081'],
    ['ABC_123_PORT', 'udp://5.6.7.8:8081'],
    ['ABC_123_PORT_8081_UDP', 'udp://5.6.7.8:8081'],
    ['ABC_123_PORT_8081_UDP_PROTO', 'udp'],
    ['ABC_123_PORT_8081_UDP_PORT', '8081'],
    ['ABC_123_PORT_8081_UDP_ADDR', '5.6.7.8'],
    ['ABC_123_PORT_8081_TCP', 'tcp://5.6.7.8:8081'],
    ['ABC_123_PORT_8081_TCP_PROTO', 'tcp'],
    ['ABC_123_PORT_8081_TCP_PORT', '8081'],
    ['ABC_123_PORT_8081_TCP_ADDR', '5.6.7.8'],
  ]);
  t.same(
    vars.slice(20, 32).map(([k]) => k),
    [
      'Q_U_U_X_SERVICE_HOST',
      'Q_U_U_X_SERVICE_PORT',
      'Q_U_U_X_SERVICE_PORT_8083',
      'Q_U_U_X_PORT',
      'Q_U_U_X_PORT_8082_TCP',
      'Q_U_U_X_PORT_8082_TCP_PROTO',
      'Q_U_U_X_PORT_8082_TCP_PORT',
      'Q_U_U_X_PORT_8082_TCP_ADDR',
      'Q_U_U_X_PORT_8083_TCP',
      'Q_U_U_X_PORT_8083_TCP_PROTO',
      'Q_U_U_X_PORT_8083_TCP_PORT',
      'Q_U_U_X_PORT_8083_TCP_ADDR',
    ],
  );
  t.same(vars.slice(32), [
    ['SCTP_1_SERVICE_HOST', '2001:db8::'],
    ['SCTP_1_SERVICE_PORT', '8084'],
    ['SCTP_1_PORT', 'sctp://[2001:db8::]:8084'],
    ['SCTP_1_PORT_8084_SCTP', 'sctp://[2001:db8::]:8084'],
    ['SCTP_1_PORT_8084_SCTP_PROTO', 'sctp'],
    ['SCTP_1_PORT_8084_SCTP_PORT', '8084'],
    ['SCTP_1_PORT_8084_SCTP_ADDR', '2001:db8::'],
  ]);
});

t.test('one namespace, sorted by name; shell and dotenv formats', async (t) => {
  const vars = namespaceEnvVars(
    [info('b', '127.96.0.2', [['', 80, 'TCP']]), info('a', '127.96.0.1', [['', 81, 'TCP']]), info('c', '127.96.0.3', [['', 82, 'TCP']], 'other')],
    'default',
  );
  t.same(
    vars.filter(([k]) => k.endsWith('_SERVICE_HOST')),
    [
      ['A_SERVICE_HOST', '127.96.0.1'],
      ['B_SERVICE_HOST', '127.96.0.2'],
    ],
  );
  t.equal(
    formatEnvVars(
      [
        ['A', "it's"],
        ['B', 'tcp://[::1]:80'],
      ],
      'shell',
    ),
    "export A='it'\\''s'\nexport B='tcp://[::1]:80'\n",
  );
  t.equal(
    formatEnvVars(
      [
        ['A', '1'],
        ['B', 'tcp://x:1'],
      ],
      'dotenv',
    ),
    'A=1\nB=tcp://x:1\n',
  );
});
