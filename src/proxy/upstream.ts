import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { ClientHttp2Session, ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import { installLeanAsyncResourceBind } from './async-resource-bind.js';
import { Backoff } from '../util/backoff.js';

/**
 * The HTTP/2 connections to one endpoint (h2c, prior knowledge). One multiplexed session carries
 * every stream; a second one opens only when the peer's SETTINGS_MAX_CONCURRENT_STREAMS is reached.
 * A failed connect puts the endpoint in a jittered backoff during which `request` refuses at once, so
 * the caller retries elsewhere instead of waiting.
 */
export interface UpstreamOptions {
  connectTimeoutMs: number;
  /** PING interval; 0 = off. */
  keepAliveIntervalMs: number;
  keepAliveTimeoutMs: number;
  /** Told about every connect attempt's outcome (metrics) and session count changes. */
  onConnect?(ok: boolean): void;
  onSessions?(delta: number): void;
}

/** Thrown by `request` when no session can carry the stream now (nothing was sent). */
export class UpstreamUnavailable extends Error {}

const UPSTREAM_SETTINGS: http2.Settings = {
  enablePush: false,
  initialWindowSize: 1 << 20,
  maxHeaderListSize: 1 << 16,
};

// Every stream this module opens goes through http2's `request`, which calls AsyncResource.bind.
installLeanAsyncResourceBind();

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 10_000;

interface Conn {
  session: ClientHttp2Session;
  active: number;
  connected: boolean;
  failed: boolean;
  /** Its TCP connection has closed (see `connectionLost`). */
  lost: boolean;
  pinger: NodeJS.Timeout | undefined;
}

const kConn = Symbol('conn');
const kPool = Symbol('pool');

type PooledSession = ClientHttp2Session & { [kConn]?: Conn; [kPool]?: SessionPool };
type PooledStream = ClientHttp2Stream & { [kConn]?: Conn; [kPool]?: SessionPool };
type PooledSocket = net.Socket & { [kConn]?: Conn };

export class SessionPool {
  private conns: Conn[] = [];
  private readonly connectBackoff = new Backoff(MIN_BACKOFF_MS, MAX_BACKOFF_MS);
  private backoffUntil = 0;
  private closing = false;
  /** Last connect error, for snapshots. */
  lastError: string | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly options: UpstreamOptions,
  ) {}

  /** `connected` when a session is up, `connecting`, `failed` while backing off, else `idle`. */
  get state(): 'connected' | 'connecting' | 'failed' | 'idle' {
    let connecting = false;
    for (const c of this.conns) {
      if (c.connected) return 'connected';
      connecting = true;
    }
    if (connecting) return 'connecting';
    return this.backoffUntil > Date.now() ? 'failed' : 'idle';
  }

  /** True while a recent connect failure keeps this endpoint in backoff. */
  get backingOff(): boolean {
    return this.conns.length === 0 && this.backoffUntil > Date.now();
  }

  /** Open a stream. Throws `UpstreamUnavailable` when the endpoint is backing off or closed. */
  request(headers: OutgoingHttpHeaders): ClientHttp2Stream {
    if (this.closing) throw new UpstreamUnavailable(`endpoint ${this.host}:${this.port} is draining`);
    const conn = this.pick();
    const stream = conn.session.request(headers, { endStream: false }) as PooledStream;
    conn.active++;
    stream[kConn] = conn;
    stream[kPool] = this;
    // 'close' fires once; `on` spares the wrapper state and bound function `once` makes per stream.
    stream.on('close', onStreamClose);
    return stream;
  }

  private pick(): Conn {
    const conns = this.conns;
    for (let i = 0; i < conns.length; i++) {
      const c = conns[i]!;
      const s = c.session;
      if (s.closed || s.destroyed) continue;
      // Before SETTINGS arrive nghttp2 assumes no limit; 100 is what grpc-go assumes meanwhile.
      const max = c.connected ? s.remoteSettings.maxConcurrentStreams ?? 0xffffffff : 100;
      if (c.active < max) return c;
    }
    if (this.backingOff) {
      throw new UpstreamUnavailable(`endpoint ${this.host}:${this.port} is backing off after a failed connect: ${this.lastError ?? ''}`);
    }
    return this.connect();
  }

  private connect(): Conn {
    const { host, port } = this;
    const authority = host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
    const socket: PooledSocket = net.connect({ host, port, noDelay: true });
    // Listening before http2 does, so the mark is there by the time it closes the socket's streams.
    socket.once('close', onSocketClose);
    const session = http2.connect(authority, {
      settings: UPSTREAM_SETTINGS,
      maxSessionMemory: 64,
      createConnection: () => socket,
    }) as PooledSession;
    const conn: Conn = { session, active: 0, connected: false, failed: false, lost: false, pinger: undefined };
    socket[kConn] = conn;
    session[kConn] = conn;
    session[kPool] = this;
    this.conns.push(conn);
    this.options.onSessions?.(1);
    session.on('connect', onSessionConnect);
    session.on('error', onSessionError);
    session.on('close', onSessionClose);
    session.on('goaway', onSessionGoaway);
    if (this.options.connectTimeoutMs > 0) {
      const timer = setTimeout(connectTimeout, this.options.connectTimeoutMs, session);
      timer.unref();
      session.once('connect', () => clearTimeout(timer));
      session.once('close', () => clearTimeout(timer));
    }
    return conn;
  }

  /** @internal */ connected(conn: Conn): void {
    conn.connected = true;
    this.connectBackoff.reset();
    this.backoffUntil = 0;
    this.lastError = undefined;
    this.options.onConnect?.(true);
    // A connection-level window this size lets many streams move at once; nghttp2 sends the update.
    conn.session.setLocalWindowSize(8 << 20);
    const every = this.options.keepAliveIntervalMs;
    if (every > 0) {
      conn.pinger = setInterval(ping, Math.max(every, 10_000), conn.session, this.options.keepAliveTimeoutMs);
      conn.pinger.unref();
    }
  }

  /** @internal */ failed(conn: Conn, error: Error): void {
    if (!conn.connected && !conn.failed) {
      conn.failed = true;
      this.lastError = error.message;
      // Equal jitter: half fixed, half random, so reconnects of many routers spread out.
      this.backoffUntil = Date.now() + this.connectBackoff.next();
      this.options.onConnect?.(false);
    }
  }

  /** @internal */ removed(conn: Conn): void {
    const i = this.conns.indexOf(conn);
    if (i >= 0) {
      this.conns.splice(i, 1);
      this.options.onSessions?.(-1);
    }
    if (conn.pinger) clearInterval(conn.pinger);
  }

  /** @internal */ draining(conn: Conn): void {
    // After a GOAWAY no new stream may use this session; later requests open a new one.
    const i = this.conns.indexOf(conn);
    if (i >= 0) {
      this.conns.splice(i, 1);
      this.options.onSessions?.(-1);
      conn.session.removeListener('close', onSessionClose);
      conn.session.once('close', () => conn.pinger && clearInterval(conn.pinger));
    }
  }

  /** GOAWAY every session: in-flight streams finish, new requests are refused. */
  close(): void {
    this.closing = true;
    for (const c of [...this.conns]) c.session.close();
  }

  /** Tear every session down now. */
  destroy(): void {
    this.closing = true;
    for (const c of [...this.conns]) c.session.destroy();
  }
}

/** True when `stream` went out on a session that was already connected (not one still connecting). */
export function onConnectedSession(stream: ClientHttp2Stream): boolean {
  return (stream as PooledStream)[kConn]?.connected === true;
}

/**
 * True when `stream`'s connection has closed. When a connection ends without a socket error (the
 * endpoint's FIN, as after a `kill -9`), Node closes its open streams with CANCEL and reports no
 * error, exactly as if the endpoint had sent RST_STREAM CANCEL; only this tells the two apart
 * (grpc-js does the same with its "Connection dropped" flag).
 */
export function connectionLost(stream: ClientHttp2Stream): boolean {
  return (stream as PooledStream)[kConn]?.lost === true;
}

function onSocketClose(this: PooledSocket): void {
  const conn = this[kConn];
  if (conn) conn.lost = true;
}

function onStreamClose(this: PooledStream): void {
  const conn = this[kConn];
  if (conn) conn.active--;
}

function onSessionConnect(this: PooledSession): void {
  const conn = this[kConn]!;
  this[kPool]!.connected(conn);
}

function onSessionError(this: PooledSession, error: Error): void {
  this[kPool]!.failed(this[kConn]!, error);
}

function onSessionClose(this: PooledSession): void {
  const conn = this[kConn]!;
  if (!conn.connected) this[kPool]!.failed(conn, new Error('connection closed before it was established'));
  this[kPool]!.removed(conn);
}

function onSessionGoaway(this: PooledSession): void {
  this[kPool]!.draining(this[kConn]!);
}

function connectTimeout(session: PooledSession): void {
  if (!session[kConn]!.connected) session.destroy(new Error('connect timeout'));
}

function ping(session: ClientHttp2Session, timeoutMs: number): void {
  if (session.closed || session.destroyed) return;
  const timer = setTimeout(() => session.destroy(new Error('keepalive ping timed out')), timeoutMs);
  timer.unref();
  try {
    session.ping(() => clearTimeout(timer));
  } catch {
    clearTimeout(timer);
  }
}
