import type { ApiRequestOptions } from './api-transports.js';

/**
 * Where the Kubernetes API is and how a request to it authenticates. Three kinds: the pod's service
 * account (service-account.ts), a plain-HTTP proxy (proxy-access.ts) and a kubeconfig
 * (kubeconfig-access.ts), the one that needs `@kubernetes/client-node`: only it loads that.
 */
export interface ApiAccess {
  /** The API's base URL, e.g. `https://10.96.0.1:443`. */
  readonly server: string;
  /** How it was found: `in-cluster`, `kubeconfig <files>`, `proxy http://host:port`. */
  readonly source: string;
  /** The namespace of the current context (in-cluster: the pod's own), if known. */
  readonly namespace: string | undefined;
  /**
   * Fills in one request's TLS material and auth headers (`ca`, `cert`, `key`, `headers`, `auth`,
   * and `agent` when `proxied`), read afresh for each, so rotated files take effect.
   */
  apply(options: ApiRequestOptions): Promise<void>;
  /** Requests go through the cluster's proxy (a kubeconfig's `proxy-url`), on the agent `apply` set. */
  readonly proxied: boolean;
  /** The API answered 401: the credentials may have rotated under us. */
  unauthorized(): void;
}
