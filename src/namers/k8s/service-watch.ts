import type { Logger } from '../../util/log.js';
import type { KubeConnection } from './connection.js';
import type { EndpointSlice, Service } from './endpoints.js';
import type { ReflectorOptions } from './reflector.js';
import { Reflector } from './reflector.js';
import type { NameHolder } from '../live-name.js';

/**
 * The one watch pair per (namespace, service), shared by every port and route that names it: the
 * service's EndpointSlices (by the `kubernetes.io/service-name` label) and the Service object itself
 * (for Service port → slice port). Started by its first user; how long it stays open after the last
 * leaves is its holder's business (the namer's watch table: an idle TTL, seconds when `absent`).
 */
export class ServiceWatch {
  readonly slices: Reflector<EndpointSlice>;
  readonly service: Reflector<Service>;
  private started = false;

  constructor(
    connection: KubeConnection,
    readonly namespace: string,
    readonly name: string,
    options: Omit<ReflectorOptions, 'log'> & { log: Logger },
    private readonly holder: NameHolder,
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

  /** The Service is known not to exist: a negative answer, let go soon after its last use. */
  get absent(): boolean {
    return this.service.synced && this.service.objects.size === 0;
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
    this.holder.acquire();
    if (!this.started) {
      this.started = true;
      this.slices.start();
      this.service.start();
    }
  }

  release(): void {
    this.holder.release();
  }

  /** Stop both watches (idempotent); a later `acquire` starts them again. */
  close(): void {
    this.slices.stop();
    this.service.stop();
    this.started = false;
  }

  state(): unknown {
    const one = (r: Reflector<any>) => ({
      synced: r.synced,
      connected: r.connected,
      resourceVersion: r.resourceVersion,
      objects: [...r.objects.keys()],
      lastError: r.lastError,
    });
    return { endpointSlices: one(this.slices), service: one(this.service) };
  }
}
