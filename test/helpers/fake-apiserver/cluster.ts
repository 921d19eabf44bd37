/**
 * The test's handle on the fake cluster's contents: Services and Pods written the way a user and the
 * kubelet would, Service and Pod addresses allocated, and the EndpointSlice controller following along.
 * Pod IPs are loopback addresses (127.0.10.1, 127.0.10.2, ...): Linux routes all of 127/8 to lo, so a
 * test can listen on a Pod's IP and reach it directly.
 */
import { EndpointSliceController, SERVICE_NAME_LABEL } from './controller.js';
import { podObject, podStatus, serviceObject, type PodInput, type ServiceInput } from './objects.js';
import { Store } from './store.js';
import type { EndpointSliceObject, PodObject, ServiceObject } from './types.js';

export interface ClusterOptions {
  /** Endpoints per EndpointSlice before the controller starts another (default 100). */
  readonly maxEndpointsPerSlice?: number;
  /** The first three octets of Pod IPs (default '127.0.10'; the next block after .254). */
  readonly podNetwork?: string;
  /** Changes kept for watch resumption before the store compacts by itself (default 5000). */
  readonly maxHistory?: number;
}

export class FakeCluster {
  readonly store: Store;
  private readonly controller: EndpointSliceController;
  private readonly podNetwork: readonly number[];
  private serviceIps = 0;
  private podIps = 0;

  constructor(options: ClusterOptions = {}) {
    this.store = new Store(options.maxHistory);
    this.controller = new EndpointSliceController(
      this.store,
      options.maxEndpointsPerSlice === undefined ? {} : { maxEndpointsPerSlice: options.maxEndpointsPerSlice },
    );
    this.podNetwork = (options.podNetwork ?? '127.0.10').split('.').map(Number);
    for (const ns of ['default', 'kube-node-lease', 'kube-public', 'kube-system']) this.ensureNamespace(ns);
  }

  /** Creates the Namespace unless it exists; adding an object to a namespace creates it too. */
  ensureNamespace(name: string): void {
    if (this.store.get('Namespace', '', name) !== undefined) return;
    this.store.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  }

  /** The next Pod IP: 127.0.10.1 ... 127.0.10.254, then 127.0.11.1 ... */
  allocatePodIp(): string {
    const n = this.podIps++;
    const [a = 127, b = 0, c = 10] = this.podNetwork;
    return `${a}.${b}.${c + Math.floor(n / 254)}.${1 + (n % 254)}`;
  }

  addService(input: ServiceInput): ServiceObject {
    this.ensureNamespace(input.namespace);
    const n = ++this.serviceIps;
    return this.store.create(serviceObject(input, `10.96.${Math.floor(n / 254)}.${1 + (n % 254)}`)) as ServiceObject;
  }

  deleteService(namespace: string, name: string): void {
    this.store.delete('Service', namespace, name);
  }

  /** A scheduled, running Pod with an IP; Ready unless `ready: false`. */
  addPod(input: PodInput): PodObject {
    this.ensureNamespace(input.namespace);
    return this.store.create(podObject(input, input.ip ?? this.allocatePodIp())) as PodObject;
  }

  /** Flips the Pod's Ready condition (as a readiness probe would); the slices follow. */
  setPodReady(namespace: string, name: string, ready: boolean): PodObject {
    return this.store.update('Pod', namespace, name, (o) => {
      const pod = o as PodObject;
      const fresh = podStatus(pod.status.podIP ?? '', ready, typeof pod.status['startTime'] === 'string' ? pod.status['startTime'] : '');
      if (pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === (ready ? 'True' : 'False')) === true) return;
      pod.status = { ...pod.status, conditions: fresh.conditions ?? [], containerStatuses: fresh['containerStatuses'] };
    }) as PodObject;
  }

  /**
   * Starts a graceful deletion: deletionTimestamp set, the Pod stays (serving while still Ready, as
   * its containers shut down) until {@link deletePod}. Its endpoint turns terminating, not ready.
   */
  terminatePod(namespace: string, name: string, gracePeriodSeconds = 30): PodObject {
    return this.store.update('Pod', namespace, name, (o) => {
      o.metadata.deletionTimestamp ??= new Date(Date.now() + gracePeriodSeconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      o.metadata.deletionGracePeriodSeconds ??= gracePeriodSeconds;
    }) as PodObject;
  }

  /** The Pod is gone (its grace period is over, or it was force-deleted). */
  deletePod(namespace: string, name: string): void {
    this.store.delete('Pod', namespace, name);
  }

  /** Pods of a namespace whose labels include every label of `selector`. */
  pods(namespace: string, selector: Readonly<Record<string, string>> = {}): PodObject[] {
    return this.store.list('Pod', namespace).filter((p) => Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v)) as PodObject[];
  }

  /** The Service's EndpointSlices as the controller wrote them. */
  slices(namespace: string, service: string): EndpointSliceObject[] {
    return this.store.list('EndpointSlice', namespace).filter((s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === service) as EndpointSliceObject[];
  }

  stop(): void {
    this.controller.stop();
  }
}
