import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiAccess } from './api-access.js';
import type { ApiRequestOptions } from './api-transports.js';

/** Where kubelet mounts a pod's service account (token, ca.crt, namespace). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The API as a pod sees it: `KUBERNETES_SERVICE_HOST`/`_PORT`, the service account's CA bundle and
 * bearer token, what client-node's `loadFromCluster` reads, without loading client-node (35–42 MB of
 * a router's RSS, bench/README "RSS by namer") on every node of the DaemonSet. client-node re-reads
 * the token only every 60 s; this re-reads it whenever the file changes (kubelet rotates projected
 * tokens by swapping a symlink) and at once after a 401. The CA bundle is read for every request,
 * as client-node does: a rotated one takes effect for the next connection.
 */
export class ServiceAccountAccess implements ApiAccess {
  readonly server: string;
  readonly source = 'in-cluster';
  readonly namespace: string | undefined;
  readonly proxied = false;
  private readonly tokenFile: string;
  private readonly caFile: string;
  private token = '';
  private stamp = '';

  constructor(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR) {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT;
    if (!host || !port) throw new Error('in-cluster Kubernetes config needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT');
    this.server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.tokenFile = join(dir, 'token');
    this.caFile = join(dir, 'ca.crt');
    try {
      this.namespace = readFileSync(join(dir, 'namespace'), 'utf8').trim() || undefined;
    } catch {
      this.namespace = undefined;
    }
  }

  async apply(options: ApiRequestOptions): Promise<void> {
    // A missing bundle fails this request with the file's name (then the watch backs off and retries).
    options.ca = readFileSync(this.caFile);
    const token = this.currentToken();
    if (token) options.headers = { ...options.headers, Authorization: `Bearer ${token}` };
  }

  unauthorized(): void {
    this.stamp = '';
  }

  private currentToken(): string {
    let stamp: string;
    try {
      const st = statSync(this.tokenFile);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      stamp = 'missing';
    }
    if (stamp !== this.stamp) {
      this.stamp = stamp;
      try {
        this.token = readFileSync(this.tokenFile, 'utf8').trim();
      } catch {
        this.token = '';
      }
    }
    return this.token;
  }
}
