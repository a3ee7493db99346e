import type { Logger } from '../../util/log.js';
import { Backoff } from '../../util/backoff.js';
import type { KubeConnection } from './connection.js';

/**
 * List-then-watch cache of one Kubernetes collection (Kubernetes' "reflector").
 *
 * Why our own cache over client-node's `Watch` rather than its informer (`ListWatch`, 1.4.0):
 * - ListWatch gives up on any error other than 410 (API server restarted, connection reset, 403, 5xx):
 *   it emits `error` and never restarts, with no backoff; we retry forever with jittered backoff.
 * - it never asks for `allowWatchBookmarks`, so a quiet watch resumes from an old resourceVersion and
 *   is more likely to hit 410 after compaction; we ask for bookmarks and record their versions.
 * - it has no "synced" signal, so a service with no slices cannot be told from one not yet listed
 *   (Empty vs pending); our `synced` flips after the first complete list.
 * - a relist applies deletes and adds one object at a time, so observers see torn intermediate sets;
 *   we swap the whole map at once and notify once.
 * - its watch has no client-side liveness check (the 30 s timeout in Watch is overwritten); a
 *   half-open connection would stall discovery forever. We set `timeoutSeconds` and abort a watch that
 *   stays silent past it.
 * client-node still does the part it does well, for a kubeconfig: KubeConfig (config, TLS options,
 * auth; kubeconfig-access.ts). Its Watch made a TLS connection with its own secure context per watch;
 * ours are HTTP/2 streams on shared sessions (KubeConnection.watch).
 */
export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
}

export interface ReflectorSpec {
  /** Collection path, e.g. `/apis/discovery.k8s.io/v1/namespaces/default/endpointslices`. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** For RBAC messages: resource and API group (`''` for core). */
  resource: string;
  group: string;
  namespace: string;
}

export interface ReflectorOptions {
  log: Logger;
  /** Called on each watch event and relist (type is the watch event type, or `LIST`). */
  onEvent?: (type: string) => void;
  onReconnect?: (reason: 'closed' | 'gone' | 'error' | 'forbidden' | 'unauthorized' | 'stalled') => void;
  onSync?: () => void;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Server-side watch timeout; a random value in [t, 2t) is sent so watches do not end together. */
  watchTimeoutSecs?: number;
  pageSize?: number;
  /** How long past its promised end a silent watch is given before it counts as dead. Default 30. */
  stallGraceSecs?: number;
}

type WatchEnd = { kind: 'closed'; events: number } | { kind: 'gone' } | { kind: 'error'; error: unknown; events: number } | { kind: 'stalled' };

export class Reflector<T extends KubeObject> {
  /** Objects by name (the collection is namespaced and selected, so names are unique). */
  objects = new Map<string, T>();
  resourceVersion = '';
  synced = false;
  connected = false;
  lastError: string | undefined;
  private running = false;
  private generation = 0;
  /** Ends the watch in progress, answered or not. */
  private abort: AbortController | undefined;
  private wake: (() => void) | undefined;
  private readonly backoff: Backoff;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly connection: KubeConnection,
    readonly spec: ReflectorSpec,
    private readonly options: ReflectorOptions,
  ) {
    this.backoff = new Backoff(options.backoffMinMs ?? 100, options.backoffMaxMs ?? 10_000);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const generation = ++this.generation;
    void this.loop(generation);
  }

  stop(): void {
    this.running = false;
    this.generation++;
    this.abort?.abort();
    this.abort = undefined;
    this.wake?.();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private live(generation: number): boolean {
    return this.running && generation === this.generation;
  }

  private async loop(generation: number): Promise<void> {
    while (this.live(generation)) {
      if (!this.resourceVersion) {
        try {
          await this.relist(generation);
        } catch (error) {
          if (!this.live(generation)) return;
          this.failed('list', error);
          await this.sleep(this.backoff.next(), generation);
          continue;
        }
        if (!this.live(generation)) return;
      }
      const started = Date.now();
      const end = await this.watchOnce(generation);
      if (!this.live(generation)) return;
      this.connected = false;
      switch (end.kind) {
        case 'closed':
          // The server ended the watch (timeoutSeconds, restart): resume from the last version. A watch
          // that ends at once without news is a server in trouble; do not spin on it.
          this.options.onReconnect?.('closed');
          if (end.events === 0 && Date.now() - started < 1000) await this.sleep(this.backoff.next(), generation);
          break;
        case 'gone':
          this.options.onReconnect?.('gone');
          this.resourceVersion = '';
          this.options.log.info('watch history expired (410 Gone); relisting', { path: this.spec.path });
          if (this.backoff.failures > 0) await this.sleep(this.backoff.next(), generation);
          break;
        case 'stalled':
          this.options.onReconnect?.('stalled');
          this.options.log.warn('watch silent past its timeout; reconnecting', { path: this.spec.path });
          break;
        case 'error':
          this.failed('watch', end.error);
          await this.sleep(this.backoff.next(), generation);
          break;
      }
    }
  }

  private async relist(generation: number): Promise<void> {
    const next = new Map<string, T>();
    let continueToken: string | undefined;
    let resourceVersion = '';
    for (let page = 0; page < 10_000; page++) {
      let list: { metadata?: { resourceVersion?: string; continue?: string }; items?: T[] };
      try {
        list = await this.connection.get(this.spec.path, {
          labelSelector: this.spec.labelSelector,
          fieldSelector: this.spec.fieldSelector,
          limit: this.options.pageSize ?? 500,
          continue: continueToken,
        });
      } catch (error) {
        // An expired continue token: start the list again from the top.
        if ((error as { statusCode?: number }).statusCode === 410 && continueToken) {
          next.clear();
          continueToken = undefined;
          continue;
        }
        throw error;
      }
      if (!this.live(generation)) return;
      for (const item of list.items ?? []) {
        const name = item.metadata?.name;
        if (name) next.set(name, item);
      }
      resourceVersion = list.metadata?.resourceVersion ?? '';
      continueToken = list.metadata?.continue || undefined;
      if (!continueToken) break;
    }
    this.objects = next;
    this.resourceVersion = resourceVersion;
    this.synced = true;
    this.lastError = undefined;
    this.backoff.reset();
    this.options.onEvent?.('LIST');
    this.options.onSync?.();
    this.notify();
  }

  private watchOnce(generation: number): Promise<WatchEnd> {
    const timeoutSecs = this.options.watchTimeoutSecs ?? 300;
    const serverTimeout = Math.round(timeoutSecs * (1 + Math.random()));
    const stop = (this.abort = new AbortController());
    return new Promise<WatchEnd>((resolve) => {
      let events = 0;
      let settled = false;
      let outcome: WatchEnd | undefined;
      let stallTimer: NodeJS.Timeout | undefined;
      const finish = (end: WatchEnd) => {
        if (settled) return;
        settled = true;
        if (stallTimer) clearTimeout(stallTimer);
        stop.abort();
        if (this.abort === stop) this.abort = undefined;
        resolve(end);
      };
      // The server promised to end the watch within serverTimeout; silence well past it means a dead peer.
      const armStall = () => {
        if (stallTimer) clearTimeout(stallTimer);
        stallTimer = setTimeout(() => finish({ kind: 'stalled' }), (serverTimeout + (this.options.stallGraceSecs ?? 30)) * 1000);
        stallTimer.unref();
      };
      armStall();
      const onEvent = (type: string, object: any) => {
        if (settled || !this.live(generation)) return;
        armStall();
        this.options.onEvent?.(type);
        if (type === 'ERROR') {
          const code = object?.code;
          outcome =
            code === 410
              ? { kind: 'gone' }
              : { kind: 'error', error: statusError(object), events };
          finish(outcome);
          return;
        }
        events++;
        this.connected = true;
        this.backoff.reset();
        const rv = object?.metadata?.resourceVersion;
        if (type === 'BOOKMARK') {
          if (rv) this.resourceVersion = rv;
          this.options.onSync?.();
          return;
        }
        const name = object?.metadata?.name;
        if (!name) return;
        if (type === 'ADDED' || type === 'MODIFIED') this.objects.set(name, object as T);
        else if (type === 'DELETED') this.objects.delete(name);
        else return;
        if (rv) this.resourceVersion = rv;
        this.options.onSync?.();
        this.notify();
      };
      const onDone = (error: unknown) => {
        if (!this.live(generation)) return finish({ kind: 'closed', events });
        if (!error) return finish({ kind: 'closed', events });
        if ((error as { statusCode?: number }).statusCode === 410) return finish({ kind: 'gone' });
        finish({ kind: 'error', error, events });
      };
      this.connection
        .watch(
          this.spec.path,
          {
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: serverTimeout,
            labelSelector: this.spec.labelSelector,
            fieldSelector: this.spec.fieldSelector,
          },
          onEvent,
          onDone,
          stop.signal,
        )
        .then(
          () => {
            if (!settled && this.live(generation)) this.connected = true;
          },
          (error) => finish({ kind: 'error', error, events }),
        );
    });
  }

  private failed(verb: 'list' | 'watch', error: unknown): void {
    const status = (error as { statusCode?: number }).statusCode;
    const message = (error as Error)?.message ?? String(error);
    const where = this.spec.namespace ? ` in namespace "${this.spec.namespace}"` : '';
    const resource = this.spec.group ? `${this.spec.resource}.${this.spec.group}` : this.spec.resource;
    if (status === 401 || status === 403) {
      this.connection.unauthorized();
      this.options.onReconnect?.(status === 401 ? 'unauthorized' : 'forbidden');
      this.lastError =
        status === 403
          ? `forbidden: the router needs RBAC verb "${verb}" on resource "${this.spec.resource}" ` +
            `(apiGroups: ["${this.spec.group}"])${where}; grant get, list and watch on ${resource}`
          : `unauthorized (HTTP 401) on ${verb} ${resource}${where}: the API server rejected our credentials`;
      this.options.log.error(this.lastError, { path: this.spec.path, verb, resource, status });
    } else {
      this.options.onReconnect?.('error');
      this.lastError = `${verb} ${resource}${where} failed: ${message}`;
      this.options.log.warn(this.lastError, { path: this.spec.path, verb, status });
    }
    // Names waiting for the first list say why it has not come (a call timing out quotes it).
    if (!this.synced) this.notify();
  }

  private sleep(ms: number, generation: number): Promise<void> {
    if (!this.live(generation)) return Promise.resolve();
    return new Promise((resolve) => {
      // Unref'd: a retry loop alone never keeps the process alive.
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

function statusError(status: any): Error & { statusCode?: number } {
  const error = new Error(`watch ERROR event: ${status?.message ?? JSON.stringify(status)}`) as Error & { statusCode?: number };
  error.statusCode = typeof status?.code === 'number' ? status.code : undefined;
  return error;
}
