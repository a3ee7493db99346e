import * as http2 from 'node:http2';
import type { Http2Server, Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { ServerConfig } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { isGrpcContentType } from './grpc.js';

/**
 * The router's HTTP/2 listener (h2c, prior knowledge). It enforces the per-connection limits in
 * nghttp2's own settings (streams beyond SETTINGS_MAX_CONCURRENT_STREAMS are refused, header lists
 * beyond SETTINGS_MAX_HEADER_LIST_SIZE rejected), closes idle connections, and swallows every
 * protocol error on the connection it belongs to, so no client can take the process down.
 */
export interface StreamHandler {
  handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void;
}

export interface ServerHooks {
  onConnection?(delta: number): void;
}

const kServer = Symbol('server');
type Tagged = Http2Session & { [kServer]?: H2Server };

export class H2Server {
  private readonly server: Http2Server;
  private readonly sessions = new Set<Http2Session>();
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

  private readonly onSession = (session: Tagged): void => {
    if (this.draining) {
      session.close();
      return;
    }
    session[kServer] = this;
    this.sessions.add(session);
    this.hooks.onConnection?.(1);
    session.on('error', onSessionError);
    session.on('close', onSessionClose);
    const idle = this.config.idleTimeoutMs;
    if (idle > 0) session.setTimeout(idle, onSessionTimeout);
  };

  /** @internal */ sessionClosed(session: Http2Session): void {
    if (this.sessions.delete(session)) this.hooks.onConnection?.(-1);
  }

  private readonly onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]): void => {
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

  /** Stop accepting connections and GOAWAY every client; open streams may finish. */
  goaway(): void {
    this.draining = true;
    this.server.close();
    for (const s of this.sessions) if (!s.closed) s.close();
  }

  /** Close everything now. */
  close(): Promise<void> {
    this.draining = true;
    for (const s of this.sessions) s.destroy();
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

function onSessionError(this: Tagged, e: Error): void {
  this[kServer]?.['log'].debug('client connection error', { error: e.message });
}
function onSessionClose(this: Tagged): void {
  this[kServer]?.sessionClosed(this);
}
function onSessionTimeout(this: Http2Session): void {
  // Only a connection with nothing in flight is idle; Node counts frames, we count streams too.
  const state = this.state as { streamCount?: number } | undefined;
  if ((state?.streamCount ?? 0) === 0) this.close();
}
