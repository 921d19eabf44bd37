/**
 * The CLI's Options -> the InstanceConfig the core takes, and the sources
 * the command line names. The mapping picks fields one by one, so a flag the
 * CLI adds for itself does not leak into the core.
 */
import { readStream, STDIN_PATH } from '../config/load.js';
import type { ClusterConfig, InstanceConfig } from '../instance/config.js';
import type { Logger } from '../log.js';
import type { ClusterSource } from '../sources/cluster-source.js';
import { FileSource } from '../sources/file-source.js';
import type { Options } from './options.js';

export function instanceConfig(o: Options): InstanceConfig {
  return {
    config: o.config,
    bindAddress: o.bindAddress,
    nodeAddress: o.nodeAddress,
    admin: o.admin,
    halfCloseTimeoutMs: o.halfCloseTimeoutMs,
    tcpKeepAliveMs: o.tcpKeepAliveMs,
    drainTimeoutMs: o.drainTimeoutMs,
    configPollIntervalMs: o.configPollIntervalMs,
    watch: o.watch,
    serviceCidr: o.serviceCidr,
    podCidr: o.podCidr,
    dnsAddress: o.dnsAddress,
    clusterDomain: o.clusterDomain,
    hostsFile: o.hostsFile,
    pump: o.pump,
    ...(o.cluster === undefined ? {} : { cluster: o.cluster }),
    ...(o.toxiproxy === undefined ? {} : { toxiproxy: o.toxiproxy, toxiproxyAllowRemote: o.toxiproxyAllowRemote === true }),
  };
}

/**
 * The `--config` paths as the instance's one source. `--config -` is
 * standard input, read here once: every later read sees the same text.
 */
export async function configSource(options: Options, stdin: NodeJS.ReadableStream): Promise<FileSource> {
  const input = options.config.includes(STDIN_PATH) ? { stdin: await readStream(stdin) } : {};
  return new FileSource({ paths: options.config, watch: options.watch, pollIntervalMs: options.configPollIntervalMs, ...input });
}

/**
 * `--cluster` as a source: the kubeconfig read (a KubeconfigError names the
 * path and the context), one reflector per resource and namespace (the
 * context's namespace unless --namespace or --all-namespaces). Not started.
 * The Kubernetes client (@kubernetes/client-node, large, and needing a newer
 * Node than svcproxy's minimum) is loaded here, only with --cluster.
 */
export async function clusterSource(cluster: ClusterConfig, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<ClusterSource> {
  const [{ loadClusterAccess }, { createReflector }, { ClusterSource }] = await Promise.all([
    import('../kube/kubeconfig.js'),
    import('../kube/reflector.js'),
    import('../sources/cluster-source.js'),
  ]);
  const access = loadClusterAccess({
    ...(cluster.kubeconfig === '' ? {} : { kubeconfig: cluster.kubeconfig }),
    ...(cluster.context === '' ? {} : { context: cluster.context }),
    env,
  });
  const namespaces = cluster.allNamespaces ? [''] : cluster.namespaces.length > 0 ? cluster.namespaces : [access.namespace];
  return new ClusterSource({ access, namespaces, reflector: createReflector, log: log.child({ source: 'cluster', context: access.contextName }) });
}
