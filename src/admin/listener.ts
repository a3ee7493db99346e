import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Metrics } from '../telemetry/metrics.js';
import type { Logger } from '../util/log.js';
import { required } from '../util/required.js';
import { admitConnections } from '../util/holds-per-client.js';
import type { AdminTimeouts } from './deps.js';
import { HttpError, lingerAfterEarlyAnswer, lingering, sendText } from './http.js';

// Not an import: its namespace would load the bundled undici (util/required.ts).
const { createServer } = required<typeof import('node:http')>('node:http');

export interface BoundedListenerOptions {
  ip: string;
  port: number;
  /** The config keys `ip` and `port` come from, for the bind error: e.g. `admin.ip, admin.port`. */
  keys: string;
  /** Open connections at most, and from one client address at most (`admin.maxConnections`, `admin.maxConnectionsPerClient`). */
  maxConnections: number;
  maxConnectionsPerClient: number;
  timeouts: AdminTimeouts;
  metrics: Metrics;
  log: Logger;
  /** Answers a request; an HttpError it throws is its status and message, anything else a 500. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export interface BoundedListener {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * An admin HTTP listener (node:http) bounded as anything a pod can reach must be: connections by
 * count, in all and per client address (more are closed as they arrive, and counted under the admin
 * keys that set the bounds), and by time (`timeouts`). The admin server and its probes listener are
 * both one of these.
 */
export async function listenBounded(options: BoundedListenerOptions): Promise<BoundedListener> {
  const { timeouts, metrics, log } = options;
  const server: Server = createServer({ headersTimeout: timeouts.headers, requestTimeout: timeouts.request, connectionsCheckingInterval: timeouts.check }, (req, res) => {
    if (lingering(req)) return void req.resume();
    options.handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        if (err.headers.connection === 'close') lingerAfterEarlyAnswer(req, res, timeouts.linger);
        return sendText(res, err.status, err.message, err.headers);
      }
      // A client's path goes into the log cut short: a 16 KB URL per request would be a log flood.
      log.error('admin request failed', { path: req.url?.slice(0, 200), err });
      sendText(res, 500, `Internal error: ${err instanceof Error ? err.message : String(err)}`);
    });
  });
  // Admin connections are short; do not let an idle browser tab keep close() waiting.
  server.keepAliveTimeout = timeouts.idle;
  // An answer the client stops reading: no progress for as long as a whole request may take ends it.
  server.timeout = timeouts.request;
  server.on('connection', (socket: Socket) => {
    metrics.adminConnections.inc();
    socket.once('close', () => metrics.adminConnections.dec());
  });
  const refused = { maxConnections: metrics.limitsReached.labels({ limit: 'admin.maxConnections' }), maxConnectionsPerClient: metrics.limitsReached.labels({ limit: 'admin.maxConnectionsPerClient' }) };
  admitConnections(server, options, (bound) => refused[bound].inc());

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: Error) => {
      reject(new Error(`admin server cannot listen on ${options.ip}:${options.port} (${options.keys}): ${err.message}`, { cause: err }));
    });
    server.listen(options.port, options.ip, () => {
      server.removeAllListeners('error');
      server.on('error', (err) => log.error('admin server error', { err }));
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
