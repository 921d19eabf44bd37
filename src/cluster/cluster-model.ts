/**
 * The admin model of a --workers set, in the primary: it asks every worker
 * for a snapshot of its own model over IPC (at each admin request, and once
 * a second in the background so that little is lost when a worker dies),
 * and serves the aggregate (admin/aggregate.ts). A worker that does not
 * answer within `timeoutMs` is reported from its previous answer, marked
 * stale. When a worker exits, its last answer's counters are kept (Retired),
 * so the sums never go down; its replacement counts from zero on top.
 */
import { EventEmitter } from 'node:events';
import { aggregate, Retired, type WorkerInput } from '../admin/aggregate.js';
import type { AdminEvents, AdminModel, AdminSnapshot, ReloadCounters, SnapshotPurpose } from '../admin/model.js';
import { EventLoopDelay, sampleProcess } from '../admin/process-metrics.js';
import { isWorkerMessage, type SnapshotRequest, type WorkerMessage } from './messages.js';

/** The part of a cluster Worker the model uses. */
export interface WorkerLink {
  readonly process: { readonly pid?: number | undefined };
  send(message: SnapshotRequest): boolean;
  isConnected(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

interface Slot {
  readonly worker: number;
  link: WorkerLink;
  state: WorkerInput['state'];
  startedAt: number;
  restarts: number;
  snapshot: AdminSnapshot | undefined;
  stale: boolean;
}

export interface ClusterModelOptions {
  /** --workers. */
  readonly expected: number;
  /** --config, reported before any worker has answered. */
  readonly configPath: string;
  /** How long a worker has to answer a snapshot request. Default 1000 ms. */
  readonly timeoutMs?: number;
  /** Background refresh period. Default 1000 ms; 0 = none. */
  readonly pollMs?: number;
}

export class ClusterModel implements AdminModel {
  readonly events = new EventEmitter<AdminEvents>();
  /** Set when the set is stopping: readiness then says draining. */
  draining = false;
  private readonly slots = new Map<number, Slot>();
  private readonly retired = new Retired();
  private readonly loop = new EventLoopDelay();
  private readonly pending = new Map<number, (snapshot: AdminSnapshot | undefined) => void>();
  private nextId = 1;
  /** Reload counters reported so far: a restarted worker's lower counts never make them go down. */
  private reloadFloor: ReloadCounters = { successes: 0, failures: 0, lastSuccessAt: 0, lastResult: 'none' };
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ClusterModelOptions) {
    this.loop.start();
    const pollMs = options.pollMs ?? 1000;
    if (pollMs > 0) {
      this.timer = setInterval(() => void this.refresh('view'), pollMs);
      this.timer.unref();
    }
  }

  /** A worker was forked into `slot`: its first start, or a restart after an exit. */
  attach(slot: number, link: WorkerLink): void {
    const previous = this.slots.get(slot);
    this.slots.set(slot, {
      worker: slot,
      link,
      state: 'starting',
      startedAt: Date.now(),
      restarts: previous === undefined ? 0 : previous.restarts + 1,
      snapshot: undefined,
      stale: false,
    });
    link.on('message', (message) => {
      if (isWorkerMessage(message)) this.onMessage(slot, link, message);
    });
  }

  /** The worker in `slot` exited: its counters are kept; `replaced` says whether a new one is coming. */
  exited(slot: number, replaced: boolean): void {
    const s = this.slots.get(slot);
    if (s === undefined) return;
    if (s.snapshot !== undefined) this.retired.add(s.snapshot);
    s.snapshot = undefined;
    s.state = 'restarting';
    if (!replaced) this.slots.delete(slot);
  }

  private onMessage(slot: number, link: WorkerLink, message: WorkerMessage): void {
    const s = this.slots.get(slot);
    if (s === undefined || s.link !== link) return; // from a worker that has since been replaced
    switch (message.type) {
      case 'svcproxy:started':
        s.state = 'running';
        return;
      case 'svcproxy:snapshot':
        this.pending.get(message.id)?.(message.snapshot);
        return;
      case 'svcproxy:event':
        (this.events.emit as (name: string, event: unknown) => boolean)(message.name, { ...message.event, worker: slot });
        return;
    }
  }

  /** Asks every live worker for its snapshot; a worker that does not answer in time keeps its previous one. */
  private async refresh(purpose: SnapshotPurpose): Promise<void> {
    const timeoutMs = this.options.timeoutMs ?? 1000;
    const asks = [...this.slots.values()]
      .filter((s) => s.state !== 'restarting' && s.link.isConnected())
      .map(async (s) => {
        const link = s.link;
        const answer = await this.ask(link, purpose, timeoutMs);
        if (s.link !== link || s.state === 'restarting') return; // replaced or exited meanwhile
        if (answer === undefined) s.stale = s.snapshot !== undefined;
        else {
          s.snapshot = answer;
          s.stale = false;
        }
      });
    await Promise.all(asks);
  }

  private ask(link: WorkerLink, purpose: SnapshotPurpose, timeoutMs: number): Promise<AdminSnapshot | undefined> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const done = (snapshot: AdminSnapshot | undefined): void => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(snapshot);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.pending.set(id, done);
      try {
        link.send({ type: 'svcproxy:snapshot-request', id, purpose });
      } catch {
        done(undefined); // the channel closed under us: the worker is exiting
      }
    });
  }

  async snapshot(purpose: SnapshotPurpose): Promise<AdminSnapshot> {
    await this.refresh(purpose);
    const workers: WorkerInput[] = [...this.slots.values()]
      .sort((a, b) => a.worker - b.worker)
      .map((s) => ({
        worker: s.worker,
        pid: s.link.process.pid ?? 0,
        state: s.state,
        startedAt: s.startedAt,
        restarts: s.restarts,
        snapshot: s.snapshot,
        stale: s.stale,
      }));
    const result = aggregate({
      workers,
      expected: this.options.expected,
      retired: this.retired,
      primary: await sampleProcess(this.loop, purpose === 'metrics'),
      draining: this.draining,
      configPath: this.options.configPath,
    });
    if (workers.some((w) => w.snapshot !== undefined)) this.retired.retain(new Set(result.servicePorts.map((s) => s.view.key)));
    const reloads: ReloadCounters = {
      successes: Math.max(this.reloadFloor.successes, result.reloads.successes),
      failures: Math.max(this.reloadFloor.failures, result.reloads.failures),
      lastSuccessAt: Math.max(this.reloadFloor.lastSuccessAt, result.reloads.lastSuccessAt),
      lastResult: result.reloads.lastResult === 'none' ? this.reloadFloor.lastResult : result.reloads.lastResult,
    };
    this.reloadFloor = reloads;
    return { ...result, reloads, config: { ...result.config, reloads: { success: reloads.successes, failure: reloads.failures } } };
  }

  close(): void {
    clearInterval(this.timer);
    this.loop.stop();
    for (const done of this.pending.values()) done(undefined);
  }
}
