/**
 * Names for the running svcproxy: the DNS zone (and its server, with
 * `--dns-address`) and the hosts-file block (with `--hosts-file`), both
 * rebuilt from the applied ServiceInfo on every reload and on every
 * readiness change (headless Services list ready endpoints only).
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { parseLoopbackRange, rangeContains } from '../state/address-allocator.js';
import type { ServiceInfo } from '../state/types.js';
import { hostsBlockLines, updateHostsFile } from './hosts-file.js';
import { DNS_DEFAULTS, DnsServer } from './server.js';
import { buildZone, type Zone, type ZoneOptions } from './zone.js';

export interface NameOptions {
  readonly dnsAddress: { readonly host: string; readonly port: number } | undefined;
  readonly clusterDomain: string;
  readonly hostsFile: string;
  readonly serviceCidr: string;
}

/** Answer TTL in seconds: CoreDNS's default, short enough that clients see reloads soon. */
const DNS_TTL_SECONDS = 5;

export class NameService {
  readonly dns: DnsServer | undefined;
  private services: ReadonlyMap<string, ServiceInfo> = new Map();
  private zone: Zone;
  private serial = 0;
  private readonly zoneOptions: ZoneOptions;
  /** Hosts-file writes run one at a time, in order. */
  private writing: Promise<void> = Promise.resolve();
  private wroteHosts = false;

  /**
   * @param enabled false in cluster workers other than the first: one process answers DNS and writes the file.
   * @param onDnsState called when the DNS server binds, fails or closes (readiness).
   */
  constructor(
    private readonly options: NameOptions,
    private readonly log: Logger,
    private readonly podReady: (pod: string) => boolean,
    private readonly enabled: boolean,
    onDnsState: () => void = () => undefined,
  ) {
    const range = parseLoopbackRange(options.serviceCidr);
    this.zoneOptions = {
      domain: options.clusterDomain,
      ttl: DNS_TTL_SECONDS,
      namespace: 'default',
      ownsAddress: (ip) => typeof range !== 'string' && rangeContains(range, ip),
    };
    this.zone = this.build();
    this.dns = enabled && options.dnsAddress !== undefined ? new DnsServer(this.zone, { ...options.dnsAddress, ...DNS_DEFAULTS }, log, onDnsState) : undefined;
  }

  private build(): Zone {
    this.serial++;
    return buildZone(this.services.values(), this.podReady, this.zoneOptions, this.serial);
  }

  /** The zone answers come from now (for tests and the admin view). */
  get current(): Zone {
    return this.zone;
  }

  /**
   * A new applied config. Rejects when the hosts file cannot be written (the
   * caller decides: fatal at start, a warning on reload).
   */
  async update(services: ReadonlyMap<string, ServiceInfo>): Promise<void> {
    this.services = services;
    await this.refresh();
  }

  /** Readiness changed: headless answers and the hosts block follow. */
  async refresh(): Promise<void> {
    this.zone = this.build();
    this.dns?.setZone(this.zone);
    if (!this.enabled || this.options.hostsFile === '') return;
    const lines = hostsBlockLines(this.services.values(), this.options.clusterDomain, this.podReady);
    await this.writeHosts(lines);
  }

  private writeHosts(lines: readonly string[] | undefined): Promise<void> {
    const path = this.options.hostsFile;
    const run = this.writing.then(async () => {
      if (await updateHostsFile(path, lines))
        this.log.info({ path, lines: lines?.length ?? 0 }, lines === undefined ? 'hosts file block removed' : 'hosts file updated');
      this.wroteHosts = lines !== undefined;
    });
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** Starts the DNS server, if any. A bind failure is logged and retried in the background, never fatal. */
  async start(): Promise<void> {
    if (this.dns === undefined) return;
    try {
      await this.dns.start();
    } catch (err: unknown) {
      this.log.error({ err: errorMessage(err) }, 'DNS server not listening yet');
    }
  }

  /** '' when names are served as asked; otherwise why not (for /readyz). */
  get problem(): string {
    const dns = this.dns;
    if (dns === undefined || dns.state === 'listening' || dns.state === 'closed') return '';
    return `DNS server ${dns.state}${dns.lastError === '' ? '' : `: ${dns.lastError}`}`;
  }

  /** Closes the DNS server and takes the block out of the hosts file. */
  async stop(): Promise<void> {
    this.dns?.close();
    if (!this.enabled || this.options.hostsFile === '' || !this.wroteHosts) return;
    try {
      await this.writeHosts(undefined);
    } catch (err: unknown) {
      this.log.warn({ path: this.options.hostsFile, err: errorMessage(err) }, 'hosts file block not removed');
    }
  }
}
