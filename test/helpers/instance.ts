import type { Test } from 'tap';
import { LocalModel } from '../../src/admin/local-model.js';
import { AdminServer } from '../../src/admin/server.js';
import type { InstanceConfig } from '../../src/instance/config.js';
import { Svcproxy } from '../../src/instance/instance.js';
import { loadDesired } from '../../src/instance/plan.js';
import type { Logger } from '../../src/log.js';
import type { LookupFn } from '../../src/proxy/resolver.js';
import { FileSource } from '../../src/sources/file-source.js';
import { silentLog } from './log.js';

/** The config of an in-process instance: admin on an ephemeral port, fast polling off unless asked. */
export function testConfig(config: string | readonly string[], overrides: Partial<InstanceConfig> = {}): InstanceConfig {
  return {
    config: typeof config === 'string' ? [config] : config,
    bindAddress: '127.0.0.1',
    nodeAddress: '127.0.0.1',
    admin: { host: '127.0.0.1', port: 0 },
    halfCloseTimeoutMs: 60_000,
    tcpKeepAliveMs: 60_000,
    drainTimeoutMs: 1000,
    configPollIntervalMs: 0,
    watch: true,
    serviceCidr: '127.96.0.0/16',
    podCidr: '127.64.0.0/16',
    dnsAddress: undefined,
    clusterDomain: 'cluster.local',
    hostsFile: '',
    pump: 'native',
    ...overrides,
  };
}

/** Starts svcproxy in this process on `config`; stopped at teardown. Fails the test if the config is invalid. */
export async function startInstance(
  t: Test,
  config: string,
  overrides: Partial<InstanceConfig> = {},
  log: Logger = silentLog,
  lookup?: LookupFn,
): Promise<Svcproxy<AdminServer>> {
  const options = testConfig(config, overrides);
  const source = new FileSource({ paths: options.config, watch: options.watch, pollIntervalMs: options.configPollIntervalMs });
  const loaded = await loadDesired(options, [source]);
  if (loaded.issues.length > 0) throw new Error(`invalid test config:\n${loaded.issues.map((i) => i.message).join('\n')}`);
  const proxy = new Svcproxy<AdminServer>(options, log, {
    sources: [source],
    admin: (instance) => new AdminServer(new LocalModel(instance), log),
    ...(lookup === undefined ? {} : { lookup }),
  });
  t.teardown(() => proxy.stop());
  await proxy.start(loaded);
  return proxy;
}

/** A Service on `port` with a hand-written EndpointSlice listing `endpoints` (each 127.0.0.1:<port>). */
export function serviceWithEndpoints(name: string, port: number, endpointPorts: number[]): string {
  const slices = endpointPorts
    .map(
      (p, i) => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-${i}
  labels: {kubernetes.io/service-name: ${name}}
addressType: IPv4
ports: [{name: "", port: ${p}}]
endpoints:
  - addresses: [127.0.0.1]
`,
    )
    .join('');
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  ports: [{port: ${port}}]
${slices}`;
}

/** Service `web` on `port` selecting Deployment `web`'s `replicas` Pods (targetPort `http`, containerPort 8080; 2 s grace period). */
export function serviceWithDeployment(replicas: number, port: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: ${port}, targetPort: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]
`;
}
