/**
 * The admin model of one process: snapshots built from this process's
 * Svcproxy at request time (view.ts), and its events in the feed's shapes.
 * A single svcproxy serves it over HTTP; a --workers worker sends it to the
 * primary, which serves the sum.
 */
import { EventEmitter } from 'node:events';
import type { SvcproxyEvents } from '../instance-types.js';
import type { AccessLogCounters, AdminEvents, AdminModel, AdminSnapshot, NativePumpStats, SnapshotPurpose } from './model.js';
import { EventLoopDelay, sampleProcess } from './process-metrics.js';
import { configView, podViews, servicePortSnapshots, serviceViews, type AdminSource, type NativePumpReadable } from './view.js';

/** The native pump's figures as plain numbers (copied: the pump keeps counting). */
function nativePumpStats(pump: NativePumpReadable | undefined): { nativePump?: NativePumpStats } {
  if (pump === undefined) return {};
  const thread = pump.threadStats();
  return {
    nativePump: {
      handedOff: pump.counts.handedOff,
      fallbacks: Object.fromEntries(pump.counts.fallbacks),
      connections: thread.connections,
      pipes: thread.pipes,
      sparePipes: thread.sparePipes,
      pipeFailures: thread.pipeFailures,
      copiedChunks: thread.copiedChunks,
    },
  };
}

export class LocalModel implements AdminModel {
  readonly events = new EventEmitter<AdminEvents>();
  private readonly loop = new EventLoopDelay();

  private readonly onReload = (e: SvcproxyEvents['reload'][0]): void => void this.events.emit('reload', { ...e, errors: [...e.errors] });
  private readonly onListener = (e: SvcproxyEvents['listener'][0]): void => void this.events.emit('listener', { ...e });
  private readonly onReadiness = (e: SvcproxyEvents['readiness'][0]): void =>
    void this.events.emit('readiness', { pod: e.pod, ready: e.ready, reason: e.reason, services: [...e.plan.services] });
  private readonly onToxics = (): void => void this.events.emit('toxics', {});
  private readonly onPods = (): void => void this.events.emit('pods', {});

  /** Starts sampling event-loop delay at once: what the first scrape reports. */
  constructor(
    private readonly source: AdminSource,
    private readonly extras: { readonly accessLog?: AccessLogCounters } = {},
  ) {
    this.loop.start();
    source.events.on('reload', this.onReload);
    source.events.on('listener', this.onListener);
    source.events.on('readiness', this.onReadiness);
    source.events.on('toxics', this.onToxics);
    source.events.on('pods', this.onPods);
  }

  async snapshot(purpose: SnapshotPurpose): Promise<AdminSnapshot> {
    const { status } = this.source;
    const servicePorts = servicePortSnapshots(this.source);
    const config = configView(this.source);
    return {
      servicePorts,
      services: serviceViews(this.source),
      pods: podViews(this.source),
      config,
      reloads: { successes: status.successes, failures: status.failures, lastSuccessAt: status.lastSuccessAt, lastResult: status.lastResult },
      process: await sampleProcess(this.loop, purpose === 'metrics'),
      ...(this.extras.accessLog === undefined ? {} : { accessLog: { written: this.extras.accessLog.written, dropped: this.extras.accessLog.dropped } }),
      toxicCounters: (this.source.faults?.counterEntries() ?? []).map((e) => ({ ...e, counters: { ...e.counters } })),
      ...nativePumpStats(this.source.nativePump),
      ...(this.source.cluster === undefined ? {} : { cluster: this.source.cluster() }),
      ...(this.source.portForwarder === undefined ? {} : { portForward: this.source.portForwarder.stats() }),
    };
  }

  /** Stops sampling and listening to the proxy's events. */
  close(): void {
    this.loop.stop();
    this.source.events.off('reload', this.onReload);
    this.source.events.off('listener', this.onListener);
    this.source.events.off('readiness', this.onReadiness);
    this.source.events.off('toxics', this.onToxics);
    this.source.events.off('pods', this.onPods);
  }
}
