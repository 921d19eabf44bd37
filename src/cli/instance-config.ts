/**
 * The CLI's Options -> the InstanceConfig the core takes, and the sources
 * the command line names. The mapping picks fields one by one, so a flag the
 * CLI adds for itself does not leak into the core.
 */
import { readStream, STDIN_PATH } from '../config/load.js';
import type { InstanceConfig } from '../instance/config.js';
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
