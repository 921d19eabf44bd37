/**
 * The localhost rule: which Service ports are also published on the bind
 * address (`--bind-address`, 127.0.0.1 by default, and its counterpart in the
 * other family), so that `127.0.0.1:<port>` keeps working where it is not
 * ambiguous. Every Service is always reachable on its own address; this rule
 * only adds listeners, so it can never make a config invalid.
 *
 * A Service port is published on the bind address at (protocol, port) when
 *  1. it is the only Service port that wants that (protocol, address, port), and
 *  2. no listener that must be bound (a clusterIP, nodePort, load balancer or
 *     external IP listener, or svcproxy's admin server) overlaps it.
 * Otherwise none of the contenders gets it. Pure, and independent of the order
 * of files and documents: the same Services always give the same answer.
 *
 * A wildcard bind address (0.0.0.0, as in the container image) also accepts
 * connections to the Service's own loopback address; the Service's own
 * listener on that port is then left out (the wildcard serves it), since the
 * kernel would refuse to bind both.
 */
import { ipFamily } from '../config/fields.js';
import { hostPort, type ListenerRole } from './types.js';

/** A listener that must be bound, as the rule sees it. */
export interface BoundClaim {
  readonly owner: string;
  readonly protocol: string;
  readonly address: string;
  readonly port: number;
  readonly role: ListenerRole;
  /** Who holds it, for messages: `Service default/web spec.ports[0] (clusterIP 127.96.1.2:80/TCP)`. */
  readonly label: string;
}

/** A Service port that would like the bind address. */
export interface LocalhostCandidate {
  /** The Service port key. */
  readonly owner: string;
  readonly protocol: string;
  readonly address: string;
  readonly port: number;
  /** `default/web`, for messages. */
  readonly service: string;
}

export interface LocalhostDecision {
  readonly candidate: LocalhostCandidate;
  readonly granted: boolean;
  /** Why not ('' when granted). */
  readonly reason: string;
  /** Own claims the granted wildcard listener serves instead (left unbound). */
  readonly covers: readonly BoundClaim[];
}

/**
 * Equal addresses, or a wildcard and an address of its family (`::` is bound
 * IPv6-only, so it takes no IPv4 address).
 */
export function overlaps(a: string, b: string): boolean {
  if (a === b) return true;
  const wildcard = (w: string, other: string): boolean => (w === '0.0.0.0' && ipFamily(other) === 4) || (w === '::' && ipFamily(other) === 6);
  return wildcard(a, b) || wildcard(b, a);
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

export function decideLocalhost(candidates: readonly LocalhostCandidate[], bound: readonly BoundClaim[]): LocalhostDecision[] {
  const groups = new Map<string, LocalhostCandidate[]>();
  for (const c of candidates) {
    const id = `${c.protocol} ${hostPort(c.address, c.port)}`;
    groups.set(id, [...(groups.get(id) ?? []), c]);
  }
  const decisions: LocalhostDecision[] = [];
  for (const group of groups.values()) {
    const services = [...new Set(group.map((c) => c.service))].sort();
    for (const candidate of group) {
      const where = `${hostPort(candidate.address, candidate.port)}/${candidate.protocol}`;
      if (group.length > 1) {
        const others = services.filter((s) => s !== candidate.service);
        const list =
          others.length === 1 ? `Service ${others[0] ?? ''} uses` : `Services ${others.slice(0, -1).join(', ')} and ${others[others.length - 1] ?? ''} use`;
        const reason =
          others.length === 0 ? `not published on ${where}: two ports of this Service want it` : `not published on ${where}: ${list} the same port`;
        decisions.push({ candidate, granted: false, reason, covers: [] });
        continue;
      }
      const clashing = bound.filter((b) => b.protocol === candidate.protocol && b.port === candidate.port && overlaps(b.address, candidate.address));
      const covers = isWildcard(candidate.address) ? clashing.filter((b) => b.owner === candidate.owner && b.role === 'clusterIP') : [];
      const blocker = clashing.find((b) => !covers.includes(b));
      if (blocker !== undefined) {
        decisions.push({ candidate, granted: false, reason: `not published on ${where}: taken by ${blocker.label}`, covers: [] });
        continue;
      }
      decisions.push({ candidate, granted: true, reason: '', covers });
    }
  }
  return decisions;
}
