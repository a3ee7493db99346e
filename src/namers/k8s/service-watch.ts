import type { Logger } from '../../util/log.js';
import type { KubeConnection } from './connection.js';
import type { EndpointSlice, Service } from './endpoints.js';
import type { ReflectorOptions } from './reflector.js';
import { Reflector } from './reflector.js';
import { NEG_IDLE_TTL_MS } from '../live-name.js';

/**
 * The one watch pair per (namespace, service), shared by every port and route that names it: the
 * service's EndpointSlices (by the `kubernetes.io/service-name` label) and the Service object itself
 * (for Service port → slice port). Reference-counted; closed an idle TTL after the last user leaves,
 * or within seconds when the Service does not exist (any client can name one that does not).
 */
export class ServiceWatch {
  readonly slices: Reflector<EndpointSlice>;
  readonly service: Reflector<Service>;
  private refs = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(
    connection: KubeConnection,
    readonly namespace: string,
    readonly name: string,
    options: Omit<ReflectorOptions, 'log'> & { log: Logger },
    private readonly idleTtlMs: number,
    private readonly onClosed: () => void,
  ) {
    const ns = encodeURIComponent(namespace);
    this.slices = new Reflector<EndpointSlice>(
      connection,
      {
        path: `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
        labelSelector: `kubernetes.io/service-name=${name}`,
        resource: 'endpointslices',
        group: 'discovery.k8s.io',
        namespace,
      },
      { ...options, log: options.log.child({ watch: `${namespace}/${name}`, resource: 'endpointslices' }) },
    );
    this.service = new Reflector<Service>(
      connection,
      {
        path: `/api/v1/namespaces/${ns}/services`,
        fieldSelector: `metadata.name=${name}`,
        resource: 'services',
        group: '',
        namespace,
      },
      { ...options, log: options.log.child({ watch: `${namespace}/${name}`, resource: 'services' }) },
    );
  }

  get synced(): boolean {
    return this.slices.synced && this.service.synced;
  }

  get idle(): boolean {
    return this.refs === 0;
  }

  subscribe(listener: () => void): () => void {
    const a = this.slices.subscribe(listener);
    const b = this.service.subscribe(listener);
    return () => {
      a();
      b();
    };
  }

  acquire(): void {
    this.refs++;
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    if (!this.started) {
      this.started = true;
      this.slices.start();
      this.service.start();
    }
  }

  release(): void {
    this.refs--;
    if (this.refs > 0) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const absent = this.service.synced && this.service.objects.size === 0;
    this.idleTimer = setTimeout(() => this.close(), absent ? Math.min(this.idleTtlMs, NEG_IDLE_TTL_MS) : this.idleTtlMs);
    this.idleTimer.unref();
  }

  close(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.slices.stop();
    this.service.stop();
    this.started = false;
    this.onClosed();
  }

  state(): unknown {
    const one = (r: Reflector<any>) => ({
      synced: r.synced,
      connected: r.connected,
      resourceVersion: r.resourceVersion,
      objects: [...r.objects.keys()],
      lastError: r.lastError,
    });
    return { users: this.refs, endpointSlices: one(this.slices), service: one(this.service) };
  }
}
