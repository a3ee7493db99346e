import * as http2 from 'node:http2';
import type { Http2Server, Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { ServerConfig } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { isGrpcContentType } from './grpc.js';

/**
 * The router's HTTP/2 listener (h2c, prior knowledge). It enforces the per-connection limits in
 * nghttp2's own settings (streams beyond SETTINGS_MAX_CONCURRENT_STREAMS are refused, header lists
 * beyond SETTINGS_MAX_HEADER_LIST_SIZE rejected), bounds how long every connection may live without
 * doing anything useful, and swallows every protocol error on the connection it belongs to, so no
 * client can take the process down.
 *
 * Connection lifetimes. RFC 9113 §5.4.1: after sending GOAWAY for a connection error the endpoint
 * MUST close the TCP connection. nghttp2 answers connection errors itself (DATA on an idle or
 * half-closed stream, an oversized frame, …): it sends GOAWAY, marks the session terminated and
 * stops reading and writing. What Node does next depends on its version:
 * - Node 20 emits nothing ('error', 'frameError' and 'goaway' stay silent) and keeps the socket open
 *   for good (the client's FIN is never read: CLOSE-WAIT);
 * - Node 24 ends the socket itself once the GOAWAY is written (socket 'finish'), then destroys it
 *   with an NghttpError (ERR_HTTP2_ERROR, errno NGHTTP2_ERR_PROTO whatever the frame error was):
 *   socket 'error', socket 'close', server 'sessionError', session 'error', session 'close'.
 * The session 'error' is recorded as `protocol_error` (as is a bad client preface, which both
 * versions report that way); on Node 20 the keepalive below is what closes such a connection, and it
 * can only count it as `unresponsive`. So:
 * - a connection silent for `keepAliveIntervalMs` gets a PING; one that is not acknowledged within
 *   `keepAliveTimeoutMs` is destroyed. A session nghttp2 has terminated never writes the PING
 *   (outbound frames stay queued), so this is what finds and closes those on Node 20, as well as
 *   dead peers on every version;
 * - a connection that has not sent the client preface and SETTINGS within `prefaceTimeoutMs` is
 *   destroyed;
 * - a connection with no open stream for `idleTimeoutMs` is sent GOAWAY(NO_ERROR) and closed
 *   (`session.close()`: gRPC clients take that as "reconnect" and fail no call); should the socket
 *   not be gone `GOAWAY_GRACE_MS` later, it is destroyed.
 * `session.goaway()` alone never closes; `session.close()` waits for open streams; `session.destroy()`
 * sends a last GOAWAY and closes the socket now.
 */
export interface StreamHandler {
  handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void;
}

/**
 * Why the router's side of a client connection ended: a fixed set, fit for a metric label.
 * `protocol_error`: nghttp2 rejected what the client sent (and answered with GOAWAY) and Node said
 * so; `error`: any other session or socket error (a reset, …).
 */
export const CLOSE_REASONS = ['peer', 'error', 'protocol_error', 'preface_timeout', 'idle', 'unresponsive', 'shutdown'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

export interface ServerHooks {
  onConnection?(delta: number): void;
  /** A client connection ended, for `reason`. */
  onConnectionClosed?(reason: CloseReason): void;
}

/**
 * After the router sends GOAWAY to close a connection gracefully, the client gets this long to close
 * it (or the last bytes to drain) before the socket is destroyed. Long enough for a GOAWAY to cross
 * any sane link, short enough that a client ignoring it cannot pile up descriptors.
 */
export const GOAWAY_GRACE_MS = 1000;

/** One client connection's bookkeeping. */
class Conn {
  streams = 0;
  reason: CloseReason | undefined;
  preface: NodeJS.Timeout | undefined;
  idle: NodeJS.Timeout | undefined;
  pingAck: NodeJS.Timeout | undefined;
  grace: NodeJS.Timeout | undefined;
  pinging = false;

  constructor(
    readonly server: H2Server,
    readonly session: Http2Session,
  ) {}

  /** Remember the first reason only: the one that started the close. */
  closing(reason: CloseReason): void {
    this.reason ??= reason;
  }

  clearTimers(): void {
    clearTimeout(this.preface);
    clearTimeout(this.idle);
    clearTimeout(this.pingAck);
    clearTimeout(this.grace);
  }
}

const kConn = Symbol('conn');
type Tagged = Http2Session & { [kConn]?: Conn };

export class H2Server {
  private readonly server: Http2Server;
  private readonly sessions = new Set<Http2Session>();
  private readonly closed = Object.fromEntries(CLOSE_REASONS.map((r) => [r, 0])) as Record<CloseReason, number>;
  private address: { ip: string; port: number } | undefined;
  private draining = false;

  constructor(
    readonly config: ServerConfig,
    private readonly handler: StreamHandler,
    private readonly log: Logger,
    private readonly hooks: ServerHooks = {},
  ) {
    this.server = http2.createServer({
      settings: {
        maxConcurrentStreams: config.maxConcurrentStreamsPerConnection,
        maxHeaderListSize: config.maxHeaderListBytes,
        initialWindowSize: 1 << 20,
        enablePush: false,
      },
      maxSessionMemory: 64,
      // nghttp2 enforces the header list size; pairs only need a ceiling above any sane request.
      maxHeaderListPairs: 256,
      // The router decides what is a stream too many; Node's own outstanding-PING/SETTINGS caps stay.
      noDelay: true,
    } as http2.ServerOptions);
    this.server.on('stream', this.onStream);
    this.server.on('session', this.onSession);
    this.server.on('sessionError', (e: Error) => this.log.debug('client session error', { error: e.message }));
    this.server.on('error', (e: Error) => this.log.warn('server error', { error: e.message }));
  }

  /** Bind; rejects naming ip:port when the address cannot be taken. */
  listen(): Promise<{ ip: string; port: number }> {
    const { ip, port } = this.config;
    return new Promise((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) => {
        reject(new Error(`cannot listen on ${ip.includes(':') ? `[${ip}]` : ip}:${port}: ${e.code ?? ''} ${e.message}`.trim()));
      };
      this.server.once('error', onError);
      this.server.listen(port, ip, () => {
        this.server.removeListener('error', onError);
        const a = this.server.address();
        this.address = { ip, port: typeof a === 'object' && a ? a.port : port };
        resolve(this.address);
      });
    });
  }

  get bound(): { ip: string; port: number } | undefined {
    return this.address;
  }

  /** Client connections open now. */
  get connections(): number {
    return this.sessions.size;
  }

  /** Client connections ended so far, by reason (a copy). */
  get closedConnections(): Record<CloseReason, number> {
    return { ...this.closed };
  }

  private readonly onSession = (session: Tagged): void => {
    const conn = new Conn(this, session);
    session[kConn] = conn;
    this.sessions.add(session);
    this.hooks.onConnection?.(1);
    session.on('error', onSessionError);
    session.on('close', onSessionClose);
    if (this.draining) {
      conn.closing('shutdown');
      closeGracefully(conn);
      return;
    }
    const { prefaceTimeoutMs, idleTimeoutMs, keepAliveIntervalMs } = this.config;
    if (prefaceTimeoutMs > 0) {
      // nghttp2 checks the preface and that SETTINGS comes first; the first remote SETTINGS is both.
      conn.preface = setTimeout(onPrefaceTimeout, prefaceTimeoutMs, conn);
      session.once('remoteSettings', onRemoteSettings);
    }
    if (idleTimeoutMs > 0) conn.idle = setTimeout(onIdle, idleTimeoutMs, conn);
    if (keepAliveIntervalMs > 0) {
      // Node's session timeout: no frame read or written for this long.
      session.on('timeout', onSilent);
      session.setTimeout(keepAliveIntervalMs);
    }
  };

  /** @internal */ sessionClosed(session: Tagged): void {
    const conn = session[kConn];
    if (!this.sessions.delete(session) || !conn) return;
    conn.clearTimers();
    const reason = conn.reason ?? 'peer';
    this.closed[reason]++;
    this.hooks.onConnection?.(-1);
    this.hooks.onConnectionClosed?.(reason);
  }

  private readonly onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]): void => {
    const conn = (stream.session as Tagged | undefined)?.[kConn];
    if (conn) {
      conn.streams++;
      stream.once('close', () => {
        // The idle clock starts when the last stream ends.
        if (--conn.streams === 0) conn.idle?.refresh();
      });
    }
    // nghttp2 advertises SETTINGS_MAX_HEADER_LIST_SIZE but Node does not enforce it on what it
    // receives, so count here (RFC 9113 §6.5.2: name + value + 32 per field).
    let size = 0;
    for (let i = 0; i < rawHeaders.length; i++) size += rawHeaders[i]!.length + 16;
    if (size > this.config.maxHeaderListBytes) {
      rejectHeaders(stream, headers, size, this.config.maxHeaderListBytes);
      return;
    }
    try {
      this.handler.handleStream(stream, headers);
    } catch (e) {
      // A bug or a client racing us must cost one stream, never the process.
      this.log.error('stream handler failed', { error: e as Error });
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    }
  };

  /** Stop accepting connections and GOAWAY every client; open streams may finish (the router bounds how long). */
  goaway(): void {
    this.draining = true;
    this.server.close();
    for (const s of this.sessions) {
      const conn = (s as Tagged)[kConn];
      if (!conn || s.closed) continue;
      conn.closing('shutdown');
      // Idle checks and PINGs stop mattering: the connection ends with its last stream.
      clearTimeout(conn.idle);
      closeGracefully(conn);
    }
  }

  /** Close everything now. */
  close(): Promise<void> {
    this.draining = true;
    for (const s of this.sessions) {
      (s as Tagged)[kConn]?.closing('shutdown');
      s.destroy();
    }
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function rejectHeaders(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, size: number, limit: number): void {
  const message = `request header list of ${size} bytes exceeds the limit of ${limit}`;
  stream.on('error', () => {});
  try {
    if (isGrpcContentType(headers['content-type'])) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '8', 'grpc-message': message, 'l5d-err': message }, { endStream: true });
    } else {
      stream.respond({ ':status': 431, 'content-type': 'text/plain; charset=utf-8', 'l5d-err': message });
      stream.end(message + '\n');
    }
  } catch {
    // gone already
  }
  stream.resume();
}

/** nghttp2's own failures, not the client's: out of memory, a callback of Node's failed. */
const NGHTTP2_ERR_NOMEM = -901;
const NGHTTP2_ERR_CALLBACK_FAILURE = -902;

/**
 * An NghttpError (ERR_HTTP2_ERROR, errno an nghttp2 error code) on a server session means nghttp2
 * refused the client's bytes: a connection error it has answered with GOAWAY (Node 24 reports it;
 * Node 20 only for a bad client preface), flooding, too many CONTINUATIONs.
 */
function isProtocolError(e: Error): boolean {
  const { code, errno } = e as NodeJS.ErrnoException;
  return code === 'ERR_HTTP2_ERROR' && errno !== NGHTTP2_ERR_NOMEM && errno !== NGHTTP2_ERR_CALLBACK_FAILURE;
}

function onSessionError(this: Tagged, e: Error): void {
  const conn = this[kConn];
  conn?.closing(isProtocolError(e) ? 'protocol_error' : 'error');
  conn?.server['log'].debug('client connection error', { error: e.message, code: (e as NodeJS.ErrnoException).code });
}
function onSessionClose(this: Tagged): void {
  this[kConn]?.server.sessionClosed(this);
}
function onRemoteSettings(this: Tagged): void {
  const conn = this[kConn];
  if (conn) clearTimeout(conn.preface);
}
function onPrefaceTimeout(conn: Conn): void {
  conn.closing('preface_timeout');
  conn.session.destroy();
}

/** No stream for idleTimeoutMs: GOAWAY(NO_ERROR), so clients reconnect rather than fail a call. */
function onIdle(conn: Conn): void {
  if (conn.streams > 0 || conn.session.closed) return; // re-armed when the last stream ends
  conn.closing('idle');
  closeGracefully(conn);
}

/**
 * GOAWAY(NO_ERROR) and close once the open streams end (`session.close()`); if the connection
 * still has no stream and is not gone after GOAWAY_GRACE_MS (a client not reading, bytes stuck
 * behind a full window), destroy it.
 */
function closeGracefully(conn: Conn): void {
  const { session } = conn;
  if (session.destroyed) return;
  if (!session.closed) session.close();
  clearTimeout(conn.grace);
  conn.grace = setTimeout(onGraceOver, GOAWAY_GRACE_MS, conn);
}
function onGraceOver(conn: Conn): void {
  if (conn.session.destroyed) return;
  if (conn.streams > 0) {
    // Draining streams finish on their own (the router bounds them); check again later.
    conn.grace = setTimeout(onGraceOver, GOAWAY_GRACE_MS, conn);
    return;
  }
  conn.session.destroy();
}

/**
 * Nothing read or written for keepAliveIntervalMs: PING. An answer re-arms the clock; none within
 * keepAliveTimeoutMs means the peer is gone or nghttp2 has ended the session (it then never writes
 * the PING), and the socket is destroyed.
 */
function onSilent(this: Tagged): void {
  const conn = this[kConn];
  if (!conn || conn.pinging || this.destroyed) return;
  const { keepAliveIntervalMs, keepAliveTimeoutMs } = conn.server.config;
  conn.pinging = true;
  conn.pingAck = setTimeout(onPingTimeout, keepAliveTimeoutMs, conn);
  try {
    this.ping((err) => {
      conn.pinging = false;
      clearTimeout(conn.pingAck);
      if (!err && !this.destroyed) this.setTimeout(keepAliveIntervalMs);
    });
  } catch {
    // Too many PINGs outstanding, or the session is going: the ack timer decides.
  }
}
function onPingTimeout(conn: Conn): void {
  conn.closing('unresponsive');
  conn.session.destroy();
}
