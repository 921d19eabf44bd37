/**
 * One DNS query in, one response out (or nothing, for input that is not a
 * query at all). Pure: the wire format is decoded and encoded by dns-packet,
 * the records come from a Zone. Never throws: any input gets a FORMERR, a
 * SERVFAIL or is dropped.
 *
 * - names inside the cluster domain: answered authoritatively; an unknown
 *   name is NXDOMAIN, a known name without records of the asked type NODATA,
 *   both with the SOA in the authority section for negative caching;
 * - reverse names (in-addr.arpa, ip6.arpa) of addresses svcproxy hands out:
 *   PTR, or NXDOMAIN inside the service range;
 * - the short forms a Pod's search path would expand (`<svc>`, `<svc>.<ns>`,
 *   `<svc>.<ns>.svc`, `<host>.<svc>`), answered under the name asked;
 * - everything else: REFUSED (svcproxy is not a recursive resolver).
 */
import { decode, encode, RECURSION_DESIRED, type Answer, type DecodedPacket, type Packet } from 'dns-packet';
import type { Zone } from './zone.js';

export type Transport = 'udp' | 'tcp';

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type RcodeName = keyof typeof RCODE;

/** The largest UDP answer: 512 bytes without EDNS; with EDNS what the client offers, up to 1232 (the DNS flag day value). */
const UDP_PLAIN = 512;
const UDP_EDNS_MAX = 1232;
const AUTHORITATIVE = 1 << 10;
const TRUNCATED = 1 << 9;

export interface AnswerResult {
  /** undefined: drop (not a query). */
  readonly response: Buffer | undefined;
  readonly rcode: RcodeName | 'dropped';
}

type Lookup = { readonly kind: 'records'; readonly name: string } | { readonly kind: 'nxdomain' } | { readonly kind: 'refused' };

/** Lower-case, without the trailing dot ('' for the root). */
function canonical(name: string): string {
  const lower = name.toLowerCase();
  return lower === '.' ? '' : lower.replace(/\.$/, '');
}

/** The IP address a reverse name stands for, '' when it is not a whole one. */
function addressOfReverse(name: string): string {
  if (name.endsWith('.in-addr.arpa')) {
    const parts = name.slice(0, -'.in-addr.arpa'.length).split('.');
    return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256) ? parts.reverse().join('.') : '';
  }
  if (name.endsWith('.ip6.arpa')) {
    const nibbles = name.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return '';
    const hex = nibbles.reverse().join('');
    return hex.match(/.{4}/g)?.join(':') ?? '';
  }
  return '';
}

function lookupName(zone: Zone, qname: string): Lookup {
  const name = canonical(qname);
  const domain = zone.options.domain;
  if (name === domain || name.endsWith(`.${domain}`)) {
    return zone.names.has(name) ? { kind: 'records', name } : { kind: 'nxdomain' };
  }
  if (name.endsWith('.in-addr.arpa') || name.endsWith('.ip6.arpa')) {
    if (zone.records.has(name)) return { kind: 'records', name };
    const ip = addressOfReverse(name);
    return ip !== '' && zone.options.ownsAddress(ip) ? { kind: 'nxdomain' } : { kind: 'refused' };
  }
  if (name === '') return { kind: 'refused' };
  // A Pod's search path: <ns>.svc.<zone>, svc.<zone>, <zone>, in that order.
  for (const suffix of [`${zone.options.namespace}.svc.${domain}`, `svc.${domain}`, domain]) {
    const full = `${name}.${suffix}`;
    if (zone.names.has(full)) return { kind: 'records', name: full };
  }
  // A bare Service name not in the default namespace: the one namespace that has it, if there is only one.
  const labels = name.split('.');
  const last = labels[labels.length - 1] ?? '';
  const namespaces = zone.byServiceName.get(last) ?? [];
  if (labels.length <= 2 && namespaces.length === 1) {
    const full = `${name}.${namespaces[0] ?? ''}.svc.${domain}`;
    if (zone.names.has(full)) return { kind: 'records', name: full };
  }
  return { kind: 'refused' };
}

/** Records of `type` at `name`; a CNAME answers every type but CNAME's own queries too. */
function recordsOf(zone: Zone, name: string, type: string): Answer[] {
  const all = zone.records.get(name) ?? [];
  if (type === 'ANY') return [...all];
  const exact = all.filter((a) => a.type === type);
  if (exact.length > 0) return exact;
  return all.filter((a) => a.type === 'CNAME');
}

/** A/AAAA of SRV targets, for the additional section. */
function targetAddresses(zone: Zone, answers: readonly Answer[]): Answer[] {
  const out: Answer[] = [];
  for (const a of answers) {
    if (a.type !== 'SRV') continue;
    for (const r of zone.records.get(canonical(a.data.target)) ?? []) if (r.type === 'A' || r.type === 'AAAA') out.push(r);
  }
  return out;
}

function header(id: number, opcode: number, rd: boolean, rcode: number, extra = 0): Packet {
  return { type: 'response', id, flags: (opcode << 11) | (rd ? RECURSION_DESIRED : 0) | rcode | extra };
}

/** A response carrying only the header and the question: for FORMERR, NOTIMP, REFUSED. */
function bare(id: number, opcode: number, rd: boolean, rcode: RcodeName, questions: Packet['questions'] = []): AnswerResult {
  return { response: encode({ ...header(id, opcode, rd, RCODE[rcode]), questions }), rcode };
}

function optOf(query: DecodedPacket): { udpPayloadSize: number } | undefined {
  for (const a of query.additionals ?? []) if (a.type === 'OPT') return { udpPayloadSize: a.udpPayloadSize };
  return undefined;
}

/** The smallest question on the wire: the root name (1 byte), type and class. */
const MIN_QUESTION_BYTES = 5;
/** The smallest resource record: the root name, type, class, TTL and RDLENGTH (an empty RDATA). */
const MIN_RECORD_BYTES = 11;
const HEADER_BYTES = 12;

/**
 * Whether the header's four counts can fit in the message at all: each
 * question takes at least 5 bytes, each record at least 11. dns-packet sizes
 * its arrays from the counts before it reads a byte of them, so a 12-byte
 * message claiming 4 x 65535 entries would cost megabytes; this check runs
 * first, on the header alone.
 */
function countsFit(message: Buffer): boolean {
  const questions = message.readUInt16BE(4);
  const records = message.readUInt16BE(6) + message.readUInt16BE(8) + message.readUInt16BE(10);
  return HEADER_BYTES + questions * MIN_QUESTION_BYTES + records * MIN_RECORD_BYTES <= message.length;
}

export function answerQuery(message: Buffer, zone: Zone, transport: Transport): AnswerResult {
  if (message.length < HEADER_BYTES) return { response: undefined, rcode: 'dropped' };
  const id = message.readUInt16BE(0);
  const flags = message.readUInt16BE(2);
  const opcode = (flags >> 11) & 0xf;
  const rd = (flags & RECURSION_DESIRED) !== 0;
  // A response is never answered: that is how two servers would loop.
  if ((flags & 0x8000) !== 0) return { response: undefined, rcode: 'dropped' };
  // Counts the message cannot hold: FORMERR from the header alone, never decoded (as CoreDNS and Unbound answer a header they reject).
  if (!countsFit(message)) return bare(id, opcode, rd, 'FORMERR');
  let query: DecodedPacket;
  try {
    query = decode(message);
  } catch {
    return bare(id, opcode, rd, 'FORMERR');
  }
  try {
    return respond(query, { id, opcode, rd }, zone, transport);
  } catch {
    // A bug of ours, not the client's: answer SERVFAIL rather than leave it waiting.
    return bare(id, opcode, rd, 'SERVFAIL');
  }
}

/** What an answer repeats of the query's header. */
interface QueryHead {
  readonly id: number;
  readonly opcode: number;
  /** Recursion desired. */
  readonly rd: boolean;
}

function respond(query: DecodedPacket, { id, opcode, rd }: QueryHead, zone: Zone, transport: Transport): AnswerResult {
  const questions = query.questions ?? [];
  if (opcode !== 0) return bare(id, opcode, rd, 'NOTIMP', questions.slice(0, 1));
  const question = questions[0];
  if (questions.length !== 1 || question === undefined) return bare(id, opcode, rd, 'FORMERR');
  if (question.class !== undefined && question.class !== 'IN' && question.class !== 'ANY') return bare(id, opcode, rd, 'REFUSED', questions);
  const opt = optOf(query);
  const lookup = lookupName(zone, question.name);
  if (lookup.kind === 'refused') return bare(id, opcode, rd, 'REFUSED', questions);

  let rcode: RcodeName = 'NOERROR';
  let answers: Answer[] = [];
  if (lookup.kind === 'nxdomain') rcode = 'NXDOMAIN';
  else answers = recordsOf(zone, lookup.name, question.type).map((a) => ({ ...a, name: question.name }));
  const authorities = answers.length === 0 ? [zone.soa] : [];
  const additionals: Answer[] = targetAddresses(zone, answers);
  if (opt !== undefined)
    additionals.push({ name: '.', type: 'OPT', udpPayloadSize: UDP_EDNS_MAX, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] });
  // Every answer that is not REFUSED comes from the zone svcproxy is the authority for.
  const aa = AUTHORITATIVE;
  const packet: Packet = { ...header(id, opcode, rd, RCODE[rcode], aa), questions, answers, authorities, additionals };
  const response = encode(packet);
  const limit = transport === 'tcp' ? 65535 : opt === undefined ? UDP_PLAIN : Math.max(UDP_PLAIN, Math.min(opt.udpPayloadSize, UDP_EDNS_MAX));
  if (response.length <= limit) return { response, rcode };
  // Too big for this datagram: say so (TC), and the client retries over TCP.
  const cut: Packet = { ...header(id, opcode, rd, RCODE[rcode], aa | TRUNCATED), questions, additionals: additionals.filter((a) => a.type === 'OPT') };
  return { response: encode(cut), rcode };
}
