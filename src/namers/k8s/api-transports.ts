import type { Agent } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { H2Sessions, type SessionTimes } from './h2-sessions.js';
import { required } from '../../util/required.js';

// Not an import: on Node 24 an ESM import of node:http loads the bundled undici (util/required.ts).
const http = required<typeof import('node:http')>('node:http');

/** What an ApiAccess puts in request options for TLS and the target (client-node's `applyToHTTPSOptions` for a kubeconfig). */
export type ApiRequestOptions = https.RequestOptions & { agent?: Agent | boolean };

/** Where a request goes: HTTP/2 sessions for an `https:` server (unless it turns out to speak only HTTP/1.1), else the agent. */
export interface Transport {
  agent: Agent;
  sessions: H2Sessions | undefined;
}

/**
 * One keep-alive agent, one pool of HTTP/2 sessions (H2Sessions) and one TLS secure context for
 * every request to the Kubernetes API while the TLS material (CA, client certificate and key,
 * verification) stays the same.
 *
 * client-node builds a new agent for each request, so each watch had its own TLS connection with its
 * own secure context (the CA parsed again, an OpenSSL SSL_CTX each): ~330 KiB of RSS per watch pair
 * on Node 24 (bench:k8s-watches). Sharing the secure context left each watch only its connection
 * (~100 KiB); HTTP/2 leaves it a stream. Over HTTP/1.1, keep-alive lets a watch reuse the connection
 * its list (or the watch before it) used.
 * The material is read again for every request, as client-node does (a rotated CA bundle takes effect
 * for the next connection); when it changes, a new agent and pool take over, the old agent's idle
 * connections are closed and the old sessions take no new streams (their watches go on until they end).
 */
export class ApiTransports {
  private transport: Transport | undefined;
  private material: ApiRequestOptions = {};

  constructor(
    private readonly server: string,
    private readonly times?: SessionTimes,
  ) {}

  /** The transport for a request whose TLS options its ApiAccess filled in `options`. */
  for(options: ApiRequestOptions): Transport {
    if (this.transport && sameMaterial(this.material, options)) return this.transport;
    if (this.transport) {
      // Its idle connections close now, and those its watches free later as they end.
      this.transport.agent.maxFreeSockets = 0;
      for (const sockets of Object.values(this.transport.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
      this.transport.sessions?.close();
    }
    this.material = options;
    // The watches' sockets are in use for minutes; a few idle ones are enough for lists between them.
    const common = { keepAlive: true, maxFreeSockets: 16 };
    if (!this.server.startsWith('https:')) return (this.transport = { agent: new http.Agent(common), sessions: undefined });
    const secure = {
      secureContext: tls.createSecureContext({ ca: options.ca, cert: options.cert, key: options.key }),
      ...(options.rejectUnauthorized !== undefined ? { rejectUnauthorized: options.rejectUnauthorized } : {}),
      ...(options.servername ? { servername: options.servername } : {}),
    };
    const sessions = new H2Sessions(new URL(this.server), secure, this.times);
    return (this.transport = { agent: new https.Agent({ ...common, ...secure }), sessions });
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
