import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { SessionPool, UpstreamUnavailable, connectionLost, onConnectedSession } from './upstream.js';
import { STATUS_STRINGS, Status, encodeMessage, encodeTimeout, isGrpcContentType, parseStatus, statusForReset } from './grpc.js';
import { stripConnectionHeaders } from './headers.js';

/**
 * One proxied stream: a client's stream on our server piped, as bytes, to a stream on an endpoint's
 * session. Everything per-stream lives in this one object; the event listeners are shared module
 * functions that find it through a symbol on the Node stream, so no closure is made per request.
 *
 * Flow control is end to end: a write that fills the other side's buffer pauses this side's reading,
 * and Node stops granting HTTP/2 window until reading resumes. Until the endpoint answers, the
 * request bytes already sent are kept (by reference, bounded) so a stream the endpoint never
 * processed can be replayed on another one.
 */
export interface CallEndpoint {
  /** `ip:port`. */
  readonly key: string;
  readonly pool: SessionPool;
}

/** What a call is balanced over: the client of one bound id. */
export interface CallTarget<E extends CallEndpoint = CallEndpoint> {
  readonly id: string;
  readonly maxAttempts: number;
  /** Next endpoint for a stream, avoiding `exclude` when there is another choice. */
  pick(exclude: E | undefined): E | undefined;
  began(endpoint: E): void;
  /**
   * An attempt ended: `status` is the gRPC status, or -1 for a transport failure; `latencyMs` is the
   * time to the endpoint's response headers on an established connection, 0 when there is no clean sample.
   */
  ended(endpoint: E, status: number, latencyMs: number): void;
  /** A transparent retry is about to start: the stream could not be opened, was refused, or never left. */
  retried(reason: RetryReason): void;
}

/** Why a stream was retried transparently (`kgr_retries_total{reason}`): all are streams no endpoint processed. */
export type RetryReason = 'connect' | 'refused' | 'unsent';

export interface CallObserver {
  finished(call: ProxyCall): void;
}

const kCall = Symbol('call');
type Tagged<S> = S & { [kCall]?: ProxyCall };

/** Request bytes kept for a transparent retry; a longer request is not retried. */
const REPLAY_LIMIT = 64 * 1024;
/**
 * Bytes one direction of a stream may hold queued (written, not yet sent) before the router stops
 * reading its source. Pausing at the first `false` from write() (Node's 16 KiB high-water mark)
 * stopped and restarted the source for every 16 KiB frame of a large message. The bound stays of
 * the same order as the 1 MiB HTTP/2 window each stream already grants its sender.
 */
const QUEUE_LIMIT = 256 * 1024;
const { NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = constants;
const END_STREAM = constants.NGHTTP2_FLAG_END_STREAM;

const RESPOND_END = { endStream: true } as const;
const RESPOND_TRAILERS = { waitForTrailers: true } as const;
const EMPTY_TRAILERS: OutgoingHttpHeaders = {};
const RELEASED_HEADERS: IncomingHttpHeaders = Object.freeze({});

/** The plain HTTP status a router error becomes for a request that is not gRPC. */
const HTTP_FOR_STATUS: Record<number, number> = {
  [Status.INVALID_ARGUMENT]: 400,
  [Status.UNIMPLEMENTED]: 404,
  [Status.DEADLINE_EXCEEDED]: 504,
  [Status.UNAVAILABLE]: 502,
  [Status.FAILED_PRECONDITION]: 508,
  [Status.CANCELLED]: 499,
};

export class ProxyCall {
  // What the router fills in (also read by the access log and metrics).
  service = '';
  target: CallTarget | undefined;
  endpoint: CallEndpoint | undefined;
  /** Opaque per (service, client) stats the observer resolved once. */
  stats: unknown;

  /** gRPC status the client got (-1 until known). */
  status = -1;
  /** HTTP `:status` the client got (0 until sent). */
  httpStatus = 0;
  bytesIn = 0;
  bytesOut = 0;
  attempts = 0;
  readonly startedAt: number;
  /** The client's address, `:authority` and `:path`, kept only when an access log wants them. */
  remote: string | undefined;
  authority: string | undefined;
  path: string | undefined;
  /** Why the router answered this stream itself (a metrics label), when it did. */
  errorReason: string | undefined;
  /** A gRPC request (content-type application/grpc…): errors are gRPC statuses, else plain HTTP. */
  readonly grpc: boolean;

  private up: Tagged<ClientHttp2Stream> | undefined;
  private upStartedAt = 0;
  /** Time to the endpoint's response headers (its latency for peak EWMA); 0 when not a clean sample. */
  private upLatency = 0;
  private upWarm = false;
  private upFailure: Error | undefined;
  /** Request chunks kept for a replay (allocated on the first chunk); `replayable` false once too long or committed. */
  private replay: Buffer[] | undefined;
  private replayable = true;
  private replayBytes = 0;
  /** A one-shot 'drain' listener is waiting on the endpoint's stream / on the client's stream. */
  private upDrainArmed = false;
  private inboundDrainArmed = false;
  private inboundEnded = false;
  private committed = false;
  private trailers: OutgoingHttpHeaders | undefined;
  private deadline = 0;
  private timer: NodeJS.Timeout | undefined;
  private listening = false;
  done = false;

  constructor(
    readonly inbound: Tagged<ServerHttp2Stream>,
    /** The request headers, forwarded on every attempt; released once an endpoint has answered. */
    public headers: IncomingHttpHeaders,
    private readonly observer: CallObserver,
  ) {
    this.startedAt = performance.now();
    this.grpc = isGrpcContentType(headers['content-type']);
    inbound[kCall] = this;
    inbound.on('close', onInboundClose);
    inbound.on('error', onStreamError);
    inbound.on('wantTrailers', onWantTrailers);
  }

  /** True once the client's stream is gone (reset or finished). */
  get closed(): boolean {
    return this.done;
  }

  /** Enforce a deadline `ms` from the start of the call (DEADLINE_EXCEEDED when it passes). */
  setDeadline(ms: number): void {
    this.deadline = this.startedAt + ms;
    const left = this.deadline - performance.now();
    if (left <= 0) {
      this.fail(Status.DEADLINE_EXCEEDED, 'deadline exceeded before the request was routed', undefined);
      return;
    }
    this.timer = setTimeout(onDeadline, left, this);
  }

  /** Send the stream to `target` (the router has set `service`, `stats` and the outbound headers). */
  dispatch(target: CallTarget): void {
    if (this.done) return;
    this.target = target;
    if (!this.listening) {
      this.listening = true;
      this.inbound.on('data', onInboundData);
      this.inbound.on('end', onInboundEnd);
    }
    this.attempt(undefined);
  }

  private attempt(exclude: CallEndpoint | undefined): void {
    const target = this.target!;
    for (;;) {
      const endpoint = target.pick(exclude);
      if (endpoint === undefined) {
        this.fail(Status.UNAVAILABLE, `no endpoints available for ${target.id}`, 'no endpoints');
        return;
      }
      this.attempts++;
      this.endpoint = endpoint;
      const now = performance.now();
      // Forward what is left of the budget, not what the client first asked for (within a
      // millisecond of arrival the client's own header already says that).
      if (this.deadline !== 0 && now - this.startedAt >= 1) this.headers['grpc-timeout'] = encodeTimeout(this.deadline - now);
      let up: Tagged<ClientHttp2Stream>;
      try {
        up = endpoint.pool.request(this.headers as OutgoingHttpHeaders);
      } catch (e) {
        // Counted as an attempt that failed at once, so the endpoint's accrual hears of it.
        target.began(endpoint);
        target.ended(endpoint, -1, 0);
        if (this.attempts < target.maxAttempts && (e instanceof UpstreamUnavailable || (e as { code?: string }).code?.startsWith('ERR_HTTP2'))) {
          target.retried('connect');
          exclude = endpoint;
          continue;
        }
        this.fail(Status.UNAVAILABLE, `cannot open a stream to ${endpoint.key} (${target.id}): ${(e as Error).message}`, 'connect');
        return;
      }
      target.began(endpoint);
      this.up = up;
      this.upFailure = undefined;
      this.upStartedAt = now;
      this.upLatency = 0;
      // A stream that waits for its connection's connect would charge the connect to the endpoint's latency.
      this.upWarm = onConnectedSession(up);
      up[kCall] = this;
      up.on('response', onUpResponse);
      up.on('data', onUpData);
      up.on('trailers', onUpTrailers);
      up.on('end', onUpEnd);
      up.on('error', onUpError);
      up.on('close', onUpClose);
      this.upDrainArmed = false;
      const replay = this.replay;
      if (replay !== undefined) for (let i = 0; i < replay.length; i++) up.write(replay[i]);
      if (this.inboundEnded) up.end();
      if (this.inbound.isPaused()) this.inbound.resume();
      return;
    }
  }

  /** @internal */ onInboundData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    if (this.replayable) {
      this.replayBytes += chunk.length;
      if (this.replayBytes > REPLAY_LIMIT) this.dropReplay();
      else (this.replay ??= []).push(chunk);
    }
    const up = this.up;
    if (up !== undefined && !up.write(chunk) && up.writableLength >= QUEUE_LIMIT) {
      // Backpressure: stop reading the client (Node stops granting it window) until the endpoint drains.
      this.inbound.pause();
      if (!this.upDrainArmed) {
        this.upDrainArmed = true;
        up.once('drain', onUpDrain);
      }
    }
  }

  /** @internal */ onInboundEnd(): void {
    this.inboundEnded = true;
    this.up?.end();
  }

  private dropReplay(): void {
    this.replayable = false;
    this.replay = undefined;
  }

  /** @internal */ onInboundDrain(): void {
    this.inboundDrainArmed = false;
    this.up?.resume();
  }

  /** @internal */ onUpResponse(up: ClientHttp2Stream, headers: IncomingHttpHeaders, flags: number): void {
    if (up !== this.up || this.done) return;
    this.committed = true;
    this.dropReplay();
    // No attempt follows an answer; the endpoint's stream keeps its own copy for as long as it lives.
    this.headers = RELEASED_HEADERS;
    if (this.upWarm) this.upLatency = performance.now() - this.upStartedAt;
    stripConnectionHeaders(headers);
    const status = headers[':status'];
    this.httpStatus = typeof status === 'number' ? status : Number(status);
    try {
      if (flags & END_STREAM) {
        // Trailers-only: keep it one HEADERS frame, as the endpoint sent it.
        this.status = parseStatus(headers['grpc-status']);
        this.inbound.respond(headers as OutgoingHttpHeaders, RESPOND_END);
      } else {
        this.inbound.respond(headers as OutgoingHttpHeaders, RESPOND_TRAILERS);
      }
    } catch {
      // The client went away meanwhile; its close handler cancels the endpoint's stream.
    }
  }

  /** @internal */ onUpData(up: ClientHttp2Stream, chunk: Buffer): void {
    this.bytesOut += chunk.length;
    if (!this.inbound.write(chunk) && this.inbound.writableLength >= QUEUE_LIMIT) {
      up.pause();
      if (!this.inboundDrainArmed) {
        this.inboundDrainArmed = true;
        this.inbound.once('drain', onInboundDrain);
      }
    }
  }

  /** @internal */ onUpTrailers(up: ClientHttp2Stream, trailers: IncomingHttpHeaders): void {
    if (up !== this.up) return;
    stripConnectionHeaders(trailers);
    this.trailers = trailers as OutgoingHttpHeaders;
    this.status = parseStatus(trailers['grpc-status']);
  }

  /** @internal */ onUpEnd(up: ClientHttp2Stream): void {
    if (up !== this.up || this.done) return;
    // Node also ends the readable side of a stream it closes for a reset or a lost connection;
    // that is no answer to pass on: onUpClose says what happened.
    if (up.rstCode !== undefined && up.rstCode !== NGHTTP2_NO_ERROR) return;
    if (this.inbound.headersSent && !this.inbound.writableEnded) {
      // A response without trailers (not gRPC) still ends; sendTrailers({}) becomes an empty DATA+END_STREAM.
      if (this.trailers === undefined) this.trailers = EMPTY_TRAILERS;
      this.inbound.end();
    }
  }

  /** @internal */ onUpError(error: Error): void {
    this.upFailure = error;
  }

  /** @internal */ onUpClose(up: Tagged<ClientHttp2Stream>): void {
    if (up !== this.up) return;
    this.up = undefined;
    const endpoint = this.endpoint!;
    const target = this.target!;
    const latency = this.upLatency;
    if (this.done) {
      target.ended(endpoint, this.status >= 0 ? this.status : Status.CANCELLED, latency);
      return;
    }
    const code = up.rstCode ?? NGHTTP2_NO_ERROR;
    if (up.readableEnded && this.committed && code === NGHTTP2_NO_ERROR) {
      // Normal end; the client's stream finishes as its trailers go out.
      target.ended(endpoint, this.status >= 0 ? this.status : Status.UNKNOWN, latency);
      return;
    }
    target.ended(endpoint, -1, latency);
    const failure = this.upFailure;
    // A connection that went away is UNAVAILABLE however it closed: with a socket error, or cleanly
    // (FIN), after which Node ends its streams with a CANCEL that is no reset by the endpoint.
    const lost = (failure !== undefined && (failure as { code?: string }).code !== 'ERR_HTTP2_STREAM_ERROR') || connectionLost(up);
    const why = failure ? ((failure as { cause?: Error }).cause?.message ?? failure.message) : 'connection closed';
    if (!this.committed) {
      // Nothing was processed when the endpoint refused the stream (also streams above a GOAWAY's
      // last id) or when the stream never got an id (the connect failed before it could be sent).
      // A stream lost with its connection may have been processed, so it is not replayed.
      const unprocessed = code === NGHTTP2_REFUSED_STREAM || up.id === undefined;
      if (unprocessed && this.replayable && this.attempts < target.maxAttempts) {
        target.retried(code === NGHTTP2_REFUSED_STREAM ? 'refused' : 'unsent');
        this.attempt(endpoint);
        return;
      }
      if (up.id === undefined) {
        this.fail(Status.UNAVAILABLE, `endpoint ${endpoint.key} of ${target.id} failed: ${why}`, 'endpoint');
        return;
      }
    }
    if (lost) {
      this.fail(Status.UNAVAILABLE, `connection to ${endpoint.key} of ${target.id} lost: ${why}`, 'endpoint');
    } else if (code === NGHTTP2_NO_ERROR) {
      this.fail(Status.INTERNAL, `endpoint ${endpoint.key} ended the stream without a gRPC status`, 'endpoint');
    } else {
      this.fail(statusForReset(code), `endpoint ${endpoint.key} reset the stream (HTTP/2 error code ${code})`, 'endpoint');
    }
  }

  /** @internal */ onUpDrain(up: ClientHttp2Stream): void {
    if (up === this.up) this.upDrainArmed = false;
    if (this.inbound.isPaused()) this.inbound.resume();
  }

  /** @internal */ onWantTrailers(): void {
    try {
      this.inbound.sendTrailers(this.trailers ?? EMPTY_TRAILERS);
    } catch {
      // closed meanwhile
    }
  }

  /** @internal */ onDeadline(): void {
    this.timer = undefined;
    if (this.done) return;
    this.fail(Status.DEADLINE_EXCEEDED, 'deadline exceeded', undefined);
  }

  /**
   * Answer the client with a gRPC status the router made: trailers-only when no response headers
   * went out yet, else trailers after what was already forwarded. The endpoint's stream is cancelled.
   */
  fail(status: number, message: string, reason: string | undefined): void {
    if (this.done) return;
    this.errorReason = reason;
    if (!this.grpc && !this.inbound.headersSent) {
      this.cancelUpstream();
      this.status = status;
      this.failHttp(HTTP_FOR_STATUS[status] ?? 502, message);
      return;
    }
    this.cancelUpstream();
    this.status = status;
    const inbound = this.inbound;
    try {
      if (!inbound.headersSent) {
        this.httpStatus = 200;
        const headers: OutgoingHttpHeaders = {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': STATUS_STRINGS[status],
          'grpc-message': encodeMessage(message),
        };
        if (reason !== undefined) headers['l5d-err'] = encodeMessage(message);
        inbound.respond(headers, RESPOND_END);
      } else if (!inbound.writableEnded) {
        this.trailers = { 'grpc-status': STATUS_STRINGS[status], 'grpc-message': encodeMessage(message) };
        inbound.end();
      } else if (!inbound.closed) {
        inbound.close(NGHTTP2_CANCEL);
      }
    } catch {
      // the client's stream is already gone
    }
    // Keep reading (and dropping) whatever the client still sends so its stream can finish.
    if (inbound.isPaused()) inbound.resume();
  }

  private cancelUpstream(): void {
    const up = this.up;
    if (up !== undefined) {
      this.up = undefined;
      // The router cancelled this attempt (deadline, shutdown); the endpoint did not fail, so it is
      // reported as a cancel, which the client keeps out of failure accrual, not as a transport failure.
      if (this.endpoint && this.target) this.target.ended(this.endpoint, Status.CANCELLED, 0);
      if (!up.closed) up.close(NGHTTP2_CANCEL);
    }
    this.dropReplay();
  }

  /** Answer a non-gRPC request with a plain HTTP error. */
  failHttp(httpStatus: number, message: string): void {
    if (this.done) return;
    this.httpStatus = httpStatus;
    try {
      this.inbound.respond({ ':status': httpStatus, 'content-type': 'text/plain; charset=utf-8', 'l5d-err': encodeMessage(message) });
      this.inbound.end(message + '\n');
    } catch {
      // gone
    }
    this.inbound.resume();
  }

  /** @internal */ onInboundClose(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const up = this.up;
    if (up !== undefined && !up.closed) {
      // The client cancelled (or we finished first): cancel the endpoint's stream too.
      up.close(NGHTTP2_CANCEL);
    }
    if (this.status < 0) this.status = Status.CANCELLED;
    this.dropReplay();
    this.observer.finished(this);
  }
}

function onInboundData(this: Tagged<ServerHttp2Stream>, chunk: Buffer): void {
  this[kCall]!.onInboundData(chunk);
}
function onInboundEnd(this: Tagged<ServerHttp2Stream>): void {
  this[kCall]!.onInboundEnd();
}
function onInboundDrain(this: Tagged<ServerHttp2Stream>): void {
  this[kCall]!.onInboundDrain();
}
function onInboundClose(this: Tagged<ServerHttp2Stream>): void {
  const call = this[kCall];
  // 'close' is a stream's last event. Unlink so a stream Node keeps a while longer (its handle
  // lives until its last socket write completes) does not keep the call and the other stream alive.
  this[kCall] = undefined;
  call?.onInboundClose();
}
function onWantTrailers(this: Tagged<ServerHttp2Stream>): void {
  this[kCall]!.onWantTrailers();
}
function onStreamError(): void {
  // Reported through 'close' and rstCode; an 'error' listener keeps Node from throwing.
}
function onUpResponse(this: Tagged<ClientHttp2Stream>, headers: IncomingHttpHeaders, flags: number): void {
  this[kCall]!.onUpResponse(this, headers, flags);
}
function onUpData(this: Tagged<ClientHttp2Stream>, chunk: Buffer): void {
  this[kCall]!.onUpData(this, chunk);
}
function onUpTrailers(this: Tagged<ClientHttp2Stream>, trailers: IncomingHttpHeaders): void {
  this[kCall]!.onUpTrailers(this, trailers);
}
function onUpEnd(this: Tagged<ClientHttp2Stream>): void {
  this[kCall]!.onUpEnd(this);
}
function onUpDrain(this: Tagged<ClientHttp2Stream>): void {
  this[kCall]!.onUpDrain(this);
}
function onUpError(this: Tagged<ClientHttp2Stream>, error: Error): void {
  this[kCall]!.onUpError(error);
}
function onUpClose(this: Tagged<ClientHttp2Stream>): void {
  const call = this[kCall];
  this[kCall] = undefined;
  call?.onUpClose(this);
}
function onDeadline(call: ProxyCall): void {
  call.onDeadline();
}
