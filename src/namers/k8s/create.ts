import type { Path } from '../../dtab/path.js';
import type { Metrics } from '../../telemetry/metrics.js';
import type { Logger } from '../../util/log.js';
import { KubeConnection } from './connection.js';
import { K8sNamer } from './k8s-namer.js';

/** What a Kubernetes namer is built from (its config entry's own keys, defaults filled). */
export interface K8sSettings {
  /** Plain-HTTP API (kubectl proxy), Linkerd's keys. Absent: in-cluster service account, else kubeconfig. */
  host?: string;
  port?: number;
  /** `io.l5d.k8s.ns` only: the env var that holds the namespace it is fixed to. */
  envVar?: string;
  /** Prefer endpoints on this node (`NODE_NAME`), falling back to all when none is ready. */
  preferLocalNode: boolean;
  /** Release a watch this long after the last route stops using it (a Service that does not exist: 5 s). */
  idleTtlSecs: number;
  /** Most (namespace, service) watches open at once; idle ones close first, then new names fail. */
  maxWatches: number;
  /** Most (namespace, port, service) names at once; idle ones go first, then new names fail. */
  maxNames: number;
  /** New (namespace, service) watches a second (0: no limit), after `watchesBurst` at once; names over it wait pending. */
  watchesPerSecond: number;
  watchesBurst: number;
}

/**
 * Build an `io.l5d.k8s` / `io.l5d.k8s.ns` namer from its config entry. The namer kinds reach this
 * module (and the connection's node:http and node:https) by dynamic `import()` only when such a namer
 * is configured; `@kubernetes/client-node` is loaded further only for a kubeconfig (connection.ts).
 */
export async function createK8sNamer(config: K8sSettings & { kind: string }, prefix: Path, env: NodeJS.ProcessEnv, log: Logger, metrics: Metrics, configKey?: string): Promise<K8sNamer> {
  let fixedNamespace: string | undefined;
  const envVar = config.envVar;
  if (envVar !== undefined) {
    fixedNamespace = env[envVar]?.trim().toLowerCase();
    if (!fixedNamespace) {
      throw new Error(`namers: ${config.kind} at ${prefix.show()} needs the namespace in environment variable ${envVar} (set it from the downward API: fieldRef metadata.namespace)`);
    }
  }
  let localNode: string | undefined;
  if (config.preferLocalNode) {
    localNode = env.NODE_NAME?.trim() || undefined;
    if (!localNode) log.warn('preferLocalNode is set but NODE_NAME is not; using endpoints on every node');
  }
  const connection = await KubeConnection.resolve({ host: config.host, port: config.port, env }, (msg) => log.warn(msg));
  log.info('Kubernetes API', { api: connection.source, server: connection.server });
  return new K8sNamer({
    prefix,
    connection,
    metrics,
    log,
    fixedNamespace,
    localNode,
    idleTtlMs: config.idleTtlSecs * 1000,
    maxWatches: config.maxWatches,
    maxNames: config.maxNames,
    watchRate: { perSecond: config.watchesPerSecond, burst: config.watchesBurst },
    configKey,
  });
}
