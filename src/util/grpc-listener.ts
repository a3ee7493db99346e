import * as grpc from '@grpc/grpc-js';
import net from 'node:net';
import { admitConnections } from './holds-per-client.js';
import type { Logger } from './log.js';

/**
 * grpc-js server options for connections admitted by `listenAdmitting`: a connection with no stream
 * open for 5 minutes is closed (GOAWAY), so one kept only by PINGs does not hold its slot forever.
 * grpclb and ADS streams live as long as their clients, so a client in use is never idle; one whose
 * stream ended reconnects when it asks again.
 */
export const ADMITTED_CONNECTION_OPTIONS = { 'grpc.max_connection_idle_ms': 5 * 60_000 } as const satisfies grpc.ServerOptions;

/** Where a grpc-js service listens and how many connections it admits. */
export interface GrpcListenConfig {
  ip: string;
  port: number;
  /** Connections open at once; more are closed as they arrive. */
  maxConnections: number;
  /** Of them, from one client address (one pod). */
  maxConnectionsPerClient: number;
}

export interface GrpcListener {
  readonly port: number;
  /**
   * Stop accepting; resolves once every connection admitted has closed. Ending them is the grpc-js
   * server's (tryShutdown: gracefully, forceShutdown: at once), but its tryShutdown does not wait
   * for their sockets, as it does for a port it bound: a drain awaits both.
   */
  close(): Promise<void>;
}

/**
 * Serve `server` in plaintext from a net.Server of our own that admits connections before grpc-js
 * sees them: grpc-js's bindAsync takes every connection the kernel accepts, each costing ~12 KB and
 * a file descriptor for as long as its client keeps it. Admitted sockets are handed over through
 * grpc-js's public connection injector; refused ones are closed at once and counted by
 * `onLimit('<what>.maxConnections' | '<what>.maxConnectionsPerClient')` (`what`: the config key
 * of the service). Rejects naming `what` and the address when it cannot listen.
 */
export function listenAdmitting(
  server: grpc.Server,
  config: GrpcListenConfig,
  { what, log, onLimit }: { what: string; log: Logger; onLimit: (limit: string) => void },
): Promise<GrpcListener> {
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const listener = net.createServer({ noDelay: true }, (socket) => injector.injectConnection(socket));
  admitConnections(listener, config, (bound) => onLimit(`${what}.${bound}`));
  const host = config.ip.includes(':') ? `[${config.ip}]` : config.ip;
  return new Promise((resolve, reject) => {
    listener.once('error', (err) => reject(new Error(`${what}: cannot listen on ${host}:${config.port}: ${err.message}`, { cause: err })));
    listener.listen(config.port, config.ip, () => {
      listener.removeAllListeners('error');
      // An accept failing (EMFILE) must not end the process; the listener keeps listening.
      listener.on('error', (err) => log.warn(`${what} listener error`, { error: err.message }));
      resolve({ port: (listener.address() as net.AddressInfo).port, close: () => new Promise((closed) => listener.close(() => closed())) });
    });
  });
}
