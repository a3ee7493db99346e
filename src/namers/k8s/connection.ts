import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { User } from '@kubernetes/client-node';
import { SERVICE_ACCOUNT_DIR } from './service-account.js';
import { SharedAgent, type ApiRequestOptions } from './shared-agent.js';

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

/** A watch in progress: `abort` ends it (its `onDone` is called with no error). */
export interface WatchHandle {
  abort(): void;
}

/**
 * A connection to the Kubernetes API built on `@kubernetes/client-node`'s KubeConfig, which does the
 * config loading, TLS options and authentication for every request. Lists and watches are plain GETs
 * through one shared agent (see SharedAgent: client-node's Watch made an agent, a TLS connection and
 * a secure context per watch), so both verbs authenticate identically.
 */
export class KubeConnection {
  private readonly tokenAuth: RotatingTokenAuth | undefined;
  private readonly agents: SharedAgent;

  private constructor(
    readonly kubeConfig: KubeConfig,
    /** How it was found: `in-cluster`, `kubeconfig <file>`, `proxy http://host:port`. */
    readonly source: string,
    tokenAuth?: RotatingTokenAuth,
  ) {
    this.tokenAuth = tokenAuth;
    this.agents = new SharedAgent(this.server);
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
    const { url, lib, options } = await this.request(path, query);
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { ...options, signal }, (res) => {
        readBody(res, (text) => {
          const status = res.statusCode ?? 0;
          const body = parseJson(text);
          if (status !== 200) reject(this.failure('GET', path, status, text, body));
          else if (body === undefined) reject(new KubeApiError(`GET ${path}: response is not JSON`, status));
          else resolve(body);
        }, reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`GET ${path}: no response within 30 s`)));
      req.on('error', reject);
      req.end();
    });
  }

  /**
   * Watch a collection (`?watch=true`): `onEvent` for each event line (lines that are not JSON are
   * skipped, as client-node's Watch does), then `onDone` once: null when the server ended the watch or
   * it was aborted, else the error (a `KubeApiError` with the HTTP status for a non-200 answer). The
   * handle comes once the answer's headers arrived (or the request failed).
   */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: any) => void,
    onDone: (error: unknown) => void,
  ): Promise<WatchHandle> {
    const { url, lib, options } = await this.request(path, { ...query, watch: true });
    return new Promise((resolve) => {
      let done = false;
      const handle: WatchHandle = { abort: () => end(null) };
      const end = (error: unknown) => {
        if (done) return;
        done = true;
        // After a complete answer the request no longer owns its socket (it went back to the agent).
        req.destroy();
        onDone(error);
        resolve(handle);
      };
      const req = lib.request(url, options, (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          readBody(res, (text) => end(this.failure('WATCH', path, status, text, parseJson(text))), end);
          return;
        }
        resolve(handle);
        res.setEncoding('utf8');
        let partial = '';
        res.on('data', (text: string) => {
          const lines = (partial + text).split('\n');
          partial = lines.pop()!;
          for (const line of lines) {
            const event = parseJson(line);
            if (typeof event === 'object' && event !== null) onEvent(event.type, event.object);
            if (done) return;
          }
        });
        res.on('end', () => end(null));
        res.on('error', end);
        res.on('close', () => end(res.complete ? null : new Error(`WATCH ${path}: connection closed mid-answer`)));
      });
      // Watches idle for minutes: let TCP notice a peer that vanished (as client-node's Watch did).
      req.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
      req.on('error', end);
      req.end();
    });
  }

  /** URL, module and options (headers, auth, the shared agent) of one GET. */
  private async request(path: string, query: Record<string, string | number | boolean | undefined>) {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    // client-node fills in TLS options, auth headers and a new agent of its own (which we only use
    // for a cluster's proxyUrl: those agents are client-node's).
    const tlsAndAuth: ApiRequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(tlsAndAuth);
    const headers: Record<string, string> = { accept: 'application/json' };
    for (const [key, value] of Object.entries(tlsAndAuth.headers ?? {})) if (value !== undefined) headers[key] = String(value);
    if (tlsAndAuth.auth) headers['authorization'] = `Basic ${Buffer.from(tlsAndAuth.auth).toString('base64')}`;
    const agent = this.kubeConfig.getCurrentCluster()?.proxyUrl ? (tlsAndAuth.agent as http.Agent) : this.agents.for(tlsAndAuth);
    const lib = url.protocol === 'https:' ? https : http;
    return { url, lib, options: { method: 'GET', headers, agent } satisfies http.RequestOptions };
  }

  /** The error of a non-200 answer, with the Status object's message when there is one; a 401 re-reads the token. */
  private failure(verb: string, path: string, status: number, text: string, body: any): KubeApiError {
    if (status === 401) this.tokenAuth?.invalidate();
    const message = body?.message ?? (text.slice(0, 200) || http.STATUS_CODES[status]);
    return new KubeApiError(`${verb} ${path}: HTTP ${status}: ${message}`, status, body?.reason);
  }

  /** Called after a watch answered 401: the token may have rotated under us. */
  unauthorized(): void {
    this.tokenAuth?.invalidate();
  }
}

function readBody(res: http.IncomingMessage, onText: (text: string) => void, onError: (error: Error) => void): void {
  let chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('error', onError);
  res.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    // Node's https agent keeps a connection's first request (and so this answer) while the connection
    // lives: that is a watch's whole life once the watch reuses its list's connection.
    chunks = [];
    onText(text);
  });
}

function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
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
