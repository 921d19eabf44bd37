import t from 'tap';
import { service, validateYaml } from '../helpers/config.js';

const cases: ReadonlyArray<{ name: string; yaml: string; issues: string[] }> = [
  {
    name: 'loadBalancerSourceRanges must be CIDRs',
    yaml: service('  type: LoadBalancer\n  loadBalancerSourceRanges: [127.0.0.5/32, 10.0.0.0/33, nope]\n  ports:\n    - port: 80\n'),
    issues: [
      't.yaml[0] Service default/web: spec.loadBalancerSourceRanges: Invalid value: "[127.0.0.5/32 10.0.0.0/33 nope]": must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 ',
    ],
  },
  {
    name: 'the legacy source-ranges annotation is checked too, and only allowed on LoadBalancer',
    yaml: service('  ports:\n    - port: 80\n', 'web', '  annotations: {service.beta.kubernetes.io/load-balancer-source-ranges: "10.0.0.0/8, x"}\n'),
    issues: [
      "t.yaml[0] Service default/web: metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]: Forbidden: may only be used when `type` is 'LoadBalancer'",
      't.yaml[0] Service default/web: metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]: Invalid value: "10.0.0.0/8, x": must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 ',
    ],
  },
  {
    name: 'svcproxy.dev annotations: durations, counts and versions are validated',
    yaml: service(
      '  ports:\n    - port: 80\n',
      'web',
      '  annotations:\n    svcproxy.dev/connect-timeout: soon\n    svcproxy.dev/idle-timeout: "0"\n    svcproxy.dev/max-connections: "-1"\n    svcproxy.dev/proxy-protocol: v3\n    svcproxy.dev/udp-idle-timeout: 25h\n',
    ),
    issues: [
      't.yaml[0] Service default/web: metadata.annotations[svcproxy.dev/connect-timeout]: Invalid value: "soon": must be a duration greater than 0 and at most 24h, such as 500ms, 30s or 5m',
      't.yaml[0] Service default/web: metadata.annotations[svcproxy.dev/idle-timeout]: Invalid value: "0": must be a duration greater than 0 and at most 24h, such as 500ms, 30s or 5m',
      't.yaml[0] Service default/web: metadata.annotations[svcproxy.dev/max-connections]: Invalid value: "-1": must be a whole number from 1 to 1000000',
      't.yaml[0] Service default/web: metadata.annotations[svcproxy.dev/proxy-protocol]: Unsupported value: "v3": supported values: "v1", "v2"',
      't.yaml[0] Service default/web: metadata.annotations[svcproxy.dev/udp-idle-timeout]: Invalid value: "25h": must be a duration greater than 0 and at most 24h, such as 500ms, 30s or 5m',
    ],
  },
  {
    name: 'a misspelt svcproxy.dev annotation is an error, not silently ignored',
    yaml: service('  ports:\n    - port: 80\n', 'web', '  annotations: {svcproxy.dev/idle-timout: 5s}\n'),
    issues: [
      't.yaml[0] Service default/web: metadata.annotations: Unsupported value: "svcproxy.dev/idle-timout": supported values: "svcproxy.dev/connect-timeout", "svcproxy.dev/idle-timeout", "svcproxy.dev/max-connections", "svcproxy.dev/proxy-protocol", "svcproxy.dev/udp-idle-timeout", "svcproxy.dev/udp-max-flows", "svcproxy.dev/endpoints"',
    ],
  },
  {
    name: 'ipFamilies and clusterIPs: known families, one IP per family, SingleStack means one',
    yaml: service(
      '  ipFamilies: [IPv4, IPv5]\n  ipFamilyPolicy: SingleStack\n  clusterIP: 127.0.0.10\n  clusterIPs: [127.0.0.10, 127.0.0.11]\n  ports:\n    - port: 80\n',
    ),
    issues: [
      't.yaml[0] Service default/web: spec.ipFamilies[1]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"',
      't.yaml[0] Service default/web: spec.clusterIPs[1]: Invalid value: "127.0.0.11": may specify no more than one IP for each IP family',
    ],
  },
  {
    name: 'load balancer ingress IPs must be IPs',
    yaml:
      service('  type: LoadBalancer\n  ports:\n    - port: 80\n') +
      'status:\n  loadBalancer:\n    ingress: [{ip: 127.0.0.20}, {hostname: lb.example.com}, {ip: bogus}]\n',
    issues: ['t.yaml[0] Service default/web: status.loadBalancer.ingress[2].ip: Invalid value: "bogus": must be a valid IP address'],
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.same(validateYaml(c.yaml).issues, c.issues);
  });
}

t.test('annotations and network fields are read into the spec', async (t) => {
  const { snapshot, issues } = validateYaml(
    service(
      '  type: LoadBalancer\n  ipFamilyPolicy: PreferDualStack\n  ports:\n    - port: 80\n',
      'web',
      '  annotations:\n    svcproxy.dev/connect-timeout: 1.5s\n    svcproxy.dev/idle-timeout: 5m\n    svcproxy.dev/max-connections: "100"\n    svcproxy.dev/proxy-protocol: v2\n    service.beta.kubernetes.io/load-balancer-source-ranges: " 127.0.0.5/32 ,::1/128"\n',
    ) + 'status:\n  loadBalancer:\n    ingress: [{ip: 127.0.0.20}]\n',
  );
  t.same(issues, []);
  const svc = snapshot.services[0];
  t.same(svc?.options, {
    connectTimeoutMs: 1500,
    idleTimeoutMs: 300_000,
    maxConnections: 100,
    proxyProtocol: 'v2',
    udpIdleTimeoutMs: 30_000,
    udpMaxFlows: 10_000,
  });
  t.same(svc?.sourceRanges, ['127.0.0.5/32', '::1/128']);
  t.same(svc?.families, ['IPv4', 'IPv6']);
  t.same(svc?.loadBalancerIPs, ['127.0.0.20']);
});

t.test('svcproxy.dev/endpoints: admin makes the admin server the endpoint; any other value is refused', async (t) => {
  const annotated = (value: string): string =>
    service('  ports: [{port: 8080, targetPort: 9901}]\n', 'web', `  annotations:\n    svcproxy.dev/endpoints: ${value}\n`);
  const ok = validateYaml(annotated('admin'));
  t.same(ok.issues, []);
  t.equal(ok.snapshot.services[0]?.options.endpoints, 'admin');
  t.notMatch(ok.notes.join('\n'), /no endpoints/, 'no warning that the selector-less Service has no endpoints');
  t.same(validateYaml(annotated('pods')).issues, [
    't.yaml[0] Service default/web: metadata.annotations[svcproxy.dev/endpoints]: Unsupported value: "pods": supported values: "admin"',
  ]);
});
