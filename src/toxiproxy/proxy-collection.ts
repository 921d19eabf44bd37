/**
 * toxiproxy's proxies, as svcproxy has them: every TCP Service port is a
 * proxy named `<service>.<namespace>:<port>` (what a client in the cluster
 * dials, e.g. `web.default:80`), and `POST /proxies` creates an ad-hoc
 * forward (listen -> upstream) like toxiproxy's own. Toxics added through
 * the API go into the FaultTable as API toxics, apart from the declared
 * Faults. Every operation answers with toxiproxy's status codes and JSON
 * (toxiproxy `api.go`, `proxy_collection.go`); errors are ApiErrors,
 * mapped to HTTP in server.ts. As in toxiproxy, a toxic added or updated
 * here reaches the proxy's open connections too (FaultTable.enableApi).
 */
import type { FaultTable } from '../faults/fault-table.js';
import { updateToxic, validateToxic, type ToxicSpec } from '../faults/toxics.js';
import type { Logger } from '../log.js';
import { AdHocForward } from '../proxy/ad-hoc-forward.js';
import type { ServicePortContext, ServicePortOptions } from '../proxy/service-port-proxy.js';
import { hostPort, type ListenerPlan, type ServicePortPlan } from '../state/types.js';
import { ApiError } from './api-error.js';
import { checkFieldTypes, checkProxyBody, isObject, type ProxyRequest } from './proxy-body.js';

const NOT_FOUND = (): ApiError => new ApiError('proxy not found', 404);

/**
 * At most this many ad-hoc forwards (each holds a listening socket); past it
 * POST /proxies and /populate answer 403. Service ports are not counted: the
 * config bounds them.
 */
const MAX_AD_HOC_PROXIES = 256;

const TOO_MANY = (): ApiError => new ApiError(`too many proxies: at most ${MAX_AD_HOC_PROXIES} proxies can be created through the API; delete one first`, 403);
const TOXIC_NOT_FOUND = (): ApiError => new ApiError('toxic not found', 404);

/** toxiproxy's Toxic JSON, in its field order. */
export interface ToxicJson {
  readonly attributes: Readonly<Record<string, number>>;
  readonly name: string;
  readonly type: string;
  readonly stream: string;
  readonly toxicity: number;
}

/** toxiproxy's Proxy JSON, in its field order. */
export interface ProxyJson {
  readonly name: string;
  readonly listen: string;
  readonly upstream: string;
  readonly enabled: boolean;
  readonly toxics: readonly ToxicJson[];
}

function toxicJson(t: ToxicSpec): ToxicJson {
  return { attributes: t.attributes, name: t.name, type: t.type, stream: t.stream, toxicity: t.toxicity };
}

/** What the collection reads of the running Service ports. */
export interface ServicePortSource {
  readonly servicePorts: ReadonlyMap<string, { readonly current: ServicePortPlan }>;
  readonly listeners: ReadonlyMap<string, { readonly plan: ListenerPlan; readonly port: number }>;
}

/** `web.default:80`: the toxiproxy name of a Service port. */
function servicePortProxyName(plan: ServicePortPlan): string {
  return `${plan.service}.${plan.namespace}:${plan.port}`;
}

/** What a ProxyCollection works on. */
export interface ProxyCollectionOptions {
  /** The running Service ports (the registry). */
  readonly source: ServicePortSource;
  readonly faults: FaultTable;
  /** How an ad-hoc forward's connections are carried: as a Service port's. */
  readonly forwardOptions: ServicePortOptions;
  readonly context: ServicePortContext;
  readonly log: Logger;
  /** --toxiproxy-allow-remote: ad-hoc forwards may listen on non-loopback addresses. */
  readonly allowRemote: boolean;
}

export class ProxyCollection {
  private readonly adHoc = new Map<string, AdHocForward>();

  private readonly source: ServicePortSource;
  private readonly faults: FaultTable;
  private readonly forwardOptions: ServicePortOptions;
  private readonly context: ServicePortContext;
  private readonly log: Logger;
  private readonly allowRemote: boolean;

  constructor(options: ProxyCollectionOptions) {
    const { faults } = options;
    this.source = options.source;
    this.faults = faults;
    this.forwardOptions = options.forwardOptions;
    this.context = options.context;
    this.log = options.log;
    this.allowRemote = options.allowRemote;
    // The API exists, so toxics added through it must reach connections already open (toxiproxy's
    // behaviour): from now on every TCP connection runs on the toxic pump and registers with the table.
    faults.enableApi();
  }

  /** Service-port proxies by name, built from the Service ports being served now. */
  private servicePorts(): Map<string, ServicePortPlan> {
    const out = new Map<string, ServicePortPlan>();
    for (const { current } of this.source.servicePorts.values()) if (current.protocol === 'TCP') out.set(servicePortProxyName(current), current);
    return out;
  }

  private servicePortJson(name: string, plan: ServicePortPlan): ProxyJson {
    const listeners = [...this.source.listeners.values()].filter((l) => l.plan.servicePort === plan.key && l.plan.protocol === 'TCP');
    const first = listeners.find((l) => l.plan.role !== 'nodePort') ?? listeners[0];
    return {
      name,
      listen: first === undefined ? '' : hostPort(first.plan.address, first.port),
      // A Service port has many endpoints; toxiproxy's one-string field lists them all.
      upstream: plan.endpoints.map((e) => hostPort(e.host, e.port)).join(','),
      enabled: !this.faults.isDown(plan.key),
      toxics: this.faults.apiToxics(plan.key).map(toxicJson),
    };
  }

  private adHocJson(f: AdHocForward): ProxyJson {
    return { name: f.name, listen: f.listen, upstream: f.upstream, enabled: f.enabled, toxics: this.faults.apiToxics(f.key).map(toxicJson) };
  }

  /** GET /proxies */
  list(): Record<string, ProxyJson> {
    const out: Record<string, ProxyJson> = {};
    for (const [name, plan] of this.servicePorts()) out[name] = this.servicePortJson(name, plan);
    for (const f of this.adHoc.values()) out[f.name] = this.adHocJson(f);
    return out;
  }

  /** GET /proxies/{name} */
  get(name: string): ProxyJson {
    const f = this.adHoc.get(name);
    if (f !== undefined) return this.adHocJson(f);
    const plan = this.servicePorts().get(name);
    if (plan === undefined) throw NOT_FOUND();
    return this.servicePortJson(name, plan);
  }

  /** The FaultTable key of a proxy. */
  private keyOf(name: string): string {
    const f = this.adHoc.get(name);
    if (f !== undefined) return f.key;
    const plan = this.servicePorts().get(name);
    if (plan === undefined) throw NOT_FOUND();
    return plan.key;
  }

  private checkBody(body: unknown, where = ''): ProxyRequest {
    return checkProxyBody(body, where, this.allowRemote);
  }

  private async createForward(p: ProxyRequest): Promise<AdHocForward> {
    const f = new AdHocForward({
      name: p.name,
      listenHost: p.listen.host,
      listenPort: p.listen.port,
      upstreamHost: p.upstream.host,
      upstreamPort: p.upstream.port,
      options: this.forwardOptions,
      context: this.context,
      log: this.log,
    });
    if (p.enabled) await this.startForward(f);
    return f;
  }

  private async startForward(f: AdHocForward): Promise<void> {
    try {
      await f.start();
    } catch (err: unknown) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      // toxiproxy's wording: the Go error of net.Listen.
      throw new ApiError(`listen tcp ${hostPort(f.listenHost, f.listenPort)}: ${cause.replace(/^listen /, '')}`, 500);
    }
  }

  /** POST /proxies -> 201 */
  async create(body: unknown): Promise<ProxyJson> {
    const p = this.checkBody(body);
    if (this.adHoc.has(p.name) || this.servicePorts().has(p.name)) throw new ApiError('proxy already exists', 409);
    if (this.adHoc.size >= MAX_AD_HOC_PROXIES) throw TOO_MANY();
    const f = await this.createForward(p);
    this.adHoc.set(p.name, f);
    this.log.info({ proxy: p.name, listen: f.listen, upstream: f.upstream }, 'toxiproxy API: forward created');
    return this.adHocJson(f);
  }

  /** POST /populate -> 201 `{proxies: [...]}`; every entry is checked before anything is created. */
  async populate(body: unknown): Promise<{ proxies: ProxyJson[] }> {
    if (!Array.isArray(body)) throw new ApiError('bad request body: expected a JSON array', 400);
    const entries = body.map((entry: unknown, i) => this.checkBody(entry, ` at proxy ${i + 1}`));
    const done: ProxyJson[] = [];
    for (const p of entries) {
      try {
        done.push(await this.populateOne(p));
      } catch (err: unknown) {
        if (err instanceof ApiError) throw new ApiError(err.message, err.status, { proxies: done });
        throw err;
      }
    }
    return { proxies: done };
  }

  private async populateOne(p: ProxyRequest): Promise<ProxyJson> {
    const plan = this.servicePorts().get(p.name);
    if (plan !== undefined) return this.servicePortJson(p.name, plan); // a Service port is what its manifests say
    const existing = this.adHoc.get(p.name);
    if (existing !== undefined) {
      const same =
        existing.upstream === hostPort(p.upstream.host, p.upstream.port) && (p.listen.port === 0 || existing.listen === hostPort(p.listen.host, p.listen.port));
      if (same) return this.adHocJson(existing);
      existing.stop(); // it differs: replaced, as toxiproxy does
      this.adHoc.delete(p.name);
    }
    if (this.adHoc.size >= MAX_AD_HOC_PROXIES) throw TOO_MANY();
    const f = await this.createForward(p);
    this.adHoc.set(p.name, f);
    return this.adHocJson(f);
  }

  /** POST or PATCH /proxies/{name}: `listen`, `upstream`, `enabled`; missing ones keep their values. */
  async update(name: string, body: unknown): Promise<ProxyJson> {
    this.keyOf(name); // toxiproxy looks the proxy up (404) before it decodes the body (400)
    if (!isObject(body)) throw new ApiError('bad request body: expected a JSON object', 400);
    checkFieldTypes(body);
    const f = this.adHoc.get(name);
    if (f === undefined) return this.updateServicePort(name, body);
    const p = this.checkBody({ name, listen: body['listen'] ?? f.listen, upstream: body['upstream'] ?? f.upstream, enabled: body['enabled'] ?? f.enabled });
    const moved = f.upstream !== hostPort(p.upstream.host, p.upstream.port) || (p.listen.port !== 0 && f.listen !== hostPort(p.listen.host, p.listen.port));
    if (moved) {
      // toxiproxy restarts a proxy whose listen or upstream changed, dropping its connections.
      f.stop();
      const next = await this.createForward(p);
      this.adHoc.set(name, next);
      return this.adHocJson(next);
    }
    if (p.enabled && !f.enabled) await this.startForward(f);
    if (!p.enabled && f.enabled) f.stop();
    return this.adHocJson(f);
  }

  private updateServicePort(name: string, body: Readonly<Record<string, unknown>>): ProxyJson {
    const plan = this.servicePorts().get(name);
    if (plan === undefined) throw NOT_FOUND();
    const current = this.servicePortJson(name, plan);
    for (const field of ['listen', 'upstream'] as const) {
      const value = body[field];
      if (value !== undefined && value !== null && value !== current[field]) {
        throw new ApiError(`${field} of Service port proxy ${name} comes from its manifests and cannot be changed through the API`, 409);
      }
    }
    if (typeof body['enabled'] === 'boolean') this.faults.setDown(plan.key, !body['enabled']);
    return this.servicePortJson(name, plan);
  }

  /** DELETE /proxies/{name} -> 204. A Service port stays (its manifests own it): its API toxics go and it is enabled again. */
  remove(name: string): void {
    const f = this.adHoc.get(name);
    if (f !== undefined) {
      f.stop();
      this.adHoc.delete(name);
      this.faults.dropApiProxy(f.key);
      this.log.info({ proxy: name }, 'toxiproxy API: forward deleted');
      return;
    }
    const plan = this.servicePorts().get(name);
    if (plan === undefined) throw NOT_FOUND();
    this.faults.dropApiProxy(plan.key);
  }

  /** GET /proxies/{name}/toxics */
  toxics(name: string): ToxicJson[] {
    return this.faults.apiToxics(this.keyOf(name)).map(toxicJson);
  }

  /** POST /proxies/{name}/toxics -> 200 */
  addToxic(name: string, body: unknown): ToxicJson {
    const key = this.keyOf(name);
    const result = validateToxic(body);
    if (!result.ok) throw new ApiError(toxicError(result.problems[0]), 400);
    if (!this.faults.addApiToxic(key, name, result.toxic)) throw new ApiError('toxic already exists', 409);
    this.log.info({ proxy: name, toxic: result.toxic.name, type: result.toxic.type, stream: result.toxic.stream }, 'toxiproxy API: toxic added');
    return toxicJson(result.toxic);
  }

  private findToxic(key: string, toxic: string): ToxicSpec {
    const found = this.faults.apiToxics(key).find((t) => t.name === toxic);
    if (found === undefined) throw TOXIC_NOT_FOUND();
    return found;
  }

  /** GET /proxies/{name}/toxics/{toxic} */
  getToxic(name: string, toxic: string): ToxicJson {
    return toxicJson(this.findToxic(this.keyOf(name), toxic));
  }

  /** POST or PATCH /proxies/{name}/toxics/{toxic}: attributes onto the existing ones, toxicity. */
  updateToxic(name: string, toxic: string, body: unknown): ToxicJson {
    const key = this.keyOf(name);
    const result = updateToxic(this.findToxic(key, toxic), body);
    if (!result.ok) throw new ApiError(toxicError(result.problems[0]), 400);
    this.faults.updateApiToxic(key, result.toxic);
    return toxicJson(result.toxic);
  }

  /** DELETE /proxies/{name}/toxics/{toxic} -> 204 */
  removeToxic(name: string, toxic: string): void {
    if (!this.faults.removeApiToxic(this.keyOf(name), toxic)) throw TOXIC_NOT_FOUND();
  }

  /** POST /reset -> 204: every proxy enabled, every API toxic removed; declared Faults untouched. */
  async reset(): Promise<void> {
    this.faults.resetApi();
    for (const f of this.adHoc.values()) if (!f.enabled) await this.startForward(f);
  }

  /** Stops every ad-hoc forward (svcproxy is stopping). */
  close(): void {
    for (const f of this.adHoc.values()) f.stop();
    this.adHoc.clear();
  }
}

/** toxiproxy's texts where it has one; svcproxy's own for the range checks toxiproxy does not make. */
function toxicError(problem: { readonly path: string; readonly message: string } | undefined): string {
  if (problem === undefined) return 'bad request body';
  if (problem.path === 'type' || problem.path === 'stream') return problem.message;
  return `bad request body: ${problem.message}`;
}
