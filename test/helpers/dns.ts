import { decode, encode, type Answer, type DecodedPacket, type RecordType } from 'dns-packet';
import { answerQuery, type Transport } from '../../src/dns/answer.js';
import { buildZone, type Zone } from '../../src/dns/zone.js';
import { parseLoopbackRange, rangeContains, type Ipv4Range } from '../../src/state/address-allocator.js';
import { desiredState } from '../../src/state/desired.js';
import type { ServiceInfo } from '../../src/state/types.js';
import { validateYaml } from './config.js';

const RANGE = parseLoopbackRange('127.96.0.0/16') as Ipv4Range;

/** The ServiceInfo of a YAML config, as desiredState builds it (bind 127.0.0.1, every 127/8 and ::1 local). */
export function servicesOf(yaml: string): ReadonlyMap<string, ServiceInfo> {
  const { snapshot, issues } = validateYaml(yaml);
  if (issues.length > 0) throw new Error(issues.join('\n'));
  const result = desiredState(snapshot, {
    bindAddress: '127.0.0.1',
    isLocalAddress: (ip) => ip.startsWith('127.') || ip === '::1',
    reserved: [],
    serviceRange: RANGE,
  });
  if (result.issues.length > 0) throw new Error(result.issues.map((i) => i.message).join('\n'));
  return result.state.services;
}

export function zoneOf(yaml: string, podReady: (pod: string) => boolean = () => false): Zone {
  return buildZone(servicesOf(yaml).values(), podReady, {
    domain: 'cluster.local',
    ttl: 5,
    namespace: 'default',
    ownsAddress: (ip) => rangeContains(RANGE, ip),
  });
}

export interface Asked {
  readonly rcode: string;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly answers: readonly Answer[];
  readonly authorities: readonly Answer[];
  readonly additionals: readonly Answer[];
  readonly packet: DecodedPacket;
}

function decodeResponse(response: Buffer): Asked {
  const packet = decode(response) as DecodedPacket & { rcode: string };
  return {
    rcode: packet.rcode,
    aa: packet.flag_aa,
    tc: packet.flag_tc,
    answers: packet.answers ?? [],
    authorities: packet.authorities ?? [],
    additionals: packet.additionals ?? [],
    packet,
  };
}

/** Asks the zone one question over `transport`, as a stub resolver would (RD set, optional EDNS). */
export function ask(zone: Zone, name: string, type: RecordType, options: { transport?: Transport; edns?: number } = {}): Asked {
  const query = encode({
    type: 'query',
    id: 4242,
    flags: 1 << 8,
    questions: [{ name, type, class: 'IN' }],
    additionals:
      options.edns === undefined
        ? []
        : [{ name: '.', type: 'OPT', udpPayloadSize: options.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  });
  const result = answerQuery(query, zone, options.transport ?? 'udp');
  if (result.response === undefined) throw new Error('query dropped');
  return decodeResponse(result.response);
}

/** The data of the answers, sorted, for comparisons. */
export function data(asked: Asked): string[] {
  return asked.answers
    .map((a) => {
      if (a.type === 'OPT') return 'OPT';
      const d: unknown = a.data;
      return `${a.type} ${typeof d === 'string' ? d : Buffer.isBuffer(d) ? d.toString() : Array.isArray(d) ? d.map(String).join('') : JSON.stringify(d)}`;
    })
    .sort();
}
