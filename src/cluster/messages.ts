/**
 * The IPC messages between the --workers primary and its workers (node:cluster's
 * channel, JSON-serialized). Plain data only. The primary asks each worker for a
 * snapshot of its admin model; workers report that they started and forward
 * their events.
 */
import type { AdminEvents, AdminSnapshot, SnapshotPurpose } from '../admin/model.js';

export type EventName = keyof AdminEvents;

/** Primary -> worker. */
export interface SnapshotRequest {
  readonly type: 'svcproxy:snapshot-request';
  readonly id: number;
  readonly purpose: SnapshotPurpose;
}

/** Worker -> primary. */
export type WorkerMessage =
  | { readonly type: 'svcproxy:started' }
  | { readonly type: 'svcproxy:snapshot'; readonly id: number; readonly snapshot: AdminSnapshot }
  | { readonly [E in EventName]: { readonly type: 'svcproxy:event'; readonly name: E; readonly event: AdminEvents[E][0] } }[EventName];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function isSnapshotRequest(msg: unknown): msg is SnapshotRequest {
  return (
    isRecord(msg) && msg['type'] === 'svcproxy:snapshot-request' && typeof msg['id'] === 'number' && (msg['purpose'] === 'view' || msg['purpose'] === 'metrics')
  );
}

/** A message from one of our workers (anything else on the channel is ignored). */
export function isWorkerMessage(msg: unknown): msg is WorkerMessage {
  if (!isRecord(msg)) return false;
  switch (msg['type']) {
    case 'svcproxy:started':
      return true;
    case 'svcproxy:snapshot':
      return typeof msg['id'] === 'number' && isRecord(msg['snapshot']);
    case 'svcproxy:event':
      return (
        (msg['name'] === 'reload' || msg['name'] === 'listener' || msg['name'] === 'readiness' || msg['name'] === 'toxics' || msg['name'] === 'pods') &&
        isRecord(msg['event'])
      );
    default:
      return false;
  }
}
