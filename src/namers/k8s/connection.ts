import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { User } from '@kubernetes/client-node';
import { SERVICE_ACCOUNT_DIR } from './service-account.js';

export { SERVICE_ACCOUNT_DIR };

/** Where the Kubernetes API is and how we authenticate to it. */
export interface ConnectionOptions {
  /** Linkerd's `host`/`port`: a plain-HTTP API such as `kubectl proxy`. */
  host?: string;
  port?: number;
  env: NodeJS.ProcessEnv;
  /** Where the service account's token, ca.crt and namespace live (tests point it elsewhere). */
  serviceAccountDir?: string;
}

/** An error from the API carrying its HTTP status (and the Status object's message when there is one). */
export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
    readonly reason?: string,
  ) {
    super(message);
  }
}

/**
 * A connection to the Kubernetes API built on `@kubernetes/client-node`: its KubeConfig does the
 * config loading, TLS and authentication, its Watch streams watch events; lists are a plain GET through
 * the same agent and headers so that both verbs authenticate identically.
 */
export class KubeConnection {
  readonly watcher: Watch;
  private readonly tokenAuth: RotatingTokenAuth | undefined;

  private constructor(
    readonly kubeConfig: KubeConfig,
    /** How it was found: `in-cluster`, `kubeconfig <file>`, `proxy http://host:port`. */
    readonly source: string,
    tokenAuth?: RotatingTokenAuth,
  ) {
    this.watcher = new Watch(kubeConfig);
    this.tokenAuth = tokenAuth;
  }

  get server(): string {
    return this.kubeConfig.getCurrentCluster()?.server ?? '';
  }

  /** The namespace of the current context (in-cluster: the pod's own namespace), if known. */
  get namespace(): string | undefined {
    const ctx = this.kubeConfig.getContextObject(this.kubeConfig.getCurrentContext());
    return ctx?.namespace?.trim() || undefined;
  }

  static proxy(host: string, port: number): KubeConnection {
    const kc = new KubeConfig();
    const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    // client-node refuses http:// unless skipTLSVerify is set; there is no TLS to verify here.
    kc.loadFromClusterAndUser({ name: 'proxy', server: `http://${h}:${port}`, skipTLSVerify: true }, { name: 'proxy' });
    return new KubeConnection(kc, `proxy http://${h}:${port}`);
  }

  /**
   * In-cluster service account. client-node's own token-file provider re-reads the token only every
   * 60 s; we re-read whenever the file changes (kubelet rotates projected tokens by swapping a symlink)
   * and at once after a 401. The CA bundle is read from its file on every connection.
   */
  static inCluster(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): KubeConnection {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT;
    if (!host || !port) throw new Error('in-cluster Kubernetes config needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT');
    const h = host.includes(':') ? `[${host}]` : host;
    const kc = new KubeConfig();
    const auth = new RotatingTokenAuth(join(dir, 'token'));
    kc.addAuthenticator(auth);
    let namespace: string | undefined;
    try {
      namespace = readFileSync(join(dir, 'namespace'), 'utf8').trim() || undefined;
    } catch {
      namespace = undefined;
    }
    kc.loadFromOptions({
      clusters: [{ name: 'in-cluster', server: `https://${h}:${port}`, caFile: join(dir, 'ca.crt'), skipTLSVerify: false }],
      users: [{ name: 'service-account', authProvider: { name: RotatingTokenAuth.providerName, config: {} } } as User],
      contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'service-account', namespace }],
      currentContext: 'in-cluster',
    });
    return new KubeConnection(kc, 'in-cluster', auth);
  }

  /** `KUBECONFIG` (a `:`-separated list, merged like kubectl) or `~/.kube/config`. */
  static kubeconfig(files: string[]): KubeConnection {
    const kc = loadKubeconfigFile(files[0]!);
    for (const file of files.slice(1)) kc.mergeConfig(loadKubeconfigFile(file), true);
    if (!kc.getCurrentCluster()) throw new Error(`kubeconfig ${files.join(delimiter)}: no current context with a cluster`);
    return new KubeConnection(kc, `kubeconfig ${files.join(delimiter)}`);
  }

  /**
   * Linkerd `host`/`port` when given; else the service account when running in a pod; else a kubeconfig;
   * else Linkerd's default `localhost:8001` (a `kubectl proxy`), with `warn` saying so.
   */
  static resolve(options: ConnectionOptions, warn: (msg: string) => void = () => {}): KubeConnection {
    const { env } = options;
    if (options.host !== undefined || options.port !== undefined) {
      return KubeConnection.proxy(options.host ?? 'localhost', options.port ?? 8001);
    }
    const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
    if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && existsSync(join(dir, 'token'))) {
      return KubeConnection.inCluster(env, dir);
    }
    const files = env.KUBECONFIG
      ? env.KUBECONFIG.split(delimiter).filter(Boolean)
      : [join(env.HOME || homedir(), '.kube', 'config')];
    const present = files.filter((f) => existsSync(f));
    if (present.length > 0) return KubeConnection.kubeconfig(present);
    warn(
      'no Kubernetes API configured (no host/port, not in a pod, no kubeconfig at ' +
        files.join(delimiter) +
        '); using http://localhost:8001 (kubectl proxy)',
    );
    return KubeConnection.proxy('localhost', 8001);
  }

  /** GET a JSON document (a list) from the API. */
  async get(path: string, query: Record<string, string | number | undefined>, signal?: AbortSignal): Promise<any> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const options = await this.kubeConfig.applyToFetchOptions({});
    const headers: Record<string, string> = { accept: 'application/json' };
    (options.headers as unknown as Headers | undefined)?.forEach((value, key) => (headers[key] = value));
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method: 'GET', headers, agent: options.agent as http.Agent, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: any;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status === 401) this.tokenAuth?.invalidate();
          if (status !== 200) {
            const message = body?.message ?? (text.slice(0, 200) || http.STATUS_CODES[status]);
            reject(new KubeApiError(`GET ${path}: HTTP ${status}: ${message}`, status, body?.reason));
          } else if (body === undefined) {
            reject(new KubeApiError(`GET ${path}: response is not JSON`, status));
          } else {
            resolve(body);
          }
        });
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`GET ${path}: no response within 30 s`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** Called after a watch answered 401: the token may have rotated under us. */
  unauthorized(): void {
    this.tokenAuth?.invalidate();
  }
}

/** client-node's parse errors do not say which file they are about; with a KUBECONFIG list that matters. */
function loadKubeconfigFile(file: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new Error(`kubeconfig ${file}: ${(err as Error).message}`);
  }
  return kc;
}

/** Bearer token from a file, re-read when the file changes (or after a 401). */
class RotatingTokenAuth {
  static readonly providerName = 'kube-grpc-router-token-file';
  private token = '';
  private stamp = '';

  constructor(private readonly file: string) {}

  isAuthProvider(user: User): boolean {
    return user.authProvider?.name === RotatingTokenAuth.providerName;
  }

  async applyAuthentication(_user: User, opts: { headers?: Record<string, unknown> }): Promise<void> {
    let stamp = '';
    try {
      const st = statSync(this.file);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      stamp = 'missing';
    }
    if (stamp !== this.stamp) {
      this.stamp = stamp;
      try {
        this.token = readFileSync(this.file, 'utf8').trim();
      } catch {
        this.token = '';
      }
    }
    opts.headers ??= {};
    if (this.token) opts.headers['Authorization'] = `Bearer ${this.token}`;
  }

  invalidate(): void {
    this.stamp = '';
  }
}
