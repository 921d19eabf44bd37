/**
 * NodePort allocation for ports that leave `nodePort` out, as the API
 * server's allocator would, but deterministic and stable: a Service port
 * keeps the port it had on the previous reload, and otherwise starts from a
 * hash of its identity (so a restart usually gives the same port too), then
 * takes the next free one in the range.
 */
import { NODE_PORT_MAX, NODE_PORT_MIN } from '../config/service.js';
import type { Protocol } from '../config/types.js';

export type NodePortKey = string;

export function nodePortKey(servicePort: string, protocol: Protocol): NodePortKey {
  return `${servicePort}/${protocol}`;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h;
}

export class NodePortAllocator {
  private readonly taken = new Set<string>(); // `${port}/${protocol}`
  readonly allocated = new Map<NodePortKey, number>();

  /** @param previous what the last applied state allocated, so allocations survive reloads. */
  constructor(private readonly previous: ReadonlyMap<NodePortKey, number>) {}

  /** Ports written in manifests are taken first, so an allocation never steals one. */
  reserve(port: number, protocol: Protocol): void {
    this.taken.add(`${port}/${protocol}`);
  }

  /** Returns a free port for `key`, or undefined when the range is exhausted. */
  allocate(key: NodePortKey, protocol: Protocol): number | undefined {
    const size = NODE_PORT_MAX - NODE_PORT_MIN + 1;
    const before = this.previous.get(key);
    const start = before !== undefined && !this.taken.has(`${before}/${protocol}`) ? before - NODE_PORT_MIN : hash(key) % size;
    for (let i = 0; i < size; i++) {
      const port = NODE_PORT_MIN + ((start + i) % size);
      if (this.taken.has(`${port}/${protocol}`)) continue;
      this.taken.add(`${port}/${protocol}`);
      this.allocated.set(key, port);
      return port;
    }
    return undefined;
  }
}
