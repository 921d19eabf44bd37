/**
 * The cluster's DNS records as the Kubernetes DNS specification (schema
 * 1.1.0) lays them out, built from ServiceInfo: pure data in, a lookup table
 * out, rebuilt whole on every reload and readiness change (answers never
 * read a half-updated table).
 *
 *   <svc>.<ns>.svc.<zone>              A/AAAA = the Service's addresses (headless: ready endpoints)
 *   _<port>._<proto>.<svc>.<ns>.svc.<zone>  SRV for each named port
 *   <host>.<svc>.<ns>.svc.<zone>       A/AAAA of a headless endpoint (its hostname, or its dashed IP)
 *   <reversed IP>.in-addr.arpa / ip6.arpa   PTR back to those names
 *   <svc>.<ns>.svc.<zone>              CNAME for an ExternalName Service
 *   dns-version.<zone>                 TXT "1.1.0"
 *
 * Owner names are stored lower-case without the trailing dot. Pod records and
 * StatefulSet names plug in as more ServiceInfo endpoints (hostnames).
 */
import type { Answer, OptAnswer, SoaData } from 'dns-packet';
import { currentConditions } from '../state/endpoints.js';
import type { EndpointName, ServiceInfo } from '../state/types.js';

/** What the answering code needs to know of the zone. */
export interface ZoneOptions {
  /** `--cluster-domain`, e.g. `cluster.local` (no trailing dot). */
  readonly domain: string;
  /** Seconds; CoreDNS's default and minimum is 5, short enough for answers to follow reloads. */
  readonly ttl: number;
  /** The namespace a bare `<svc>` is looked up in first (a Pod's own namespace in a cluster). */
  readonly namespace: string;
  /** Addresses whose reverse names are ours even when unknown (answered NXDOMAIN, not REFUSED). */
  readonly ownsAddress: (ip: string) => boolean;
}

const SPEC_VERSION = '1.1.0';

/** A resource record of the zone (an OPT pseudo-record never is one). */
type ZoneRecord = Exclude<Answer, OptAnswer>;

export interface Zone {
  readonly options: ZoneOptions;
  /** Records by owner name (lower-case, no trailing dot). */
  readonly records: ReadonlyMap<string, readonly ZoneRecord[]>;
  /** Every name that exists, including empty non-terminals (`svc.<zone>`). */
  readonly names: ReadonlySet<string>;
  /** Service name -> the namespaces that have one, for a bare `<svc>` outside the default namespace. */
  readonly byServiceName: ReadonlyMap<string, readonly string[]>;
  readonly soa: ZoneRecord;
}

/** `10.1.2.3` -> `3.2.1.10.in-addr.arpa`; IPv6 -> 32 reversed nibbles under `ip6.arpa`. '' when not an IP. */
export function reverseName(ip: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const hex = expandIpv6(ip);
  return hex === '' ? '' : `${hex.split('').reverse().join('.')}.ip6.arpa`;
}

/** The 32 hex digits of an IPv6 address, '' when it is not one. */
export function expandIpv6(ip: string): string {
  let text = ip.toLowerCase();
  const v4 = /^(.*:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (v4 !== null) {
    const octets = (v4[2] ?? '').split('.').map(Number);
    if (octets.some((o) => o > 255)) return '';
    const [a = 0, b = 0, c = 0, d = 0] = octets;
    text = `${v4[1] ?? ''}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return '';
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 2 && fill < 1) || (halves.length === 1 && fill !== 0)) return '';
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...tail];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return '';
  return all.map((g) => g.padStart(4, '0')).join('');
}

/** CoreDNS's name for an endpoint without a hostname: its IP with `.` and `:` turned into `-`. */
export function dashedName(ip: string): string {
  return ip.toLowerCase().replace(/[.:]/g, '-');
}

function isIpv6(ip: string): boolean {
  return ip.includes(':');
}

class ZoneBuilder {
  readonly records = new Map<string, ZoneRecord[]>();
  readonly names = new Set<string>();
  readonly byServiceName = new Map<string, string[]>();

  constructor(private readonly options: ZoneOptions) {}

  add(answer: ZoneRecord): void {
    const name = answer.name.toLowerCase();
    const list = this.records.get(name) ?? [];
    // PTRs for one address can come from several Services; keep one of each.
    if (!list.some((a) => a.type === answer.type && JSON.stringify(a.data) === JSON.stringify(answer.data))) list.push({ ...answer, name });
    this.records.set(name, list);
    this.exists(name);
  }

  /** Marks a name and every ancestor up to the zone as existing. */
  exists(name: string): void {
    const zone = this.options.domain;
    let n = name;
    while (n.length > zone.length && n.endsWith(`.${zone}`)) {
      this.names.add(n);
      n = n.slice(n.indexOf('.') + 1);
    }
    this.names.add(n);
  }

  address(name: string, ip: string): void {
    this.add({ name, type: isIpv6(ip) ? 'AAAA' : 'A', ttl: this.options.ttl, class: 'IN', data: ip });
  }

  ptr(ip: string, target: string): void {
    const reverse = reverseName(ip);
    if (reverse !== '') this.add({ name: reverse, type: 'PTR', ttl: this.options.ttl, class: 'IN', data: target });
  }

  srv(name: string, port: number, target: string, weight: number): void {
    this.add({ name, type: 'SRV', ttl: this.options.ttl, class: 'IN', data: { priority: 0, weight, port, target } });
  }
}

export function buildZone(services: Iterable<ServiceInfo>, podReady: (pod: string) => boolean, options: ZoneOptions, serial = 1): Zone {
  const b = new ZoneBuilder(options);
  const { domain, ttl } = options;
  const soaData: SoaData = { mname: `ns.dns.${domain}`, rname: `hostmaster.${domain}`, serial, refresh: 7200, retry: 1800, expire: 86400, minimum: ttl };
  const soa: ZoneRecord = { name: domain, type: 'SOA', ttl, class: 'IN', data: soaData };
  b.add(soa);
  b.add({ name: `dns-version.${domain}`, type: 'TXT', ttl, class: 'IN', data: SPEC_VERSION });
  for (const service of services) {
    b.byServiceName.set(service.name, [...(b.byServiceName.get(service.name) ?? []), service.namespace]);
    const fqdn = `${service.name}.${service.namespace}.svc.${domain}`;
    if (service.type === 'ExternalName') {
      if (service.externalName !== '') b.add({ name: fqdn, type: 'CNAME', ttl, class: 'IN', data: service.externalName });
    } else if (service.headless) addHeadless(b, service, fqdn, podReady);
    else addClusterIP(b, service, fqdn);
  }
  return { options, records: b.records, names: b.names, byServiceName: b.byServiceName, soa };
}

function addClusterIP(b: ZoneBuilder, service: ServiceInfo, fqdn: string): void {
  for (const ip of service.addresses) {
    b.address(fqdn, ip);
    b.ptr(ip, fqdn);
  }
  if (service.ipv6Alias !== '' && !service.addresses.some(isIpv6)) b.address(fqdn, service.ipv6Alias);
  for (const port of service.ports) {
    // The specification gives SRV records to named ports only.
    if (port.name !== '') b.srv(`_${port.name}._${port.protocol.toLowerCase()}.${fqdn}`, port.port, fqdn, 100);
  }
}

/** Ready endpoints only; a headless Service with none has no records at all (NXDOMAIN, as the spec says). */
function addHeadless(b: ZoneBuilder, service: ServiceInfo, fqdn: string, podReady: (pod: string) => boolean): void {
  const ready = service.endpoints.filter((e) => currentConditions(e, podReady, service.publishNotReadyAddresses).ready);
  const hostOf = (e: EndpointName): string => `${e.hostname !== '' ? e.hostname : dashedName(e.address)}.${fqdn}`;
  for (const e of ready) {
    b.address(fqdn, e.address);
    b.address(hostOf(e), e.address);
    b.ptr(e.address, hostOf(e));
  }
  const named = new Map<string, EndpointName[]>();
  for (const e of ready) {
    for (const p of e.ports) {
      const name = `_${p.name}._${p.protocol.toLowerCase()}.${fqdn}`;
      named.set(name, [...(named.get(name) ?? []), e]);
    }
  }
  for (const [name, endpoints] of named) {
    // CoreDNS: weight floor(100 / N) over the N targets of one priority.
    const weight = Math.floor(100 / endpoints.length);
    for (const e of endpoints) {
      const port = e.ports.find((p) => name.startsWith(`_${p.name}._${p.protocol.toLowerCase()}.`))?.port ?? 0;
      b.srv(name, port, hostOf(e), weight);
    }
  }
}
