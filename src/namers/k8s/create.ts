import type { K8sNamerConfig } from '../../config/types.js';
import type { Path } from '../../dtab/path.js';
import type { Metrics } from '../../telemetry/metrics.js';
import type { Logger } from '../../util/log.js';
import { KubeConnection } from './connection.js';
import { K8sNamer } from './k8s-namer.js';

/**
 * Build an `io.l5d.k8s` / `io.l5d.k8s.ns` namer from its config entry. This module is the registry's
 * only way into `@kubernetes/client-node` (~70 MB of RSS: client-node loads every generated API
 * model), and the registry reaches it by dynamic `import()` only when such a namer is configured.
 */
export function createK8sNamer(config: K8sNamerConfig, prefix: Path, env: NodeJS.ProcessEnv, log: Logger, metrics: Metrics): K8sNamer {
  let fixedNamespace: string | undefined;
  if (config.kind === 'io.l5d.k8s.ns') {
    const envVar = config.envVar ?? 'POD_NAMESPACE';
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
  const connection = KubeConnection.resolve({ host: config.host, port: config.port, env }, (msg) => log.warn(msg));
  log.info('Kubernetes API', { api: connection.source, server: connection.server });
  return new K8sNamer({
    prefix,
    connection,
    metrics,
    log,
    fixedNamespace,
    localNode,
    idleTtlMs: (config.idleTtlSecs ?? 600) * 1000,
    maxWatches: config.maxWatches,
  });
}
