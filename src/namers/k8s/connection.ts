import { existsSync } from 'node:fs';
import type { Agent } from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ApiAccess } from './api-access.js';
import { proxyAccess } from './proxy-access.js';
import { SERVICE_ACCOUNT_DIR, ServiceAccountAccess } from './service-account.js';
import { ApiTransports, type ApiRequestOptions } from './api-transports.js';
import type { SessionTimes } from './h2-sessions.js';
import { required } from '../../util/required.js';

// Not an import: on Node 24 an ESM import of node:http loads the bundled undici (util/required.ts).
const http = required<typeof import('node:http')>('node:http');

/** Where the Kubernetes API is and how we authenticate to it. */
export interface ConnectionOptions {
  /** Linkerd's `host`/`port`: a plain-HTTP API such as `kubectl proxy`. */
  host?: string;
  port?: number;
  env: NodeJS.ProcessEnv;
  /** Where the service account's token, ca.crt and namespace live (tests point it elsewhere). */
  serviceAccountDir?: string;
  /** How long HTTP/2 sessions idle and how they are PINGed (tests shorten them). */
  sessionTimes?: SessionTimes;
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
 * A connection to the Kubernetes API: lists and watches are plain GETs by one path (`send`), HTTP/2
 * streams on shared sessions to an `https:` server, else HTTP/1.1 through one shared agent (see
 * ApiTransports: client-node's Watch made an agent, a TLS connection and a secure context per
 * watch), each with the TLS material and credentials its ApiAccess gives it.
 */
export class KubeConnection {
  private readonly transports: ApiTransports;

  constructor(
    private readonly access: ApiAccess,
    times?: SessionTimes,
  ) {
    this.transports = new ApiTransports(access.server, times);
  }

  get server(): string {
    return this.access.server;
  }

  /** How it was found: `in-cluster`, `kubeconfig <file>`, `proxy http://host:port`. */
  get source(): string {
    return this.access.source;
  }

  /** The namespace of the current context (in-cluster: the pod's own namespace), if known. */
  get namespace(): string | undefined {
    return this.access.namespace;
  }

  static proxy(host: string, port: number): KubeConnection {
    return new KubeConnection(proxyAccess(host, port));
  }

  /**
   * Linkerd `host`/`port` when given; else the service account when running in a pod; else a kubeconfig
   * (the one case that loads `@kubernetes/client-node`); else Linkerd's default `localhost:8001`
   * (a `kubectl proxy`), with `warn` saying so.
   */
  static async resolve(options: ConnectionOptions, warn: (msg: string) => void = () => {}): Promise<KubeConnection> {
    const { env } = options;
    if (options.host !== undefined || options.port !== undefined) {
      return KubeConnection.proxy(options.host ?? 'localhost', options.port ?? 8001);
    }
    const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
    if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && existsSync(join(dir, 'token'))) {
      return new KubeConnection(new ServiceAccountAccess(env, dir), options.sessionTimes);
    }
    const files = env.KUBECONFIG
      ? env.KUBECONFIG.split(delimiter).filter(Boolean)
      : [join(env.HOME || homedir(), '.kube', 'config')];
    const present = files.filter((f) => existsSync(f));
    if (present.length > 0) {
      const { KubeconfigAccess } = await import('./kubeconfig-access.js');
      return new KubeConnection(new KubeconfigAccess(present), options.sessionTimes);
    }
    warn(
      'no Kubernetes API configured (no host/port, not in a pod, no kubeconfig at ' +
        files.join(delimiter) +
        '); using http://localhost:8001 (kubectl proxy)',
    );
    return KubeConnection.proxy('localhost', 8001);
  }

  /** GET a JSON document (a list) from the API. */
  get(path: string, query: Record<string, string | number | undefined>): Promise<any> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        clearTimeout(timer);
        end();
        reject(error);
      };
      const end = this.send(
        path,
        query,
        (status, body) =>
          readBody(body, (text) => {
            clearTimeout(timer);
            const parsed = parseJson(text);
            if (status !== 200) reject(this.failure('GET', path, status, text, parsed));
            else if (parsed === undefined) reject(new KubeApiError(`GET ${path}: response is not JSON`, status));
            else resolve(parsed);
          }, fail),
        fail,
      );
      const timer = setTimeout(() => fail(new Error(`GET ${path}: no response within 30 s`)), 30_000);
    });
  }

  /**
   * Watch a collection (`?watch=true`): `onEvent` for each event line (lines that are not JSON are
   * skipped, as client-node's Watch does), then `onDone` once: null when the server ended the watch or
   * it was aborted (`signal`: at any time, before its answer's headers too), else the error (a
   * `KubeApiError` with the HTTP status for a non-200 answer). Resolves once the answer's headers
   * arrived (the watch is connected) or it ended.
   */
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: any) => void,
    onDone: (error: unknown) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const end = (error: unknown) => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', aborted);
        close();
        onDone(error);
        resolve();
      };
      const aborted = () => end(null);
      const close = this.send(
        path,
        { ...query, watch: true },
        (status, body) => {
          if (status !== 200) return readBody(body, (text) => end(this.failure('WATCH', path, status, text, parseJson(text))), end);
          resolve();
          body.setEncoding('utf8');
          let partial = '';
          let complete = false;
          body.on('data', (text: string) => {
            // A large event comes in many chunks: only a chunk that ends a line is split.
            if (!text.includes('\n')) {
              partial += text;
              return;
            }
            const lines = (partial + text).split('\n');
            partial = lines.pop()!;
            for (const line of lines) {
              const event = parseJson(line);
              if (typeof event === 'object' && event !== null) onEvent(event.type, event.object);
              if (done) return;
            }
          });
          body.on('end', () => {
            complete = true;
            end(null);
          });
          body.on('error', end);
          body.on('close', () => end(complete ? null : new Error(`WATCH ${path}: connection closed mid-answer`)));
        },
        end,
      );
      // A request that never gets its answer's headers can still be given up (the reflector's stall timer).
      if (signal.aborted) end(null);
      else signal.addEventListener('abort', aborted, { once: true });
    });
  }

  /**
   * One GET, lists and watches alike: an HTTP/2 stream on a shared session for an `https:` server
   * that speaks h2 (without a proxy), else HTTP/1.1 through the shared agent (or the proxy's).
   * `onAnswer` once the answer's headers arrive, its body a Readable (`data`, `end`, `error`, `close`);
   * `onError` if it fails (before or after them). The function returned ends it.
   */
  private send(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onAnswer: (status: number, body: Readable) => void,
    onError: (error: Error) => void,
  ): () => void {
    let request: { destroy(): unknown } | undefined;
    let ended = false;
    (async () => {
      const url = new URL(this.server + path);
      for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
      const tlsAndAuth: ApiRequestOptions = {};
      await this.access.apply(tlsAndAuth);
      const headers: Record<string, string> = { accept: 'application/json' };
      for (const [key, value] of Object.entries(tlsAndAuth.headers ?? {})) if (value !== undefined) headers[key.toLowerCase()] = String(value);
      if (tlsAndAuth.auth) headers['authorization'] = `Basic ${Buffer.from(tlsAndAuth.auth).toString('base64')}`;
      const proxied = this.access.proxied ? (tlsAndAuth.agent as Agent) : undefined;
      const { agent, sessions } = proxied ? { agent: proxied, sessions: undefined } : this.transports.for(tlsAndAuth);
      const stream = await sessions?.request({ ...withoutConnectionHeaders(headers), ':method': 'GET', ':path': url.pathname + url.search });
      if (ended) return void stream?.destroy();
      if (stream) {
        request = stream;
        let answered = false;
        stream.on('response', (answer) => {
          answered = true;
          onAnswer(Number(answer[':status']), stream);
        });
        stream.on('error', onError);
        // A stream the server resets with NO_ERROR or CANCEL closes without an error.
        stream.on('close', () => answered || onError(new Error(`GET ${path}: stream closed before an answer (HTTP/2 code ${stream.rstCode})`)));
        return;
      }
      const req = (url.protocol === 'https:' ? https : http).request(url, { method: 'GET', headers, agent }, (res) => onAnswer(res.statusCode ?? 0, res));
      request = req;
      // Watches idle for minutes: let TCP notice a peer that vanished (as client-node's Watch did).
      req.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
      req.on('error', onError);
      req.end();
    })().catch(onError);
    return () => {
      ended = true;
      // After a complete HTTP/1.1 answer the request no longer owns its socket (it went back to the agent).
      request?.destroy();
    };
  }

  /** The error of a non-200 answer, with the Status object's message when there is one; a 401 re-reads the token. */
  private failure(verb: string, path: string, status: number, text: string, body: any): KubeApiError {
    if (status === 401) this.access.unauthorized();
    const message = body?.message ?? (text.slice(0, 200) || http.STATUS_CODES[status]);
    return new KubeApiError(`${verb} ${path}: HTTP ${status}: ${message}`, status, body?.reason);
  }

  /** Called after a watch answered 401: the token may have rotated under us. */
  unauthorized(): void {
    this.access.unauthorized();
  }
}

function readBody(res: Readable, onText: (text: string) => void, onError: (error: Error) => void): void {
  let chunks: Buffer[] = [];
  let complete = false;
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('error', onError);
  res.on('close', () => complete || onError(new Error('connection closed mid-answer')));
  res.on('end', () => {
    complete = true;
    const text = Buffer.concat(chunks).toString('utf8');
    // Node's https agent keeps a connection's first request (and so this answer) while the connection
    // lives: that is a watch's whole life once the watch reuses its list's connection.
    chunks = [];
    onText(text);
  });
}

/** HTTP/1.1's hop-by-hop headers, which HTTP/2 forbids (RFC 9113 §8.2.2); `host` is `:authority` there. */
function withoutConnectionHeaders(headers: Record<string, string>): Record<string, string> {
  const out = { ...headers };
  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']) delete out[name];
  return out;
}

function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
