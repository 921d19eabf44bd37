/**
 * The addressing fields of a Service: dual-stack (clusterIPs, ipFamilies,
 * ipFamilyPolicy), load balancer ingress addresses and source ranges.
 */
import { ipFamily, isRecord, optionalList, optionalRecord, optionalString, type IssueSink, type JsonRecord } from './fields.js';
import type { IpFamilyName, ServiceType } from './types.js';

const SOURCE_RANGES_ANNOTATION = 'service.beta.kubernetes.io/load-balancer-source-ranges';
const FAMILIES: readonly IpFamilyName[] = ['IPv4', 'IPv6'];
const POLICIES = ['SingleStack', 'PreferDualStack', 'RequireDualStack'];

/** `a.b.c.d/n` or `v6/n`, with n within the family's width. */
function isCidr(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash === -1) return false;
  const family = ipFamily(text.slice(0, slash));
  const bitsText = text.slice(slash + 1);
  const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : -1;
  return family !== 0 && bits >= 0 && bits <= (family === 4 ? 32 : 128);
}

export interface ServiceNetwork {
  /** The families to listen on, in order (the first is the Service's primary family). */
  readonly families: readonly IpFamilyName[];
  /** clusterIPs beyond the first (a dual-stack Service's second family). */
  readonly secondaryClusterIP: string;
  readonly loadBalancerIPs: readonly string[];
  readonly sourceRanges: readonly string[];
}

/** What the network fields are read from: the manifest, and what service.ts has already read of it. */
export interface ServiceNetworkInput {
  readonly spec: JsonRecord;
  /** The whole manifest (for status.loadBalancer). */
  readonly raw: JsonRecord;
  readonly type: ServiceType;
  /** The validated primary clusterIP ('' or 'None' or an IP). */
  readonly clusterIP: string;
  readonly annotations: Readonly<Record<string, string>>;
}

/**
 * A Service that says nothing about families returns `families: []`: it is
 * single-stack in the family of `--bind-address` (decided in state/).
 */
export function readServiceNetwork({ spec, raw, type, clusterIP, annotations }: ServiceNetworkInput, sink: IssueSink): ServiceNetwork {
  const families: IpFamilyName[] = [];
  optionalList(spec, 'ipFamilies', 'spec.ipFamilies', sink).forEach((f, i) => {
    if (typeof f !== 'string' || !(FAMILIES as readonly string[]).includes(f)) sink.unsupported(`spec.ipFamilies[${i}]`, f, FAMILIES);
    else if (families.includes(f as IpFamilyName)) sink.duplicate(`spec.ipFamilies[${i}]`, f);
    else families.push(f as IpFamilyName);
  });
  if (families.length > 2) sink.invalid('spec.ipFamilies', families, 'may specify no more than one IP for each IP family');
  const policy = optionalString(spec, 'ipFamilyPolicy', 'spec.ipFamilyPolicy', sink) ?? '';
  if (policy !== '' && !POLICIES.includes(policy)) sink.unsupported('spec.ipFamilyPolicy', policy, POLICIES);

  const clusterIPs = optionalList(spec, 'clusterIPs', 'spec.clusterIPs', sink);
  const second = typeof clusterIPs[1] === 'string' ? clusterIPs[1] : '';
  if (second !== '') {
    if (ipFamily(second) === 0) sink.invalid('spec.clusterIPs[1]', second, 'must be a valid IP address');
    else if (ipFamily(second) === ipFamily(clusterIP)) sink.invalid('spec.clusterIPs[1]', second, 'may specify no more than one IP for each IP family');
  }
  const fromIPs = [clusterIP, second]
    .map((ip) => ipFamily(ip))
    .filter((f) => f !== 0)
    .map((f): IpFamilyName => (f === 4 ? 'IPv4' : 'IPv6'));
  for (const f of fromIPs) if (!families.includes(f)) families.push(f);
  if (policy === 'SingleStack' && families.length > 1) {
    sink.invalid('spec.ipFamilyPolicy', policy, 'must be RequireDualStack or PreferDualStack when multiple IP families are specified');
  }
  // Dual-stack asked for without saying which families: both, IPv4 first (the cluster default order).
  if ((policy === 'RequireDualStack' || policy === 'PreferDualStack') && families.length < 2) {
    for (const f of FAMILIES) if (!families.includes(f)) families.push(f);
  }

  const loadBalancerIPs: string[] = [];
  const status = optionalRecord(raw, 'status', 'status', sink);
  const lb = status === undefined ? undefined : optionalRecord(status, 'loadBalancer', 'status.loadBalancer', sink);
  (lb === undefined ? [] : optionalList(lb, 'ingress', 'status.loadBalancer.ingress', sink)).forEach((entry, i) => {
    const ip = isRecord(entry) ? entry['ip'] : undefined;
    if (ip === undefined) return; // hostname-only ingress: nothing to listen on
    if (typeof ip !== 'string' || ipFamily(ip) === 0) sink.invalid(`status.loadBalancer.ingress[${i}].ip`, ip, 'must be a valid IP address');
    else loadBalancerIPs.push(ip);
  });
  return { families, secondaryClusterIP: second, loadBalancerIPs, sourceRanges: readSourceRanges(spec, type, annotations, sink) };
}

/** The spec field wins; the legacy annotation is read only when the field is empty (GetLoadBalancerSourceRanges). */
function readSourceRanges(spec: JsonRecord, type: ServiceType, annotations: Readonly<Record<string, string>>, sink: IssueSink): string[] {
  const list = optionalList(spec, 'loadBalancerSourceRanges', 'spec.loadBalancerSourceRanges', sink);
  const annotation = annotations[SOURCE_RANGES_ANNOTATION];
  if (list.length === 0 && annotation === undefined) return [];
  const path = list.length > 0 ? 'spec.loadBalancerSourceRanges' : `metadata.annotations[${SOURCE_RANGES_ANNOTATION}]`;
  if (type !== 'LoadBalancer') sink.forbidden(path, "may only be used when `type` is 'LoadBalancer'");
  const ranges = list.length > 0 ? list : (annotation ?? '').split(',');
  const out: string[] = [];
  let bad = false;
  for (const r of ranges) {
    const text = typeof r === 'string' ? r.trim() : '';
    if (!isCidr(text)) bad = true;
    else out.push(text);
  }
  if (bad) {
    const shown = list.length > 0 ? `[${list.map(String).join(' ')}]` : (annotation ?? '');
    sink.invalid(path, shown, 'must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 ');
  }
  return out;
}
