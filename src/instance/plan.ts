/**
 * From sources to a desired state: read every source, merge their objects
 * (sources/merge.ts), plan them for this machine (state/desired.ts). Used at
 * start-up, by `--check` and `svcproxy env`, on every reload and, without
 * reading, on every re-plan.
 */
import { createHash } from 'node:crypto';
import type { ConfigIssue, ConfigNote, ConfigSnapshot } from '../config/types.js';
import { isLocalAddress } from '../proxy/local-addresses.js';
import { mergeSources } from '../sources/merge.js';
import type { Source, SourceRead } from '../sources/source.js';
import { parseLoopbackRange } from '../state/address-allocator.js';
import { desiredState, type DesiredResult, type ListenEnvironment } from '../state/desired.js';
import type { DesiredState } from '../state/types.js';
import { adminAddresses, workerIndex } from '../workers.js';
import type { InstanceConfig } from './config.js';
import { withoutForwardedUdp } from './forwarded-udp.js';

/** What changes between two plans of the same objects: what binding names resolve to, and the time (Pods terminate). */
export interface PlanInputs {
  readonly resolved: ReadonlyMap<string, readonly string[]>;
  readonly now: number;
}

/** One read of every source, not yet validated. */
export interface SourcesRead {
  /** Equal versions mean equal objects in every source. */
  readonly version: string;
  readonly reads: readonly SourceRead[];
}

export interface Loaded {
  readonly state: DesiredState;
  readonly issues: readonly ConfigIssue[];
  readonly notes: readonly ConfigNote[];
  /** The version of the read: one source's own (a file source: sha256 of the files), else a hash of them all. */
  readonly hash: string;
  readonly services: number;
  /** Objects of kinds svcproxy does not read, by `apiVersion kind`. */
  readonly ignored: Readonly<Record<string, number>>;
  /** The merged objects: planned again, without reading, when binding names resolve anew or removed Pods end. */
  readonly snapshot: ConfigSnapshot;
}

function listenEnvironment(config: InstanceConfig, running: DesiredState | undefined, inputs: PlanInputs): ListenEnvironment {
  const range = parseLoopbackRange(config.serviceCidr);
  const podRange = parseLoopbackRange(config.podCidr);
  return {
    bindAddress: config.bindAddress,
    nodeAddress: config.nodeAddress,
    isLocalAddress,
    reserved: [
      ...adminAddresses(config),
      ...(config.toxiproxy === undefined ? [] : [{ address: config.toxiproxy.host, port: config.toxiproxy.port, what: 'toxiproxy API' }]),
    ],
    udp: workerIndex() <= 1,
    ...(typeof range === 'string' ? {} : { serviceRange: range }),
    ...(typeof podRange === 'string' ? {} : { podRange }),
    ...(running === undefined
      ? {}
      : { previousNodePorts: running.nodePorts, previousAddresses: running.serviceAddresses, previousOwnedPods: running.ownedPods }),
    resolved: inputs.resolved,
    now: inputs.now,
  };
}

/** Plans `snapshot` for this machine; `running` passes what was allocated so far (nodePorts, addresses), so it survives. */
export function planSnapshot(config: InstanceConfig, snapshot: ConfigSnapshot, running: DesiredState | undefined, inputs: PlanInputs): DesiredResult {
  const result = desiredState(snapshot, listenEnvironment(config, running, inputs));
  return config.cluster?.podNetwork === 'portforward' ? withoutForwardedUdp(result) : result;
}

/** Reads every source once (cheap: nothing is validated yet). */
export async function readSources(sources: readonly Source[]): Promise<SourcesRead> {
  const reads: SourceRead[] = [];
  for (const source of sources) reads.push(await source.read());
  const only = reads.length === 1 ? reads[0]?.version : undefined;
  return {
    version:
      only ??
      createHash('sha256')
        .update(reads.map((r) => r.version).join('\0'))
        .digest('hex'),
    reads,
  };
}

/** Validates a read (in a child process, for files), merges the sources and plans; any issue means it must not be applied. */
export async function planRead(config: InstanceConfig, read: SourcesRead, running: DesiredState | undefined, inputs: PlanInputs): Promise<Loaded> {
  const objects = mergeSources(await Promise.all(read.reads.map((r) => r.objects())));
  const desired = planSnapshot(config, objects.snapshot, running, inputs);
  return {
    state: desired.state,
    issues: [...objects.issues, ...desired.issues],
    notes: [...objects.notes, ...desired.notes],
    hash: read.version,
    services: objects.snapshot.services.length,
    ignored: objects.ignored,
    snapshot: objects.snapshot,
  };
}

/** Reads, validates and plans every source: the first config, `--check` and `svcproxy env`. */
export async function loadDesired(config: InstanceConfig, sources: readonly Source[]): Promise<Loaded> {
  return planRead(config, await readSources(sources), undefined, { resolved: new Map(), now: Date.now() });
}
