import http2 from 'node:http2';
import { isIP } from 'node:net';
import tls from 'node:tls';

/** The TLS a session uses: its ApiTransports's. */
export interface SessionTls {
  secureContext: tls.SecureContext;
  rejectUnauthorized?: boolean;
  servername?: string;
}

export interface SessionTimes {
  /** A session with no streams closes after this long, so a namer with no watches holds no connection. */
  idleMs: number;
  /** A session with streams is PINGed this often; one that does not answer within `pingTimeoutMs` is dead. */
  pingMs: number;
  pingTimeoutMs: number;
  /** A new session that has not got through TLS and the server's SETTINGS by then is given up. */
  connectMs: number;
}

/** client-go's HTTP/2 health check (a PING after 30 s, dead after 15 s more) and TLS handshake timeout (10 s). */
const TIMES: SessionTimes = { idleMs: 30_000, pingMs: 30_000, pingTimeoutMs: 15_000, connectMs: 10_000 };

interface Held {
  session: http2.ClientHttp2Session;
  streams: number;
  idle?: NodeJS.Timeout;
}

/**
 * Lists and watches as HTTP/2 streams on a few TLS sessions to one API server, as client-go holds
 * them: a stream costs a fraction of a TLS connection of its own (bench:k8s-watches). A session takes
 * streams up to the server's SETTINGS_MAX_CONCURRENT_STREAMS (kube-apiserver's default: 250), then
 * another opens. A session that got GOAWAY is `closed` (node:http2): it takes no new streams and ends
 * once its streams have; a session that fails or stops answering PINGs is destroyed, and its streams
 * end with the error. If the server's ALPN does not pick `h2`, `request` answers undefined from then on:
 * the caller uses HTTP/1.1.
 */
export class H2Sessions {
  private readonly held = new Set<Held>();
  private connecting: Promise<void> | undefined;
  private http1 = false;

  constructor(
    private readonly origin: URL,
    private readonly tls: SessionTls,
    private readonly times: SessionTimes = TIMES,
  ) {}

  /** A stream for `headers` (`:method` and `:path` included), or undefined when the server speaks only HTTP/1.1. */
  async request(headers: http2.OutgoingHttpHeaders): Promise<http2.ClientHttp2Stream | undefined> {
    for (;;) {
      if (this.http1) return undefined;
      for (const h of this.held) {
        if (!h.session.closed && !h.session.destroyed && h.streams < (h.session.remoteSettings.maxConcurrentStreams ?? 100)) return this.open(h, headers);
      }
      this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
      await this.connecting;
    }
  }

  /** Take no new streams; sessions end once their streams have (the TLS material changed). */
  close(): void {
    for (const h of this.held) h.session.close();
  }

  private open(h: Held, headers: http2.OutgoingHttpHeaders): http2.ClientHttp2Stream {
    const stream = h.session.request(headers, { endStream: true });
    if (h.streams++ === 0) {
      clearTimeout(h.idle);
      h.session.ref();
    }
    stream.once('close', () => {
      if (--h.streams > 0 || h.session.closed) return;
      // Idle, as the agent's free sockets are: it neither holds the process nor lives long.
      h.session.unref();
      h.idle = setTimeout(() => h.session.close(), this.times.idleMs);
      h.idle.unref();
    });
    return stream;
  }

  /** A TLS connection offering h2 and http/1.1; once the server's SETTINGS arrive, a session in `held`. */
  private connect(): Promise<void> {
    const host = this.origin.hostname.replace(/^\[(.*)\]$/, '$1');
    return new Promise<void>((resolve, reject) => {
      // Every request waits on this one connect: one that hangs (a load balancer that accepts and
      // says nothing) would hold discovery for good, where an HTTP/1.1 request only timed out.
      const giveUp = setTimeout(() => socket.destroy(new Error(`${this.origin.origin}: no TLS handshake and HTTP/2 SETTINGS within ${this.times.connectMs} ms`)), this.times.connectMs);
      giveUp.unref();
      const socket = tls.connect({
        host,
        port: Number(this.origin.port || 443),
        secureContext: this.tls.secureContext,
        ...(this.tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: this.tls.rejectUnauthorized } : {}),
        servername: this.tls.servername ?? (isIP(host) ? undefined : host),
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      socket.once('error', reject);
      socket.once('close', () => clearTimeout(giveUp));
      socket.once('secureConnect', () => {
        if (socket.alpnProtocol !== 'h2') {
          clearTimeout(giveUp);
          this.http1 = true;
          socket.destroy();
          return resolve();
        }
        // Watches idle for minutes: let TCP notice a peer that vanished (as for HTTP/1.1).
        socket.setKeepAlive(true, 30_000);
        const session = http2.connect(this.origin, { createConnection: () => socket });
        const h: Held = { session, streams: 0 };
        const ping = setInterval(() => this.ping(h), this.times.pingMs).unref();
        session.on('error', reject);
        session.once('close', () => {
          clearInterval(ping);
          clearTimeout(h.idle);
          this.held.delete(h);
          reject(new Error(`${this.origin.origin}: HTTP/2 session closed before its SETTINGS`));
        });
        session.once('remoteSettings', (settings) => {
          if (settings.maxConcurrentStreams === 0) return session.destroy(new Error(`${this.origin.origin}: the server allows no HTTP/2 streams`));
          clearTimeout(giveUp);
          this.held.add(h);
          resolve();
        });
      });
    });
  }

  /** A half-open connection would stall every watch on it: a PING that goes unanswered ends the session. */
  private ping(h: Held): void {
    if (h.streams === 0 || h.session.destroyed) return;
    const dead = setTimeout(() => h.session.destroy(new Error(`${this.origin.origin}: no HTTP/2 PING answer within ${this.times.pingTimeoutMs} ms`)), this.times.pingTimeoutMs);
    dead.unref();
    h.session.ping((error) => {
      if (!error) clearTimeout(dead);
    });
  }
}
