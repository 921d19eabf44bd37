/**
 * The worker's side of the --workers IPC channel: answers the primary's
 * snapshot requests from this worker's admin model and forwards its events,
 * so that the primary can serve one admin surface for the whole set. A
 * channel that has closed (the primary is gone) is not written to.
 */
import type { AdminEvents, AdminModel } from '../admin/model.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { isSnapshotRequest, type EventName, type SnapshotRequest, type WorkerMessage } from './messages.js';

/** Where messages go: process.send in a worker; tests pass their own. */
export interface Channel {
  send(message: WorkerMessage): void;
  on(event: 'message', listener: (message: unknown) => void): void;
  off(event: 'message', listener: (message: unknown) => void): void;
}

/** This process's IPC channel to the primary. */
const processChannel: Channel = {
  send: (message) => {
    if (process.connected) process.send?.(message);
  },
  on: (event, listener) => void process.on(event, listener),
  off: (event, listener) => void process.off(event, listener),
};

const EVENT_NAMES: readonly EventName[] = ['reload', 'listener', 'readiness', 'toxics', 'pods'];

export class WorkerAgent {
  private readonly forwarders = new Map<EventName, (event: AdminEvents[EventName][0]) => void>();
  private readonly onMessage = (message: unknown): void => {
    if (isSnapshotRequest(message)) void this.answer(message);
  };

  constructor(
    private readonly model: AdminModel,
    private readonly log: Logger,
    private readonly channel: Channel = processChannel,
  ) {
    channel.on('message', this.onMessage);
    for (const name of EVENT_NAMES) {
      const forward = (event: AdminEvents[EventName][0]): void => this.channel.send({ type: 'svcproxy:event', name, event } as WorkerMessage);
      this.forwarders.set(name, forward);
      model.events.on(name, forward);
    }
  }

  /** Tells the primary this worker has applied its config and bound its listeners. */
  started(): void {
    this.channel.send({ type: 'svcproxy:started' });
  }

  private async answer(request: SnapshotRequest): Promise<void> {
    try {
      this.channel.send({ type: 'svcproxy:snapshot', id: request.id, snapshot: await this.model.snapshot(request.purpose) });
    } catch (err: unknown) {
      // The primary times the request out and uses this worker's previous answer.
      this.log.error({ err: errorMessage(err) }, 'admin snapshot for the primary failed');
    }
  }

  close(): void {
    this.channel.off('message', this.onMessage);
    for (const [name, forward] of this.forwarders) this.model.events.off(name, forward);
    this.forwarders.clear();
  }
}
