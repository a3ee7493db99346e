import * as net from 'node:net';
import type * as tls from 'node:tls';
import { ReceiveBudget } from '../h2/receive-budget.js';
import { SharedReads } from '../h2/shared-reads.js';
import { ReadBudget } from '../h2/read-budget.js';
import { ShareBudget } from '../util/share-budget.js';
import { WindowGrowth } from '../h2/window-growth.js';
import { H2Connection, type H2ConnectionHandler, type H2ConnectionOptions, type RequestFields, type WaitingTally } from '../h2/connection.js';
import { TokenBucket } from '../util/token-bucket.js';
import { DEFAULT_INITIAL_WINDOW_SIZE, ErrorCode } from '../h2/constants.js';
import type { H2Stream } from '../h2/stream.js';
import type { FieldInput, HeaderList } from '../h2/hpack/index.js';
import { Backoff } from '../util/backoff.js';
import { realClock, type Clock } from '../util/clock.js';
import type { UpstreamTls } from '../tls/client-tls.js';
import type { EndpointBudgets } from '../telemetry/metrics.js';
import type { EndpointWindowsConfig } from '../config/types.js';
import { defaultEndpointWindowsConfig } from '../config/endpoint-windows.js';
import { REPLAY_BUDGET } from './replay-budget.js';
import { describeTlsFailure, isTlsError, tlsFailureReason, type TlsFailureReason } from '../tls/reasons.js';
import { nodeTls } from '../tls/node-tls.js';

/**
 * The HTTP/2 connections to one endpoint (h2c, prior knowledge), on the engine of src/h2. One
 * multiplexed connection carries every stream; a second one opens only when the peer's
 * SETTINGS_MAX_CONCURRENT_STREAMS is reached, up to `maxConnections`, past which a stream waits
 * in the engine of the least busy one for a slot. A stream may be opened while its connection is still
 * connecting (the bytes wait in the socket); until the endpoint's SETTINGS state its limit, the
 * first 100 streams are sent and the rest wait in the engine, so a burst opens one connection, not
 * one per hundred streams (grpc-go waits for stream quota the same way). A failed connect puts the
 * endpoint in a jittered backoff during which `request` refuses at once, so the caller retries
 * elsewhere instead of waiting.
 */
export interface UpstreamOptions {
  connectTimeoutMs: number;
  /** PING interval; 0 = off. */
  keepAliveIntervalMs: number;
  keepAliveTimeoutMs: number;
  /** Told about every connect attempt's outcome (metrics) and connection count changes. */
  onConnect?(ok: boolean): void;
  onSessions?(delta: number): void;
  /** Speak TLS (ALPN h2) to the endpoint instead of h2c. */
  tls?: UpstreamTls;
  /** Connect timeout, backoff and keepalive time; default the real clock. */
  clock?: Clock;
  /**
   * Connections open to the endpoint at most; past them, a stream waits on the least busy one for
   * a slot under the endpoint's stream limit. Default unbounded.
   */
  maxConnections?: number;
  /**
   * Streams on one connection before another opens, under maxConnections (past them the least busy
   * takes more, up to the endpoint's limit). Default (or 0): the endpoint's limit alone.
   */
  maxStreamsPerConnection?: number;
  /** Told each time a stream waits because maxConnections are open (metrics). */
  onConnectionLimit?(): void;
  /**
   * A connection whose socket holds request bytes the endpoint reads none of for this long is
   * closed, and its calls fail UNAVAILABLE (0: never). Default never.
   */
  sendTimeoutMs?: number;
  /** Told each time sendTimeoutMs closes a connection (metrics). */
  onSendTimeout?(): void;
  /**
   * RST_STREAMs one connection may send in a burst, refilled at resetsRefillPerSecond (0 or unset:
   * no bound). Past it the connection is retired as a GOAWAY'd one is: it takes no new stream, its
   * streams finish, then it closes; so calls cancelled by every pod of the node spread over
   * connections instead of passing the endpoint's own limit on one (see README, Limits).
   */
  maxResetsPerConnection?: number;
  resetsRefillPerSecond?: number;
  /** Told each time a connection past maxResetsPerConnection is retired, or cannot be (metrics). */
  onResetLimit?(): void;
}

/** What an endpoint stream's owner (the call) is told; the connection finds it at `stream.user`. */
export interface UpstreamEvents {
  /** Response headers, or trailers when the response has begun (`endStream` then true). List reused after return. */
  onUpHeaders(stream: H2Stream, list: HeaderList, endStream: boolean): void;
  onUpData(stream: H2Stream, data: Buffer, endStream: boolean): void;
  /** Reset by the endpoint or the engine; `refused`: never processed, safe to retry elsewhere. */
  onUpReset(stream: H2Stream, code: number, refused: boolean): void;
  onUpDrain(stream: H2Stream): void;
  /** The stream's last event. */
  onUpClose(stream: H2Stream): void;
}

/** Thrown by `request` when no connection can carry the stream now (nothing was sent). */
export class UpstreamUnavailable extends Error {}

/** Streams sent on a connection whose SETTINGS have not arrived (what grpc-go and nghttp2 assume); more wait for them. */
const STREAMS_BEFORE_SETTINGS = 100;
const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 10_000;
/**
 * Receive windows towards endpoints: what an answer may run ahead of its client. A stream starts at
 * STREAM_WINDOW and doubles as its client reads, up to MAX_STREAM_WINDOW while WINDOW_GROWTH lasts
 * (src/h2/window-growth.ts): a stream whose client reads nothing holds 16 KiB, not 1 MiB.
 */
const STREAM_WINDOW = 16 << 10;
const MAX_STREAM_WINDOW = 1 << 20;
const MAX_CONNECTION_WINDOW = 2 << 20;
/** Sized by `configureEndpointWindows` at start; until then (routers built by hand) the config's defaults. */
const DEFAULTS = defaultEndpointWindowsConfig();
export const WINDOW_GROWTH = new WindowGrowth(DEFAULTS.growthBytes, MAX_STREAM_WINDOW, DEFAULTS.growthBytesPerClient);
/**
 * Endpoint connections' windows past the protocol's first 65,535 octets, over the process. A
 * connection's window bounds what its streams' answers may hold together, but granted to every
 * connection it is multiplied by the connections: 20,000 calls whose clients read nothing, on 20
 * connections to one endpoint, held 20 windows of 8 MiB and the router grew past 300 MB. So a
 * connection starts at 65,535 octets and doubles its window, up to 2 MiB, each time half of it
 * goes back to the endpoint (answers arrive and are passed on, or early credit), while this
 * budget lasts; it gives the growth back when it closes. Connections that carry no answers (idle,
 * still connecting) take none of it; one keeps what it grew to while it lives. Past it a
 * connection keeps what it has, which early credit (RECEIVE_BUDGET) refills as answers arrive.
 * No share per client: connections are shared by every pod.
 */
export const CONNECTION_WINDOWS = new WindowGrowth(DEFAULTS.connectionBytes, MAX_CONNECTION_WINDOW, DEFAULTS.connectionBytes);
/**
 * Endpoints' answers the process gives back to their connection windows on arrival, before the
 * clients have taken them: the endpoint connections are shared by every client of the node, and
 * one client's unread answers must not shut the window for the others' (src/h2/receive-budget.ts).
 * Under that, a stalled stream holds only its own window; past it, flow control couples as before.
 */
export const RECEIVE_BUDGET = new ReceiveBudget(DEFAULTS.earlyCreditBytes);
/**
 * Request bytes passed on towards endpoints that their sockets have not yet written, over the
 * process. The call gives its client window back once the endpoint connection takes its bytes
 * (coupled flow control), and a connection takes up to maxQueuedBytes in its queue and as much in
 * its socket: an endpoint that grants a large window and reads nothing (a pod's own Service, a
 * wedged process) made one pod's calls hold ~8 MiB per connection, up to 256 connections per
 * endpoint, in no budget. Past this limit, a connection holding more than 16 KiB (its socket's
 * high-water mark at least) takes no more until it drains, so the calls keep their clients' bytes,
 * which the server's read budget bounds.
 */
export const QUEUED_REQUESTS = new ReadBudget(DEFAULTS.queuedRequestBytes);
/**
 * Of QUEUED_REQUESTS, what one client address's calls may hold (`endpointWindows.queuedRequestBytesPerClient`,
 * counted in its ClientUsage's `queuedRequestBytes`): the bytes its endpoint streams queued, and
 * those they moved into sockets past their high-water marks until written. One pod's calls to an
 * endpoint that reads nothing spent the whole budget alone, and every other pod's uploads then went
 * 16-64 KiB per drain until client.sendTimeoutMs. Past its share, a client's endpoint streams take
 * its calls' bytes but tell them to wait, so they keep their clients' windows (which
 * maxBufferedBytesPerClient bounds), while other clients' calls flow. The budget's own limit is
 * QUEUED_REQUESTS's, which also counts what is not any client's (the sockets' first bytes).
 */
export const QUEUED_REQUESTS_PER_CLIENT = new ShareBudget('queuedRequestBytes', Infinity, DEFAULTS.queuedRequestBytesPerClient);

/** Sizes the process-wide budgets from the config (at start, before any endpoint connection or call). */
export function configureEndpointWindows(c: EndpointWindowsConfig): void {
  REPLAY_BUDGET.resize(c.replayBytes, c.replayBytesPerClient);
  RECEIVE_BUDGET.limit = c.earlyCreditBytes;
  WINDOW_GROWTH.resize(c.growthBytes, c.growthBytesPerClient);
  CONNECTION_WINDOWS.resize(c.connectionBytes, c.connectionBytes);
  QUEUED_REQUESTS.resize(c.queuedRequestBytes);
  QUEUED_REQUESTS_PER_CLIENT.resize(Infinity, c.queuedRequestBytesPerClient);
}

/** What the process's endpoint-answer budgets hold now, for /metrics. */
export function endpointBudgets(): EndpointBudgets {
  return {
    windowGrowth: WINDOW_GROWTH.held,
    windowGrowthRefused: WINDOW_GROWTH.refused,
    earlyCredit: RECEIVE_BUDGET.held,
    connectionWindows: CONNECTION_WINDOWS.held,
    connectionWindowsRefused: CONNECTION_WINDOWS.refused,
    queuedRequests: QUEUED_REQUESTS.held,
    queuedRequestsSpent: QUEUED_REQUESTS.timesSpent,
    queuedRequestsClientSpent: QUEUED_REQUESTS_PER_CLIENT.shareRefused,
  };
}
const MAX_RESPONSE_HEADER_LIST = 1 << 16;

/** One connection to the endpoint. */
class UpstreamConn implements H2ConnectionHandler {
  readonly h2: H2Connection;
  /**
   * The endpoint may have processed streams on it: h2c once TCP connected (a slow server may accept
   * late and still process what waited in its socket); TLS once the endpoint's first bytes after the
   * handshake arrived (with TLS 1.3 a client finishes its handshake before the server has checked
   * its certificate, so only the server's SETTINGS say it was accepted).
   */
  connected = false;
  /**
   * The endpoint's SETTINGS arrived (RFC 9113 §3.4: a server's first frame): it speaks HTTP/2. Until
   * then the connect timeout runs, and a connection that ends is a failed connect (backoff), so a
   * listener that never speaks HTTP/2 (a wrong port, a hung process, an HTTP/1 server) holds no
   * call past connectTimeoutMs and is not reconnected in a loop.
   */
  spoke = false;
  /** TLS: the handshake completed on our side. */
  private secured = false;
  /** Sent more RST_STREAMs than maxResetsPerConnection allows: out of the pool, finishing its streams. */
  private retired = false;
  /** Sent more RST_STREAMs than maxResetsPerConnection allows, retired or not. */
  private resetsSpent = false;
  private failedOnce = false;
  /** Cancels the connect timeout. */
  private connectTimer: (() => void) | undefined;

  constructor(readonly pool: SessionPool) {
    const t = pool.options.tls;
    let socket: net.Socket;
    const reads = new SharedReads();
    if (t === undefined) {
      socket = net.connect({ host: pool.host, port: pool.port, noDelay: true, onread: reads.onread });
      socket.once('connect', () => (this.connected = true));
    } else {
      socket = this.connectTls(t, reads);
    }
    // Registered before the engine's listeners: a connection that ends before the endpoint spoke puts
    // the endpoint in backoff before the engine resets the streams, whose retries must not open
    // another connection to it at once.
    let socketError: Error | undefined;
    socket.on('error', (e: Error) => (socketError ??= e));
    socket.once('close', () => {
      if (!this.spoke && !this.failedOnce) this.connectFailed(socketError ?? new Error('connection closed before the endpoint sent its HTTP/2 SETTINGS'));
    });
    const options: H2ConnectionOptions = {
      role: 'client',
      reads,
      clock: this.pool.clock,
      initialWindowSize: STREAM_WINDOW,
      connectionWindowSize: DEFAULT_INITIAL_WINDOW_SIZE,
      connectionWindowGrowth: CONNECTION_WINDOWS,
      receiveBudget: RECEIVE_BUDGET,
      windowGrowth: WINDOW_GROWTH,
      sendBudget: QUEUED_REQUESTS,
      sendShares: QUEUED_REQUESTS_PER_CLIENT,
      socketTimeoutMs: pool.options.sendTimeoutMs ?? 0,
      onLimit: (limit) => { if (limit === 'socketTimeoutMs') pool.options.onSendTimeout?.(); },
      limitKey: (limit) => (limit === 'socketTimeoutMs' ? 'client.sendTimeoutMs' : limit),
      maxHeaderListSize: MAX_RESPONSE_HEADER_LIST,
      streamsBeforeSettings: Math.min(STREAMS_BEFORE_SETTINGS, pool.streamLimit),
      waitingTally: pool.waiting,
      onResetsSpent: () => this.retire(),
    };
    const resets = pool.options.maxResetsPerConnection ?? 0;
    if (resets > 0) options.resetBudget = new TokenBucket(resets, pool.options.resetsRefillPerSecond ?? 0, pool.clock.now());
    this.h2 = new H2Connection(socket, this, options);
    const timeout = pool.options.connectTimeoutMs;
    if (timeout > 0) {
      this.connectTimer = pool.clock.after(timeout, () => this.connectTimedOut());
    }
  }

  /**
   * A TLS socket whose listeners run before the engine's: a handshake failure is renamed (endpoint
   * and reason) before the engine records it as the connection's close reason, which is what the
   * calls on it answer with.
   */
  private connectTls(t: UpstreamTls, reads: SharedReads): tls.TLSSocket {
    const pool = this.pool;
    // onread is net.Socket's, which tls.connect passes on (Node's docs; @types/node leaves it out).
    const options: tls.ConnectionOptions & Pick<net.NetConnectOpts, 'onread'> = {
      host: pool.host,
      port: pool.port,
      onread: reads.onread,
      secureContext: t.context(),
      rejectUnauthorized: t.rejectUnauthorized,
      ALPNProtocols: ['h2'],
    };
    if (t.servername !== undefined) options.servername = t.servername;
    if (pool.tlsSession !== undefined) options.session = pool.tlsSession;
    const socket = nodeTls().connect(options);
    socket.on('session', (session: Buffer) => (pool.tlsSession = session));
    socket.once('secureConnect', () => {
      if (socket.alpnProtocol !== false && socket.alpnProtocol !== 'h2') {
        socket.destroy(tlsFailure(this, 'no_h2', `the endpoint chose ${JSON.stringify(socket.alpnProtocol)}`));
        return;
      }
      this.secured = true;
      if (socket.isSessionReused()) pool.tlsResumed++;
    });
    // The endpoint's first bytes (its SETTINGS) say it accepted the handshake.
    reads.firstRead = () => (this.connected = true);
    // A server that refuses a client certificate after the handshake (Node.js does) just hangs up.
    socket.once('end', () => {
      if (this.secured && !this.connected) socket.destroy(tlsFailure(this, 'certificate_rejected', 'the endpoint closed the connection right after the handshake'));
    });
    socket.on('error', (e: Error & { tlsReason?: TlsFailureReason }) => {
      if (this.connected || this.failedOnce) return;
      let reason = e.tlsReason;
      if (reason === undefined) {
        if (!isTlsError(e) && !this.secured) return; // TCP: refused, unreachable, reset before TLS
        reason = tlsFailureReason(e);
        if (reason === 'protocol' && this.secured) reason = 'certificate_rejected'; // reset right after the handshake
        e.tlsReason = reason;
        e.message = `TLS handshake with ${pool.host}:${pool.port} failed: ${describeTlsFailure(reason, e.message)}`;
      }
      pool.tlsSession = undefined;
      t.onFailure?.(reason);
      // Into backoff now, before the engine resets this connection's streams: their transparent
      // retries must find the endpoint backing off, not start another doomed handshake.
      this.connectFailed(e);
    });
    return socket;
  }

  /**
   * Can take one more stream now. Before this connection's SETTINGS, up to the limit another
   * connection to the endpoint was given, or without limit (the streams past 100 wait in the engine);
   * never past maxStreamsPerConnection (at maxConnections, request() puts more on the least busy).
   * Not while its window is held by answers nobody takes (once early credit is spent): a new
   * stream's answer would wait behind them, where a new connection has a window of its own.
   */
  get usable(): boolean {
    const h2 = this.h2;
    if (!h2.acceptsStreams || h2.receiveStarved) return false;
    const limit = h2.peerSettingsReceived ? h2.peerMaxConcurrentStreams : this.pool.streamLimit;
    return h2.activeStreams + h2.waitingStreams < Math.min(limit, this.pool.streamsPerConnection);
  }

  /**
   * Past maxResetsPerConnection: no new stream here, its streams finish, then it closes. Not when
   * the pool has no room for the one that replaces it (see roomToRetire): this one goes on, and is
   * retired at a later reset if room is made.
   */
  private retire(): void {
    if (this.retired) return;
    const pool = this.pool;
    if (!this.resetsSpent) {
      this.resetsSpent = true; // counted once, not at each further reset while the pool has no room
      pool.options.onResetLimit?.();
    }
    if (!pool.roomToRetire) return;
    this.retired = true;
    pool.retiredOpen++;
    pool.draining(this);
  }

  /** Out of the pool and into backoff. */
  private connectFailed(error: Error): void {
    this.failedOnce = true;
    this.pool.removed(this);
    this.pool.failed(error);
  }

  private onSpoke(): void {
    this.spoke = true;
    this.connectTimer?.();
    this.pool.connected();
    const { keepAliveIntervalMs, keepAliveTimeoutMs } = this.pool.options;
    if (keepAliveIntervalMs > 0) {
      this.h2.keepAlive(Math.max(keepAliveIntervalMs, 10_000), keepAliveTimeoutMs, () => this.h2.socket.destroy(new Error('keepalive ping timed out')));
    }
  }

  private connectTimedOut(): void {
    if (this.spoke) return;
    const socket = this.h2.socket;
    const ms = this.pool.options.connectTimeoutMs;
    let error: Error;
    if (socket.connecting) error = new Error(`connect timeout (${ms} ms)`);
    else if (this.pool.options.tls !== undefined) {
      error = tlsFailure(this, 'timeout', this.secured ? `no HTTP/2 SETTINGS within ${ms} ms of the handshake` : `no handshake within ${ms} ms`);
    } else error = new Error(`the endpoint sent no HTTP/2 SETTINGS within ${ms} ms (is it an HTTP/2 server?)`);
    socket.destroy(error);
  }

  // ------------------------------------------------------------- engine events

  onStream(stream: H2Stream): void {
    stream.reset(ErrorCode.REFUSED_STREAM); // never happens in the client role (no push); refuse defensively
  }
  onHeaderListTooLarge(): void {}

  onHeaders(stream: H2Stream, list: HeaderList, endStream: boolean): void {
    (stream.user as UpstreamEvents | undefined)?.onUpHeaders(stream, list, endStream);
  }

  onData(stream: H2Stream, data: Buffer, endStream: boolean): void {
    const call = stream.user as UpstreamEvents | undefined;
    if (call !== undefined) call.onUpData(stream, data, endStream);
    else stream.consumed(data.length);
  }

  onReset(stream: H2Stream, code: number, refused: boolean): void {
    (stream.user as UpstreamEvents | undefined)?.onUpReset(stream, code, refused);
  }

  onStreamClose(stream: H2Stream): void {
    const call = stream.user as UpstreamEvents | undefined;
    stream.user = undefined;
    call?.onUpClose(stream);
    this.pool.slotFreed(this);
  }

  onDrain(stream: H2Stream): void {
    (stream.user as UpstreamEvents | undefined)?.onUpDrain(stream);
  }

  onPeerSettings(): void {
    // A limit of 0 (RFC 9113 §6.5.2: "for short periods") is no size for new connections: sized by
    // it, each would take no stream and every call would open another. Unknown again, as before SETTINGS.
    const limit = this.h2.peerMaxConcurrentStreams;
    this.pool.streamLimit = limit > 0 ? limit : Infinity;
    if (!this.spoke) this.onSpoke();
    this.pool.slotFreed(this);
  }

  onGoaway(): void {
    // No new stream may use this connection; later requests open a new one.
    this.pool.draining(this);
  }

  onClose(): void {
    // A connection that ended before the endpoint spoke was already counted as a failed connect.
    this.connectTimer?.();
    if (this.retired) this.pool.retiredOpen--;
    this.pool.removed(this);
    this.pool.left(this);
  }
}

/** A handshake failure of our own finding, worded and counted like one OpenSSL reports. */
function tlsFailure(conn: UpstreamConn, reason: TlsFailureReason, detail: string): Error {
  const pool = conn.pool;
  return Object.assign(new Error(`TLS handshake with ${pool.host}:${pool.port} failed: ${describeTlsFailure(reason, detail)}`), { tlsReason: reason });
}

export class SessionPool {
  private conns: UpstreamConn[] = [];
  private readonly connectBackoff = new Backoff(MIN_BACKOFF_MS, MAX_BACKOFF_MS);
  private backoffUntil = 0;
  private closing = false;
  /** @internal */ readonly clock: Clock;
  /** Last connect error, for snapshots. */
  lastError: string | undefined;
  /** TLS: the session of the last handshake, offered by the next connection (resumption). */
  tlsSession: Buffer | undefined;
  /** TLS: connections whose session was resumed. */
  tlsResumed = 0;
  /**
   * The endpoint's SETTINGS_MAX_CONCURRENT_STREAMS as its last SETTINGS gave it (unknown: no limit).
   * A burst past it on a new connection is refused as its SETTINGS arrive; the refused streams
   * then fill new connections only this far, so each is moved at most once.
   */
  streamLimit = Infinity;
  /**
   * @internal Streams waiting in the engines of this pool's connections, kept exact by them (also
   * those of connections out of `conns` and not yet closed, which refuse them as they close).
   */
  readonly waiting: WaitingTally = { streams: 0 };

  constructor(
    readonly host: string,
    readonly port: number,
    /** @internal */ readonly options: UpstreamOptions,
  ) {
    this.clock = options.clock ?? realClock;
    this.streamsPerConnection = options.maxStreamsPerConnection || Infinity;
  }

  /** @internal maxStreamsPerConnection, Infinity when unset or 0. */
  readonly streamsPerConnection: number;

  /** `connected` when a connection is up, `connecting`, `failed` while backing off, else `idle`. */
  get state(): 'connected' | 'connecting' | 'failed' | 'idle' {
    let connecting = false;
    for (const c of this.conns) {
      if (c.spoke) return 'connected';
      connecting = true;
    }
    if (connecting) return 'connecting';
    return this.backoffUntil > this.clock.now() ? 'failed' : 'idle';
  }

  /** @internal Connections retired for their resets (maxResetsPerConnection) still finishing their streams. */
  retiredOpen = 0;

  /**
   * @internal A connection may be retired for its resets: the pool's connections, retired ones still
   * open included, are fewer than maxConnections, so the one replacing it fits. Otherwise a client
   * that cancels calls and keeps one open on each retired connection could make the router open
   * connections without bound; with it, fewer than twice maxConnections are open.
   */
  get roomToRetire(): boolean {
    return this.conns.length + this.retiredOpen < (this.options.maxConnections ?? Infinity);
  }

  /** True while a recent connect failure keeps this endpoint in backoff. */
  get backingOff(): boolean {
    return this.conns.length === 0 && this.backoffUntil > this.clock.now();
  }

  /**
   * Open a stream whose request headers are `fields`' (read when they go out); `owner` gets its
   * events. Throws `UpstreamUnavailable` when the endpoint is backing off or closed.
   */
  request(fields: readonly FieldInput[] | RequestFields, endStream: boolean, owner: UpstreamEvents): H2Stream {
    if (this.closing) throw new UpstreamUnavailable(`endpoint ${this.host}:${this.port} is draining`);
    for (let tries = 0; tries < 2; tries++) {
      // None with room and maxConnections open: the stream waits in the least busy one's engine.
      const room = this.withRoom();
      const queue = room === undefined;
      const conn = room ?? this.leastBusy();
      const stream = conn.h2.request(fields, endStream, queue);
      if (stream !== null) {
        if (queue && stream.waiting) this.options.onConnectionLimit?.();
        stream.user = owner;
        return stream;
      }
      // Stream ids exhausted or the peer's limit fell meanwhile: this connection takes no more.
      this.draining(conn);
    }
    throw new UpstreamUnavailable(`endpoint ${this.host}:${this.port} accepts no new stream`);
  }

  /** A connection with room for a stream, else a new one; undefined when maxConnections are open. */
  private withRoom(): UpstreamConn | undefined {
    const conns = this.conns;
    // Connections being torn down (failed, closing) do not count against the cap.
    let open = 0;
    for (let i = 0; i < conns.length; i++) {
      const c = conns[i]!;
      if (c.usable) return c;
      if (c.h2.acceptsStreams) open++;
    }
    if (open >= (this.options.maxConnections ?? Infinity)) return undefined;
    if (this.backingOff) {
      throw new UpstreamUnavailable(`endpoint ${this.host}:${this.port} is backing off after a failed connect: ${this.lastError ?? ''}`);
    }
    const conn = new UpstreamConn(this);
    this.conns.push(conn);
    this.options.onSessions?.(1);
    return conn;
  }

  /**
   * Where a stream waits at maxConnections: the connection with the fewest streams sent and
   * waiting, of those that may take one: not one whose endpoint allows none (a limit of 0 is "for
   * short periods", RFC 9113 §6.5.2: nothing should wait on it). One whose SETTINGS have not
   * arrived counts: its streams wait for them.
   */
  private leastBusy(): UpstreamConn {
    let best: UpstreamConn | undefined;
    let load = Infinity;
    let open = 0;
    for (const c of this.conns) {
      const h2 = c.h2;
      if (!h2.acceptsStreams) continue;
      open++;
      if (h2.peerSettingsReceived && h2.peerMaxConcurrentStreams === 0) continue;
      const l = h2.activeStreams + h2.waitingStreams;
      if (l < load) (best = c), (load = l);
    }
    if (best !== undefined) return best;
    throw new UpstreamUnavailable(`endpoint ${this.host}:${this.port} allows no stream on its ${open} connections (client.maxConnectionsPerEndpoint)`);
  }

  /**
   * `conn` has room again (a stream ended, or its SETTINGS came). Streams wait on the connection
   * that was least busy when they came (at maxConnections, or for a new connection's SETTINGS);
   * one with room and nothing of its own waiting takes the longest waiting of the busiest queue,
   * so a connection held by long streams does not hold the calls queued on it too.
   */
  /** @internal */ slotFreed(conn: UpstreamConn): void {
    if (this.conns.length < 2) return;
    // Nothing waits on the others when nothing waits at all: no need to look at each.
    while (this.waiting.streams > 0 && conn.h2.waitingStreams === 0 && conn.usable && conn.h2.canAdoptWaiting) {
      let from: UpstreamConn | undefined;
      let most = 0;
      for (const c of this.conns) {
        if (c !== conn && c.h2.waitingStreams > most) (from = c), (most = c.h2.waitingStreams);
      }
      const w = from?.h2.takeWaiting();
      if (w === undefined) return;
      conn.h2.adoptWaiting(w);
    }
  }

  /** @internal */ connected(): void {
    this.connectBackoff.reset();
    this.backoffUntil = 0;
    this.lastError = undefined;
    this.options.onConnect?.(true);
  }

  /** @internal */ failed(error: Error): void {
    this.lastError = error.message;
    // Equal jitter: half fixed, half random, so reconnects of many routers spread out.
    this.backoffUntil = this.clock.now() + this.connectBackoff.next();
    this.options.onConnect?.(false);
  }

  /** @internal */ removed(conn: UpstreamConn): void {
    const i = this.conns.indexOf(conn);
    if (i >= 0) {
      this.conns.splice(i, 1);
      this.options.onSessions?.(-1);
    }
  }

  /** Connections out of `conns` (GOAWAY'd, retired) still finishing their streams: destroy() ends them too. */
  private readonly leaving = new Set<UpstreamConn>();

  /** @internal */ draining(conn: UpstreamConn): void {
    // Out of the list (and the count) now; its open streams finish and the engine then closes it.
    this.removed(conn);
    this.leaving.add(conn);
    conn.h2.close();
  }

  /** @internal A connection closed. */
  left(conn: UpstreamConn): void {
    this.leaving.delete(conn);
  }

  /** GOAWAY every connection: in-flight streams finish, new requests are refused. */
  close(): void {
    this.closing = true;
    for (const c of [...this.conns]) c.h2.close();
  }

  /** Tear every connection down now. */
  destroy(): void {
    this.closing = true;
    for (const c of [...this.conns, ...this.leaving]) {
      c.h2.destroy();
      c.h2.socket.destroy();
    }
  }
}

/**
 * True when the endpoint may have processed `stream`: it went on the wire (not `unsent`) on a
 * connection that was connected (see UpstreamConn.connected).
 */
export function onConnectedConnection(stream: H2Stream): boolean {
  return !stream.unsent && onConnected(stream);
}

/** True when `stream`'s connection is connected (see UpstreamConn.connected), whether or not the stream has gone out yet. */
export function onConnected(stream: H2Stream): boolean {
  return (stream.connection.handler as UpstreamConn).connected;
}

/**
 * Why `stream`'s connection can no longer complete it, or undefined while it is healthy: the socket
 * closed (with the endpoint's FIN, as after `kill -9`, or an error), or a connection error was sent
 * or received. Such a stream is lost, not reset by the endpoint (grpc-js's "Connection dropped").
 */
export function connectionLoss(stream: H2Stream): string | undefined {
  const h2 = stream.connection;
  if (!h2.failed) return undefined;
  return h2.closeReason?.message ?? 'connection closed';
}
