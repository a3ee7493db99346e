import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';

/** What client-node's `applyToHTTPSOptions` puts in request options for TLS and the target. */
export type ApiRequestOptions = https.RequestOptions & { agent?: http.Agent | boolean };

/**
 * One keep-alive agent, and one TLS secure context, for every request to the Kubernetes API while
 * the TLS material (CA, client certificate and key, verification) stays the same.
 *
 * client-node builds a new agent for each request, so each watch had its own TLS connection with its
 * own secure context (the CA parsed again, an OpenSSL SSL_CTX each): ~330 KiB of RSS per watch pair
 * on Node 24 (bench:k8s-watches). Sharing the secure context leaves each watch only its connection,
 * and keep-alive lets a watch reuse the connection its list (or the watch before it) used.
 * The material is read again for every request, as client-node does (a rotated CA bundle takes effect
 * for the next connection); when it changes, a new agent takes over and the old one's idle
 * connections are closed (its watches keep theirs until they end).
 */
export class SharedAgent {
  private agent: http.Agent | undefined;
  private material: ApiRequestOptions = {};

  constructor(private readonly server: string) {}

  /** The agent for a request whose TLS options client-node filled in `options`. */
  for(options: ApiRequestOptions): http.Agent {
    if (this.agent && sameMaterial(this.material, options)) return this.agent;
    if (this.agent) for (const sockets of Object.values(this.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
    this.material = options;
    // The watches' sockets are in use for minutes; a few idle ones are enough for lists between them.
    const common = { keepAlive: true, maxFreeSockets: 16 };
    this.agent = this.server.startsWith('https:')
      ? new https.Agent({
          ...common,
          secureContext: tls.createSecureContext({ ca: options.ca, cert: options.cert, key: options.key }),
          ...(options.rejectUnauthorized !== undefined ? { rejectUnauthorized: options.rejectUnauthorized } : {}),
          ...(options.servername ? { servername: options.servername } : {}),
        })
      : new http.Agent(common);
    return this.agent;
  }
}

function sameMaterial(a: ApiRequestOptions, b: ApiRequestOptions): boolean {
  return (
    same(a.ca, b.ca) && same(a.cert, b.cert) && same(a.key, b.key) && a.rejectUnauthorized === b.rejectUnauthorized && a.servername === b.servername
  );
}

function same(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  return a === b;
}
