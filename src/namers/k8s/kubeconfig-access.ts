import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { ApiAccess } from './api-access.js';
import type { ApiRequestOptions } from './api-transports.js';

/**
 * The API through a kubeconfig (`KUBECONFIG`, a `:`-separated list merged like kubectl's, or
 * `~/.kube/config`): a router off the cluster, or a developer's. The module that loads
 * `@kubernetes/client-node` (35–42 MB of a router's RSS), for what only it does well: every
 * kubeconfig form (client certificates, exec and OIDC auth providers, proxy-url, tls-server-name).
 */
export class KubeconfigAccess implements ApiAccess {
  readonly source: string;
  private readonly config: KubeConfig;

  constructor(files: string[]) {
    const config = loadKubeconfigFile(files[0]!);
    for (const file of files.slice(1)) config.mergeConfig(loadKubeconfigFile(file), true);
    if (!config.getCurrentCluster()) throw new Error(`kubeconfig ${files.join(delimiter)}: no current context with a cluster`);
    this.config = config;
    this.source = `kubeconfig ${files.join(delimiter)}`;
  }

  get server(): string {
    return this.config.getCurrentCluster()?.server ?? '';
  }

  get namespace(): string | undefined {
    return this.config.getContextObject(this.config.getCurrentContext())?.namespace?.trim() || undefined;
  }

  get proxied(): boolean {
    return Boolean(this.config.getCurrentCluster()?.proxyUrl);
  }

  apply(options: ApiRequestOptions): Promise<void> {
    // client-node also makes a new agent per call: used only for a cluster's proxy-url (`proxied`).
    return this.config.applyToHTTPSOptions(options);
  }

  /** client-node's auth providers refresh their own credentials when they expire. */
  unauthorized(): void {}
}

/** client-node's parse errors do not say which file they are about; with a KUBECONFIG list that matters. */
function loadKubeconfigFile(file: string): KubeConfig {
  const config = new KubeConfig();
  try {
    config.loadFromFile(file);
  } catch (err) {
    throw new Error(`kubeconfig ${file}: ${(err as Error).message}`);
  }
  return config;
}
