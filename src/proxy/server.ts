import * as net from 'node:net';
import type * as tls from 'node:tls';
import { H2Connection, H2SessionError, type H2ConnectionHandler } from '../h2/connection.js';
import { SharedReads, adoptWithReads } from '../h2/shared-reads.js';
import type { H2Stream } from '../h2/stream.js';
import { WindowCounter, type H2LimitName } from '../h2/limits.js';
import { ReadBudget } from '../h2/read-budget.js';
import { ErrorCode } from '../h2/constants.js';
import type { HeaderList } from '../h2/hpack/index.js';
import type { ServerConfig } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { Status, isGrpcContentType } from './grpc.js';
import { answerError } from './error-answer.js';
import { headerMapOf, valueOf, type HeaderMap } from './headers.js';
import { ClientUsage, admitConnections, type ConnectionsPerClient } from '../util/holds-per-client.js';
import { ReloadingMaterial, type CertificateInfo } from '../tls/material.js';
import { describeTlsFailure, tlsFailureReason, type TlsFailureReason } from '../tls/reasons.js';
import { nodeTls } from '../tls/node-tls.js';
import { realClock } from '../util/clock.js';

/**
 * The router's HTTP/2 listener (h2c, prior knowledge) on the engine of src/h2: one H2Connection
 * per accepted socket, whose events go to the call hung on each stream (`stream.user`). The engine
 * enforces the protocol and the abuse limits (each a `servers[]` key); this file adds what only
 * time can tell:
 * - a connection that has not sent the client preface and SETTINGS within `prefaceTimeoutMs` is
 *   destroyed;
 * - a connection with no open stream for `idleTimeoutMs` is sent GOAWAY(NO_ERROR) and closed once
 *   quiet (gRPC clients take that as "reconnect" and fail no call); should the socket not be gone
 *   `GOAWAY_GRACE_MS` later, it is destroyed;
 * - a connection silent for `keepAliveIntervalMs` gets a PING; one not acknowledged within
 *   `keepAliveTimeoutMs` is destroyed (a dead peer, a half-open TCP connection);
 * - the engine resets a stream whose client keeps its window shut for `sendTimeoutMs`, and
 *   destroys a connection whose client reads none of its socket for as long.
 * A protocol error is answered by the engine with GOAWAY and the socket closes (RFC 9113 §5.4.1).
 *
 * With `tls` the listener is a tls.Server offering only ALPN `h2` (RFC 9113 §3.2); the handshake
 * must complete within `prefaceTimeoutMs` too. Its certificate and key follow their files: a new,
 * matching pair goes in with setSecureContext, so new handshakes use it while open connections
 * carry on with theirs.
 */
export interface StreamHandler {
  /** A new request. `headers` is the router's to edit; the engine's list is already released. */
  handleStream(stream: H2Stream, headers: HeaderMap): void;
}

/** What a server stream's owner (the call) is told; the connection finds it at `stream.user`. */
export interface InboundEvents {
  onInboundData(data: Buffer, endStream: boolean): void;
  /** Request trailers (they end the request). The list is reused after the call returns. */
  onInboundTrailers(list: HeaderList): void;
  /** Whether request trailers arriving now would be kept (for the first attempt, or a replay). */
  keepsTrailers(): boolean;
  /** The server will not take the rest of the request (one of its bounds): answer `status` and end the call. */
  onInboundRefused(status: number, message: string): void;
  onInboundReset(code: number): void;
  onInboundDrain(): void;
  /** The stream's last event. */
  onInboundClose(): void;
}

/**
 * Why the router's side of a client connection ended: a fixed set, fit for a metric label.
 * `protocol_error`: the client broke RFC 9113 or an abuse limit and was sent GOAWAY with an error;
 * `error`: the socket failed (a reset, …).
 */
export const CLOSE_REASONS = ['peer', 'error', 'protocol_error', 'preface_timeout', 'idle', 'unresponsive', 'shutdown'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

export interface ServerHooks {
  onConnection?(delta: number): void;
  /** A client connection ended, for `reason`. */
  onConnectionClosed?(reason: CloseReason): void;
  /** One of the engine's limits stopped a client (a stream refused, a flood cut off). */
  onLimit?(configKey: string): void;
  /** A client's TLS handshake failed (or it did not choose h2). */
  onTlsFailure?(reason: TlsFailureReason): void;
}

/**
 * After the router sends GOAWAY to close a connection gracefully, the client gets this long to close
 * it (or the last bytes to drain) before the socket is destroyed. Long enough for a GOAWAY to cross
 * any sane link, short enough that a client ignoring it cannot pile up descriptors.
 */
export const GOAWAY_GRACE_MS = 1000;

/** A limit of the engine as the config key that sets it (metric label values, error messages). */
function limitKey(limit: H2LimitName): string {
  return `servers[].${LIMIT_KEYS[limit]}`;
}

/** Each engine limit under the `servers[]` key that sets it. */
const LIMIT_KEYS: Record<H2LimitName, string> = {
  maxConcurrentStreams: 'maxConcurrentStreamsPerConnection',
  maxHeaderListSize: 'maxHeaderListBytes',
  maxHeaderBlockSize: 'maxHeaderListBytes',
  maxContinuationFrames: 'maxContinuationFrames',
  maxRapidResets: 'maxResetStreamsPerSecond',
  rapidResetWindowMs: 'maxResetStreamsPerSecond',
  maxPings: 'maxPingsPerSecond',
  maxSettings: 'maxSettingsPerSecond',
  maxEmptyFrames: 'maxEmptyFramesPerSecond',
  floodWindowMs: 'maxPingsPerSecond',
  maxQueuedBytes: 'maxBufferedBytesPerConnection',
  closeTimeoutMs: 'closeTimeoutMs',
  sendTimeoutMs: 'sendTimeoutMs',
  socketTimeoutMs: 'sendTimeoutMs',
  headerBlockTimeoutMs: 'prefaceTimeoutMs',
  readBudget: 'maxBufferedBytes',
  readBudgetPerClient: 'maxBufferedBytesPerClient',
};

/** One client connection: the engine, its timers and why it ended. */
class ServerConn implements H2ConnectionHandler {
  readonly h2: H2Connection;
  reason: CloseReason | undefined;
  private preface: NodeJS.Timeout | undefined;
  private idle: NodeJS.Timeout | undefined;
  private grace: NodeJS.Timeout | undefined;
  /** What this connection's client address holds over all its connections. */
  private readonly client: ClientUsage;

  constructor(
    private readonly server: H2Server,
    socket: net.Socket,
    reads?: SharedReads,
  ) {
    const c = server.config;
    this.client = server.perClient.usageOf(socket.remoteAddress) ?? new ClientUsage();
    // One client's rapid resets count over all its connections (up to maxConnectionsPerClient): each
    // is forwarded to the endpoint connections every client shares, as HEADERS and RST_STREAM.
    const rapidResets = (this.client.rapidResets ??= new WindowCounter(c.maxResetStreamsPerSecond, 1000));
    this.h2 = new H2Connection(socket, this, {
      role: 'server',
      reads,
      maxConcurrentStreams: c.maxConcurrentStreamsPerConnection,
      maxHeaderListSize: c.maxHeaderListBytes,
      // An over-limit block must cost only its stream, so the reader buffers well past the limit.
      maxHeaderBlockSize: Math.max(256 * 1024, 4 * c.maxHeaderListBytes),
      maxContinuationFrames: c.maxContinuationFrames,
      // The counter carries maxResetStreamsPerSecond per second: maxRapidResets would go unread.
      rapidResetCounter: rapidResets,
      rapidResetScope: 'from this client address, over all its connections',
      maxPings: c.maxPingsPerSecond,
      maxSettings: c.maxSettingsPerSecond,
      maxEmptyFrames: c.maxEmptyFramesPerSecond,
      floodWindowMs: 1000,
      maxQueuedBytes: c.maxBufferedBytesPerConnection,
      sendTimeoutMs: c.sendTimeoutMs,
      socketTimeoutMs: c.sendTimeoutMs,
      // A field block is what a client starts a call with: it must arrive as a preface must.
      headerBlockTimeoutMs: c.prefaceTimeoutMs,
      // What a client may send ahead of the router's forwarding it: the memory bound on the receive side.
      initialWindowSize: Math.min(c.maxBufferedBytesPerConnection, 1 << 20),
      connectionWindowSize: c.maxBufferedBytesPerConnection,
      readBudget: server.readBudget,
      readBudgetClient: this.client, // its part of the budget, over its address's connections
      onLimit: server.onLimit,
      limitKey,
    });
    if (server.draining) {
      this.closing('shutdown');
      this.closeGracefully();
      return;
    }
    if (c.prefaceTimeoutMs > 0) this.preface = setTimeout(onPrefaceTimeout, c.prefaceTimeoutMs, this);
    if (c.idleTimeoutMs > 0) this.idle = setTimeout(onIdle, c.idleTimeoutMs, this);
    if (c.keepAliveIntervalMs > 0) this.h2.keepAlive(c.keepAliveIntervalMs, c.keepAliveTimeoutMs, () => this.unresponsive());
  }

  /** Remember the first reason only: the one that started the close. */
  closing(reason: CloseReason): void {
    this.reason ??= reason;
  }

  // ------------------------------------------------------------- engine events

  onStream(stream: H2Stream, list: HeaderList): void {
    const server = this.server;
    const c = server.config;
    this.opened(stream);
    if (server.openStreams > c.maxConcurrentRequests) {
      return this.refuse(stream, list, 'maxConcurrentRequests', `the router has ${c.maxConcurrentRequests} calls in flight on this server`);
    }
    if (this.client.streams > c.maxConcurrentRequestsPerClient) {
      return this.refuse(stream, list, 'maxConcurrentRequestsPerClient', `this client has ${c.maxConcurrentRequestsPerClient} calls in flight on this server`);
    }
    const passed = this.headerBoundPassed(stream.headerListSize);
    if (passed !== undefined) return this.refuse(stream, list, ...passed);
    const headers = headerMapOf(list);
    stream.shares = this.client; // the call's endpoint streams count against this client's shares
    try {
      server.handler.handleStream(stream, headers);
    } catch (e) {
      // A bug or a client racing us must cost one stream, never the process.
      server.log.error('stream handler failed', { error: e as Error });
      if (!stream.closed) stream.reset(ErrorCode.INTERNAL_ERROR);
    }
  }

  onHeaderListTooLarge(stream: H2Stream, list: HeaderList): void {
    this.opened(stream);
    this.releaseHeaderBytes(stream); // nothing of it is kept
    // Answered here, so one oversized request costs only its own stream (HPACK stayed in step).
    const limit = this.server.config.maxHeaderListBytes;
    const message = `request header list exceeds the limit of ${limit} bytes (servers[].maxHeaderListBytes)`;
    answerError(stream, isGrpcContentType(valueOf(list, 'content-type')), Status.RESOURCE_EXHAUSTED, message, true, 431);
  }

  /** Every stream the engine hands over is counted until it leaves through onStreamClose. */
  private opened(stream: H2Stream): void {
    this.server.openStreams++;
    this.client.streams++;
    this.holdHeaderBytes(stream.headerListSize);
  }

  /** A call keeps `bytes` more of request header lists: counted on the server and on its client. */
  private holdHeaderBytes(bytes: number): void {
    this.server.headerBytes += bytes;
    this.client.headerBytes += bytes;
  }

  /**
   * A call keeps its request headers (and trailers) until an endpoint answers, for a retry: the
   * bound on what they hold that `added` more bytes passed, as [key, what], if any.
   */
  private headerBoundPassed(added: number): [key: string, what: string] | undefined {
    const server = this.server;
    const c = server.config;
    if (server.headerBytes > c.maxHeaderBytesInFlight) {
      return ['maxHeaderBytesInFlight', `the router holds ${server.headerBytes - added} bytes of request headers for calls in flight on this server`];
    }
    if (this.client.headerBytes > c.maxHeaderBytesInFlightPerClient) {
      return ['maxHeaderBytesInFlightPerClient', `this client's calls in flight hold ${this.client.headerBytes - added} bytes of request headers`];
    }
    return undefined;
  }

  /** The stream's header bytes are no longer held (it closed, or was refused: nothing of it is kept). */
  private releaseHeaderBytes(stream: H2Stream): void {
    this.server.headerBytes -= stream.headerListSize;
    this.client.headerBytes -= stream.headerListSize;
    stream.headerListSize = 0;
  }

  /** Counts a call stopped by `servers[].key`; the message for its client. */
  private limitReached(key: string, what: string): string {
    this.server.hooks.onLimit?.(`servers[].${key}`);
    return `${what} (servers[].${key})`;
  }

  /** Answers a call past one of the server's bounds with RESOURCE_EXHAUSTED (503 for plain HTTP), naming it. */
  private refuse(stream: H2Stream, list: HeaderList, key: string, what: string): void {
    this.releaseHeaderBytes(stream); // nothing of it is kept, however long its answer waits for window
    answerError(stream, isGrpcContentType(valueOf(list, 'content-type')), Status.RESOURCE_EXHAUSTED, this.limitReached(key, what), true, 503);
    // §8.1: answered, so the rest of the request is not wanted (unless the answer waits for window).
    if (!stream.closed && stream.queuedBytes === 0) stream.reset(ErrorCode.NO_ERROR);
  }

  onHeaders(stream: H2Stream, list: HeaderList): void {
    const call = stream.user as InboundEvents | undefined;
    if (call === undefined) return;
    // Request trailers the call keeps (like its headers) count with them.
    if (call.keepsTrailers()) {
      const bytes = this.h2.lastHeaderListSize;
      stream.headerListSize += bytes;
      this.holdHeaderBytes(bytes);
      const passed = this.headerBoundPassed(bytes);
      if (passed !== undefined) return call.onInboundRefused(Status.RESOURCE_EXHAUSTED, this.limitReached(...passed));
    }
    call.onInboundTrailers(list);
  }

  onData(stream: H2Stream, data: Buffer, endStream: boolean): void {
    const call = stream.user as InboundEvents | undefined;
    if (call !== undefined) call.onInboundData(data, endStream);
    else stream.consumed(data.length); // nobody forwards it: return the window
  }

  onReset(stream: H2Stream, code: number): void {
    (stream.user as InboundEvents | undefined)?.onInboundReset(code);
  }

  onStreamClose(stream: H2Stream): void {
    const call = stream.user as InboundEvents | undefined;
    const server = this.server;
    server.openStreams--;
    this.client.streams--;
    this.releaseHeaderBytes(stream);
    stream.user = undefined;
    // The idle clock starts when the last stream ends.
    if (this.h2.activeStreams === 0) this.idle?.refresh();
    call?.onInboundClose();
  }

  onDrain(stream: H2Stream): void {
    (stream.user as InboundEvents | undefined)?.onInboundDrain();
  }

  onGoaway(): void {
    // The client will open no more streams; the engine closes once the open ones end.
  }


  onClose(error: Error | null): void {
    clearTimeout(this.preface);
    clearTimeout(this.idle);
    clearTimeout(this.grace);
    if (error instanceof H2SessionError) {
      if (error.local && error.code !== ErrorCode.NO_ERROR) this.closing('protocol_error');
    } else if (error !== null) {
      this.closing('error');
    }
    this.server.closed(this);
  }

  // ------------------------------------------------------------- timers

  /** @internal */ prefaceTimedOut(): void {
    this.preface = undefined;
    if (this.h2.peerSettingsReceived) return;
    this.closing('preface_timeout');
    this.h2.socket.destroy();
  }

  /** @internal */ idleTimedOut(): void {
    if (this.h2.activeStreams > 0 || this.h2.isClosed) return; // re-armed when the last stream ends
    this.closing('idle');
    this.closeGracefully();
  }

  /** A keepalive PING went unanswered. */
  private unresponsive(): void {
    this.closing('unresponsive');
    this.h2.socket.destroy();
  }

  /** The client read nothing of what its socket holds for sendTimeoutMs (the engine destroys it). */
  onUnresponsive(): void {
    this.closing('unresponsive');
  }

  /**
   * GOAWAY(NO_ERROR); the engine ends the socket once the open streams have ended. If it is still
   * there GOAWAY_GRACE_MS after the last stream (a client not reading, bytes stuck behind a full
   * window), it is destroyed.
   */
  closeGracefully(): void {
    clearTimeout(this.idle);
    this.h2.close();
    clearTimeout(this.grace);
    this.grace = setTimeout(onGraceOver, GOAWAY_GRACE_MS, this);
  }

  /** @internal */ graceOver(): void {
    if (this.h2.isClosed) return;
    if (this.h2.activeStreams > 0) {
      // Draining streams finish on their own (the router bounds them); check again later.
      this.grace = setTimeout(onGraceOver, GOAWAY_GRACE_MS, this);
      return;
    }
    this.h2.socket.destroy();
  }

  destroy(): void {
    this.closing('shutdown');
    this.h2.destroy();
    this.h2.socket.destroy();
  }
}

function onPrefaceTimeout(c: ServerConn): void { c.prefaceTimedOut(); }
function onIdle(c: ServerConn): void { c.idleTimedOut(); }
function onGraceOver(c: ServerConn): void { c.graceOver(); }

export class H2Server {
  private readonly server: net.Server;
  /** TLS servers: the certificate and key (and client CA) in use, followed through their files. */
  readonly tlsMaterial: ReloadingMaterial | undefined;
  private readonly conns = new Set<ServerConn>();
  private readonly closedCounts = Object.fromEntries(CLOSE_REASONS.map((r) => [r, 0])) as Record<CloseReason, number>;
  private address: { ip: string; port: number } | undefined;
  /** @internal */ draining = false;
  /** Client streams open on this server, over every connection (bounded by maxConcurrentRequests). */
  openStreams = 0;
  /** Request header bytes of those streams (bounded by maxHeaderBytesInFlight). */
  headerBytes = 0;
  /** @internal Connections and what they hold, per client address. */
  readonly perClient: ConnectionsPerClient;
  /** @internal */ readonly onLimit: (limit: H2LimitName) => void;
  /** What every client's connection holds: requests not yet taken by endpoints, answers not yet by it (maxBufferedBytes, maxBufferedBytesPerClient). */
  readonly readBudget: ReadBudget;
  /** Stops the sweep of sendTimeoutUnderPressureMs, while readBudget is spent. */
  private pressureSweep: (() => void) | undefined;

  constructor(
    readonly config: ServerConfig,
    /** @internal */ readonly handler: StreamHandler,
    /** @internal */ readonly log: Logger,
    /** @internal */ readonly hooks: ServerHooks = {},
  ) {
    this.onLimit = (limit) => this.hooks.onLimit?.(limitKey(limit));
    this.readBudget = new ReadBudget(config.maxBufferedBytes, undefined /* the default share */, config.maxBufferedBytesPerClient);
    this.readBudget.onSpent = () => this.underPressure();
    if (config.tls) {
      const t = config.tls;
      const where = `${config.ip}:${config.port}`;
      const material = new ReloadingMaterial({ certPath: t.certPath, keyPath: t.keyPath, caPaths: t.caCertPath ? [t.caCertPath] : [] }, { log, use: `server ${where} tls` });
      const server = nodeTls().createServer(
        {
          ...material.material,
          ALPNProtocols: ['h2'],
          requestCert: t.caCertPath !== undefined,
          rejectUnauthorized: t.requireClientAuth,
          handshakeTimeout: config.prefaceTimeoutMs > 0 ? config.prefaceTimeoutMs : 120_000,
          noDelay: true,
        },
        (socket) => {
          // A client that offered no ALPN gets no h2 either (one offering only others got an alert).
          if (socket.alpnProtocol !== 'h2') {
            this.tlsFailed('no_h2', 'the client did not offer ALPN h2');
            socket.destroy();
            return;
          }
          // Client certificates optional (caCertPath without requireClientAuth): one shown must still verify.
          if (t.caCertPath !== undefined && !socket.authorized && Object.keys(socket.getPeerCertificate()).length > 0) {
            const code = String(socket.authorizationError);
            this.tlsFailed(tlsFailureReason(code), code);
            socket.destroy();
            return;
          }
          this.accept(socket);
        },
      );
      server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
        // A client certificate that fails verification is dropped by Node after the handshake;
        // its reason is on the socket, the error only says the socket closed.
        const code = socket.authorizationError;
        const reason = tlsFailureReason(typeof code === 'string' ? code : err);
        this.tlsFailed(reason, typeof code === 'string' ? code : err.message);
      });
      material.onChange((m) => server.setSecureContext(m));
      this.tlsMaterial = material;
      this.server = server;
    } else {
      // Paused: the socket Node made reads nothing before adoptWithReads gives its handle onread.
      this.server = net.createServer({ noDelay: true, pauseOnConnect: true }, (accepted) => {
        const reads = new SharedReads();
        this.accept(adoptWithReads(accepted, reads), reads);
      });
    }
    this.server.on('error', (e: Error) => this.log.warn('server error', { error: e.message }));
    // One client's share is bounded before the handshake (TLS) or the engine (h2c) cost anything,
    // so a refused connection is not a failed handshake either.
    this.perClient = admitConnections(this.server, config, (bound) => this.hooks.onLimit?.(`servers[].${bound}`));
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

  /** The certificate this server presents now (TLS servers only). */
  certificate(): CertificateInfo | undefined {
    const a = this.address ?? this.config;
    return this.tlsMaterial?.certificate(`server ${a.ip}:${a.port}`);
  }

  private tlsFailed(reason: TlsFailureReason, detail: string): void {
    this.log.debug('TLS handshake with a client failed', { reason: describeTlsFailure(reason, detail) });
    this.hooks.onTlsFailure?.(reason);
  }

  /** Client connections open now. */
  get connections(): number {
    return this.conns.size;
  }

  /** Client connections ended so far, by reason (a copy). */
  get closedConnections(): Record<CloseReason, number> {
    return { ...this.closedCounts };
  }

  private accept(socket: net.Socket, reads?: SharedReads): void {
    const conn = new ServerConn(this, socket, reads);
    if (conn.h2.isClosed) return;
    this.conns.add(conn);
    this.hooks.onConnection?.(1);
  }

  /** @internal */ closed(conn: ServerConn): void {
    if (!this.conns.delete(conn)) return;
    const reason = conn.reason ?? 'peer';
    this.closedCounts[reason]++;
    this.hooks.onConnection?.(-1);
    this.hooks.onConnectionClosed?.(reason);
  }

  /** Stop accepting connections and GOAWAY every client; open streams may finish (the router bounds how long). */
  goaway(): void {
    this.draining = true;
    this.server.close();
    for (const c of this.conns) {
      if (c.h2.isClosed) continue;
      c.closing('shutdown');
      c.closeGracefully();
    }
  }

  /**
   * maxBufferedBytes is spent: memory, not only time, is at stake. Until it is not, a call whose
   * client has taken none of its answer for sendTimeoutUnderPressureMs (its window shut) is
   * cancelled, as sendTimeoutMs does unpressed (Envoy's overload manager shortens timeouts the same
   * way): answers nobody reads hold the endpoint connections' windows, which every pod shares.
   */
  private underPressure(): void {
    const timeout = this.config.sendTimeoutUnderPressureMs;
    if (timeout <= 0 || this.pressureSweep !== undefined) return;
    this.pressureSweep = realClock.every(Math.max(1, timeout / 2), () => {
      if (!this.readBudget.spent) {
        this.pressureSweep?.();
        this.pressureSweep = undefined;
        return;
      }
      // The engine stamps stalls with the real clock (the servers' connections are given no other).
      const since = realClock.now() - timeout;
      for (const c of this.conns) {
        for (let n = c.h2.resetStalledSince(since); n > 0; n--) this.hooks.onLimit?.('servers[].sendTimeoutUnderPressureMs');
      }
    });
  }

  /** Close everything now. */
  close(): Promise<void> {
    this.pressureSweep?.();
    this.pressureSweep = undefined;
    this.draining = true;
    this.tlsMaterial?.close();
    for (const c of [...this.conns]) c.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
