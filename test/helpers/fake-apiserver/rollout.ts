/**
 * A Deployment's rolling update, scripted step by step: with `maxSurge` s (and maxUnavailable 0, as
 * the Deployment default rounds to for small replica counts), s new Pods are created not ready, become
 * ready, and only then s old Pods start terminating (still serving), stop serving, and are deleted.
 * Every write is followed by `onStep`, which the test awaits: start a listener on a new Pod's IP before
 * it turns ready, wait until a client has seen a change, or count steps.
 */
import { randomBytes } from 'node:crypto';
import type { FakeCluster } from './cluster.js';
import type { PodInput } from './objects.js';
import type { PodObject } from './types.js';

export type RolloutAction = 'created' | 'ready' | 'terminating' | 'not-serving' | 'deleted';

interface RolloutStep {
  readonly action: RolloutAction;
  readonly pod: PodObject;
}

export interface RolloutOptions {
  readonly namespace: string;
  /** The workload's selector: every Pod it matches that is not terminating is replaced. */
  readonly selector: Readonly<Record<string, string>>;
  /** New Pods wanted (default: as many as there are old ones). */
  readonly replicas?: number;
  /** Default 1. */
  readonly maxSurge?: number;
  readonly containerPorts?: PodInput['containerPorts'];
  readonly onStep?: (step: RolloutStep) => Promise<void> | void;
}

/** Runs the rollout to its end; resolves with the new Pods. */
export async function rollout(cluster: FakeCluster, options: RolloutOptions): Promise<PodObject[]> {
  const { namespace, selector } = options;
  const old = cluster.pods(namespace, selector).filter((p) => p.metadata.deletionTimestamp === undefined);
  const replicas = options.replicas ?? old.length;
  const surge = Math.max(1, options.maxSurge ?? 1);
  const hash = randomBytes(5).toString('hex').slice(0, 10);
  const base = selector['app'] ?? 'pod';
  const created: PodObject[] = [];
  const step = async (action: RolloutAction, pod: PodObject): Promise<void> => {
    await options.onStep?.({ action, pod });
  };
  while (created.length < replicas || old.length > 0) {
    const batch: PodObject[] = [];
    for (let i = 0; i < surge && created.length < replicas; i++) {
      const pod = cluster.addPod({
        namespace,
        generateName: `${base}-${hash}-`,
        labels: { ...selector, 'pod-template-hash': hash },
        ready: false,
        ...(options.containerPorts === undefined ? {} : { containerPorts: options.containerPorts }),
      });
      batch.push(pod);
      created.push(pod);
      await step('created', pod);
    }
    for (const pod of batch) await step('ready', cluster.setPodReady(namespace, pod.metadata.name, true));
    const retiring = old.splice(0, created.length >= replicas ? old.length : batch.length);
    for (const pod of retiring) await step('terminating', cluster.terminatePod(namespace, pod.metadata.name));
    for (const pod of retiring) await step('not-serving', cluster.setPodReady(namespace, pod.metadata.name, false));
    for (const pod of retiring) {
      cluster.deletePod(namespace, pod.metadata.name);
      await step('deleted', pod);
    }
  }
  return created.map((p) => cluster.store.get('Pod', namespace, p.metadata.name) as PodObject);
}
