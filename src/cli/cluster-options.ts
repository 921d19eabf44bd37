/**
 * `--cluster` and the flags that choose what it follows: `--kubeconfig`,
 * `--context`, `--namespace` (repeatable), `--all-namespaces`,
 * `--pod-network`. Pure: parsed values and the environment in, a
 * ClusterConfig (or none, or the usage problem as text) out.
 */
import { POD_NETWORKS, type ClusterConfig, type PodNetwork } from '../instance/config.js';
import { envName } from './flags.js';

type Values = Readonly<Record<string, string | boolean | ReadonlyArray<string | boolean> | undefined>>;

/** A boolean flag, else its variable: 1/true/yes (any case) set it, 0/false/no/'' leave it off. */
function booleanFlag(values: Values, env: NodeJS.ProcessEnv, name: string): boolean | string {
  if (values[name] === true) return true;
  const text = (env[envName(name)] ?? '').toLowerCase();
  if (text === '' || text === '0' || text === 'false' || text === 'no') return false;
  if (text === '1' || text === 'true' || text === 'yes') return true;
  return `${envName(name)}: "${env[envName(name)] ?? ''}" is not 1/true/yes or 0/false/no`;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function text(values: Values, env: NodeJS.ProcessEnv, name: string): string {
  const given = values[name];
  return typeof given === 'string' ? given : (env[envName(name)] ?? '');
}

function namespaces(values: Values, env: NodeJS.ProcessEnv): string[] | string {
  const given = values['namespace'];
  const list = Array.isArray(given)
    ? given.map(String)
    : (env[envName('namespace')] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
  const bad = list.find((ns) => ns.length > 63 || !DNS1123_LABEL.test(ns));
  if (bad !== undefined) return `--namespace: "${bad}" is not a namespace name (lower case letters, digits and -, at most 63)`;
  return [...new Set(list)];
}

function isPodNetwork(value: string): value is PodNetwork {
  return (POD_NETWORKS as readonly string[]).includes(value);
}

/** The cluster config, undefined without --cluster, or a usage problem (a string naming the flag). */
export function parseClusterOptions(values: Values, env: NodeJS.ProcessEnv): ClusterConfig | undefined | string {
  const cluster = booleanFlag(values, env, 'cluster');
  if (typeof cluster === 'string') return cluster;
  const allNamespaces = booleanFlag(values, env, 'all-namespaces');
  if (typeof allNamespaces === 'string') return allNamespaces;
  const list = namespaces(values, env);
  if (typeof list === 'string') return list;
  const podNetwork = text(values, env, 'pod-network') || 'portforward';
  if (!isPodNetwork(podNetwork)) return `--pod-network: "${podNetwork}" is not one of ${POD_NETWORKS.join(', ')}`;
  const kubeconfig = text(values, env, 'kubeconfig');
  const context = text(values, env, 'context');
  if (!cluster) {
    const given = ['kubeconfig', 'context', 'namespace', 'all-namespaces'].find((f) => values[f] !== undefined);
    return given === undefined ? undefined : `--${given} chooses what --cluster follows; add --cluster`;
  }
  if (allNamespaces && Array.isArray(values['namespace'])) return '--namespace and --all-namespaces: choose one';
  return { kubeconfig, context, namespaces: allNamespaces ? [] : list, allNamespaces, podNetwork };
}
