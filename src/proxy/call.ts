import { ErrorCode } from '../h2/constants.js';
import { StreamState, type H2Stream } from '../h2/stream.js';
import type { RequestFields } from '../h2/connection.js';
import type { FieldInput, FieldSink, HeaderList } from '../h2/hpack/index.js';
import { SessionPool, UpstreamUnavailable, connectionLoss, onConnected, onConnectedConnection, type UpstreamEvents } from './upstream.js';
import type { InboundEvents } from './server.js';
import { STATUS_STRINGS, Status, encodeMessage, encodeTimeout, isGrpcContentType, parseStatus, resetBlamesRequest, statusForReset } from './grpc.js';
import { valueOf, writeFields, type HeaderMap } from './headers.js';
import type { ErrorReason } from './error-reasons.js';
import { answerError } from './error-answer.js';
import { MAX_TIMER_MS } from '../util/clock.js';
import { SmallChunks, unpinned } from '../h2/small-chunks.js';
import { REPLAY_BUDGET } from './replay-budget.js';
import { ClientUsage } from '../util/holds-per-client.js';

/**
 * One proxied stream: a client's stream on our server coupled, frame by frame, to a stream on an
 * endpoint's connection. Both are engine streams (src/h2) whose events arrive here through
 * `stream.user`; nothing is allocated per request beyond this object, its header map and the field
 * lists the encoder reads.
 *
 * Flow control is coupled end to end (issue 11): bytes received on one side are returned to their
 * sender as window only once the other side's stream has taken them without backpressure (or,
 * later, on its drain). What a stream holds is therefore bounded by the windows the router grants,
 * never by a queue of its own. Until the endpoint answers, the request bytes already sent are kept
 * (by reference, bounded) so a stream the endpoint never processed can be replayed on another one.
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
   * An attempt ended: `status` is the gRPC status, `TRANSPORT_FAILURE`, or `NEVER_SENT`; `latencyMs` is
   * the time to the endpoint's response headers on an established connection, 0 when there is no clean sample.
   */
  ended(endpoint: E, status: number, latencyMs: number): void;
  /** A transparent retry is about to start: the stream could not be opened, was refused, or never left. */
  retried(reason: RetryReason): void;
}

/** `ended` status of an attempt the endpoint or its connection failed (no gRPC status came). */
export const TRANSPORT_FAILURE = -1;
/**
 * `ended` status of an attempt whose stream never left the router (it waited for its connection's
 * SETTINGS): the endpoint saw nothing, so nothing is counted for or against it.
 */
export const NEVER_SENT = -2;
/**
 * `ended` status of an attempt the endpoint reset for the request's own fault (RST_STREAM with a code
 * that blames the request, on a connection that stays up): one of its requests and a failure in its
 * metrics, but nothing for or against its health. Counted against it, ten malformed calls from one
 * pod got every endpoint of a service ejected for every pod on the node.
 */
export const REQUEST_FAULT = -3;

/** Why a stream was retried transparently (`kgr_retries_total{reason}`): all are streams no endpoint processed. */
export type RetryReason = 'connect' | 'refused' | 'unsent';

export interface CallObserver<S = unknown> {
  finished(call: ProxyCall<S>): void;
}

/** What an access log records of the request beyond what the call knows anyway. */
export interface LoggedRequest {
  readonly remote: string | undefined;
  readonly authority: string | undefined;
  readonly path: string | undefined;
}

/** Request bytes kept for a transparent retry; a longer request is not retried. */
const REPLAY_LIMIT = 64 * 1024;
const RELEASED_HEADERS: HeaderMap = Object.freeze({}) as HeaderMap;


// Where the request's bytes go (the low two bits of ProxyCall's flags).
const WAITING = 0;    // not dispatched yet: held (and not returned as window) until an attempt
const FORWARDING = 1; // to the current attempt's stream
const DROPPING = 2;   // the router has answered, or the endpoint finished: read and discarded
const PHASE = 3;
// ProxyCall's boolean state, packed into the same field: every open stream has a call, so each
// field is paid ten thousand times over by ten thousand idle streams.
const GRPC = 1 << 2;           // a gRPC request (content-type application/grpc…): errors are gRPC statuses, else plain HTTP
const DONE = 1 << 3;           // the client's stream is gone
const UP_WARM = 1 << 4;        // the attempt's connection was up when it began: its latency is a clean sample
const UP_REFUSED = 1 << 5;     // the current attempt was refused (never processed)
const REPLAYABLE = 1 << 6;     // what was sent can still be replayed on another attempt
const REQUEST_ENDED = 1 << 7;  // the client has ended its request (END_STREAM, or trailers)
const COMMITTED = 1 << 8;      // response headers went to the client (no other attempt follows)
const RESPONSE_ENDED = 1 << 9; // the response's end (trailers or END_STREAM) went to the client too

/** `S`: what the observer hangs on the call (the router: its route's stats). */
export class ProxyCall<S = unknown> implements InboundEvents, UpstreamEvents, RequestFields {
  // What the router fills in (also read by the access log and metrics).
  service = '';
  target: CallTarget | undefined;
  endpoint: CallEndpoint | undefined;
  /** The observer's per-call state (the router: the stats of the call's service and client). */
  stats: S | undefined;

  /** gRPC status the client got (-1 until known). */
  status = -1;
  /** HTTP `:status` the client got (0 until sent). */
  httpStatus = 0;
  bytesIn = 0;
  bytesOut = 0;
  attempts = 0;
  readonly startedAt: number;
  /** The client's address, `:authority` and `:path`, kept only when an access log wants them (one field, not three, when none does). */
  logged: LoggedRequest | undefined;
  /** Why the router answered this stream itself (a metrics label), when it did. */
  errorReason: ErrorReason | undefined;

  private up: H2Stream | undefined;
  /**
   * When the current attempt began, until the attempt is committed (its response headers came);
   * from then on its latency for peak EWMA: the time to those headers, or 0 when not a clean sample.
   * One field for both: a time is a boxed double, and every open stream carries a call.
   */
  private upClock = 0;
  /** The current attempt's reset code (-1: none) and a lost connection's reason. */
  private upResetCode = -1;
  private upLoss: string | undefined;

  /** The phase (WAITING, FORWARDING, DROPPING) and the boolean state (GRPC … RESPONSE_ENDED). */
  private flags = WAITING | REPLAYABLE;
  /** Request chunks kept for the first attempt and for a replay (REPLAYABLE cleared once too long or committed). */
  private held: Buffer[] | undefined;
  /** Where small held chunks are coalesced. */
  private smallHeld: SmallChunks | undefined;
  private heldBytes = 0;
  /** Of those, what REPLAY_BUDGET lent this call (given back when `held` goes). */
  private replayCharged = 0;
  private requestTrailers: FieldInput[] | undefined;
  /** Received and not yet returned as window: from the client, and from the endpoint. */
  private inboundUnconsumed = 0;
  private upUnconsumed = 0;
  /**
   * The endpoint stream `upUnconsumed` is owed to. Kept past its close: an answer that ended while
   * the client still holds part of it back owes its connection that window until the client takes
   * it (or goes), or every endpoint stream on that connection stalls once enough such calls add up.
   */
  private upOwing: H2Stream | undefined;
  private deadline = 0;
  private timer: NodeJS.Timeout | undefined;
  private doneHook: (() => void) | undefined;

  constructor(
    readonly inbound: H2Stream,
    /** The request headers, forwarded on every attempt; released once an endpoint has answered. */
    public headers: HeaderMap,
    private readonly observer: CallObserver<S>,
  ) {
    this.startedAt = performance.now();
    if (isGrpcContentType(headers['content-type'])) this.flags |= GRPC;
    if (inbound.remoteEnded) this.flags |= REQUEST_ENDED;
    inbound.user = this;
  }

  /** A gRPC request (content-type application/grpc…): errors are gRPC statuses, else plain HTTP. */
  get grpc(): boolean { return this.is(GRPC); }
  get done(): boolean { return this.is(DONE); }
  private get phase(): number { return this.flags & PHASE; }
  private set phase(p: number) { this.flags = (this.flags & ~PHASE) | p; }

  private is(bit: number): boolean {
    return (this.flags & bit) !== 0;
  }

  private setFlag(bit: number, v: boolean): void {
    this.flags = v ? this.flags | bit : this.flags & ~bit;
  }

  /** True once the client's stream is gone (reset or finished). */
  get closed(): boolean {
    return this.done;
  }

  /** `fn` runs once when the call ends (a waiter on the binding lets go). One waiter at a time. */
  whenDone(fn: (() => void) | undefined): void {
    this.doneHook = fn;
  }

  /** Enforce a deadline `ms` from the start of the call (DEADLINE_EXCEEDED when it passes). */
  setDeadline(ms: number): void {
    this.deadline = this.startedAt + ms;
    const left = this.deadline - performance.now();
    if (left <= 0) {
      this.fail(Status.DEADLINE_EXCEEDED, 'deadline exceeded before the request was routed', undefined);
      return;
    }
    // setTimeout fires at once past 2^31-1 ms (~24.8 days; grpc-timeout allows 99999999H): such a
    // deadline is forwarded, but not timed here.
    if (left <= MAX_TIMER_MS) this.timer = setTimeout(onDeadline, left, this);
  }

  /** Send the stream to `target` (the router has set `service`, `stats` and the outbound headers). */
  dispatch(target: CallTarget): void {
    if (this.done || this.phase !== WAITING) return;
    this.target = target;
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
      const held = this.held;
      const endWithHeaders = this.is(REQUEST_ENDED) && held === undefined && this.requestTrailers === undefined;
      let up: H2Stream;
      try {
        up = endpoint.pool.request(this, endWithHeaders, this);
      } catch (e) {
        // Counted as an attempt that failed at once, so the endpoint's accrual hears of it.
        target.began(endpoint);
        target.ended(endpoint, TRANSPORT_FAILURE, 0);
        if (this.attempts < target.maxAttempts && e instanceof UpstreamUnavailable) {
          target.retried('connect');
          exclude = endpoint;
          continue;
        }
        this.fail(Status.UNAVAILABLE, `cannot open a stream to ${endpoint.key} (${target.id}): ${(e as Error).message}`, 'connect');
        return;
      }
      target.began(endpoint);
      up.shares = this.inbound.shares;
      this.up = up;
      this.upOwing = up;
      this.phase = FORWARDING;
      this.upResetCode = -1;
      this.setFlag(UP_REFUSED, false);
      this.upLoss = undefined;
      // A stream sent before its connection connected would charge the connect to the endpoint's
      // latency; one waiting for a slot on a connected one starts its clock when it goes out.
      this.setFlag(UP_WARM, onConnected(up));
      if (held !== undefined) {
        const last = held.length - 1;
        let flowing = true;
        for (let i = 0; i <= last; i++) flowing = up.write(held[i]!, i === last && this.is(REQUEST_ENDED) && this.requestTrailers === undefined);
        if (this.is(REPLAYABLE) && this.heldBytes > this.replayCharged) this.lendReplay(this.heldBytes - this.replayCharged);
        if (!this.is(REPLAYABLE)) this.releaseHeld();
        if (flowing) this.returnInbound();
      }
      if (this.requestTrailers !== undefined) up.sendHeaders(this.requestTrailers, true);
      return;
    }
  }

  /**
   * The request headers of the current attempt, read as they go out (a stream may wait for its
   * connection's SETTINGS): the one clock read of the attempt, which also starts its latency.
   */
  requestFields(into: FieldSink): void {
    const now = performance.now();
    this.upClock = now;
    // Forward what is left of the budget, not what the client first asked for (within a
    // millisecond of arrival the client's own header already says that).
    if (this.deadline !== 0 && now - this.startedAt >= 1) this.headers['grpc-timeout'] = encodeTimeout(this.deadline - now);
    writeFields(this.headers, into);
  }

  // ------------------------------------------------------------- the client's side

  /** @internal */ onInboundData(data: Buffer, endStream: boolean): void {
    const n = data.length;
    this.bytesIn += n;
    if (endStream) this.setFlag(REQUEST_ENDED, true);
    if (this.phase === DROPPING) {
      this.inbound.consumed(n);
      return;
    }
    this.inboundUnconsumed += n;
    if (this.phase === WAITING || this.is(REPLAYABLE)) {
      // Kept for the first attempt (always) and for a replay (while short enough).
      this.heldBytes += n;
      // An array of exactly one at first: `[]` and a push would reserve seventeen slots. Small
      // chunks are coalesced (one object per one-byte frame would cost ~120 bytes each).
      if (n > 0) {
        data = unpinned(data); // the one copy, if any, for both the held list and the upstream queue
        if (this.held === undefined) this.held = [data];
        else (this.smallHeld ??= new SmallChunks()).append(this.held, data);
      }
      if (this.heldBytes > REPLAY_LIMIT) this.setFlag(REPLAYABLE, false);
      else if (this.phase === FORWARDING && n > 0) this.lendReplay(n);
      if (this.phase === FORWARDING && !this.is(REPLAYABLE)) this.releaseHeld();
    }
    if (this.phase === FORWARDING && this.up!.write(data, endStream)) this.returnInbound();
  }

  /** @internal */ onInboundTrailers(list: HeaderList): void {
    this.setFlag(REQUEST_ENDED, true);
    if (this.phase === DROPPING) return;
    const trailers = list.copyFields();
    // Kept for the first attempt, and for a replay while one is possible (gRPC requests carry none).
    if (this.phase === WAITING || this.is(REPLAYABLE)) this.requestTrailers = trailers;
    if (this.phase === FORWARDING) this.up!.sendHeaders(trailers, true);
  }

  /** @internal */ keepsTrailers(): boolean {
    return this.phase === WAITING || (this.phase !== DROPPING && this.is(REPLAYABLE));
  }

  /** @internal */ onInboundRefused(status: number, message: string): void {
    this.fail(status, message, undefined);
  }

  /** @internal */ onInboundReset(): void {
    // The client cancelled: so is the endpoint's stream.
    this.cancelUpstream();
  }

  /** @internal */ onInboundDrain(): void {
    // The client took some of what the endpoint sent: the endpoint may send as much more.
    this.returnUp(this.inbound.queuedBytes);
  }

  /** @internal */ onInboundClose(): void {
    if (this.done) return;
    this.setFlag(DONE, true);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.phase = DROPPING;
    const up = this.up;
    // The client cancelled (or we finished first): cancel the endpoint's stream too; its close
    // accounts for the attempt.
    if (up !== undefined && !up.closed) up.reset(ErrorCode.CANCEL);
    // What the router still held, either way, is dropped with the client's stream: both connections
    // get that window back (a request body the endpoint never took, an answer the client never read).
    this.returnUp();
    this.returnInbound();
    if (this.status < 0) this.status = Status.CANCELLED;
    this.releaseHeld();
    const hook = this.doneHook;
    this.doneHook = undefined;
    hook?.();
    this.observer.finished(this);
  }

  /** The client's bytes go back as its window, but for `stillQueued` of them not yet sent onward. */
  private returnInbound(stillQueued = 0): void {
    const n = this.inboundUnconsumed - stillQueued;
    if (n <= 0) return;
    this.inboundUnconsumed -= n;
    this.inbound.consumed(n);
  }

  /** The endpoint's bytes go back as its window, but for `stillQueued` of them not yet sent to the client. */
  private returnUp(stillQueued = 0): void {
    const n = this.upUnconsumed - stillQueued;
    const up = this.upOwing;
    if (n <= 0 || up === undefined) return;
    this.upUnconsumed -= n;
    if (up.closed && this.upUnconsumed === 0) this.upOwing = undefined; // nothing more comes on it
    up.consumed(n); // no more than the stream still holds: a reset stream's bytes went back with the reset
  }

  // ------------------------------------------------------------- the endpoint's side

  /** @internal */ onUpHeaders(up: H2Stream, list: HeaderList, endStream: boolean): void {
    if (up !== this.up) return;
    if (!this.is(COMMITTED)) {
      this.setFlag(COMMITTED, true);
      this.dropReplay();
      // No attempt follows an answer.
      this.headers = RELEASED_HEADERS;
      this.upClock = this.is(UP_WARM) ? performance.now() - this.upClock : 0;
      this.httpStatus = Number(valueOf(list, ':status'));
    }
    if (endStream) {
      // Trailers, or a trailers-only answer kept as the one HEADERS frame the endpoint sent.
      this.status = parseStatus(valueOf(list, 'grpc-status'));
      this.setFlag(RESPONSE_ENDED, true);
    }
    this.inbound.sendHeaders(list, endStream);
    if (endStream) this.answeredEarly(up);
  }

  /** @internal */ onUpData(up: H2Stream, data: Buffer, endStream: boolean): void {
    this.bytesOut += data.length;
    if (endStream) this.setFlag(RESPONSE_ENDED, true);
    this.upUnconsumed += data.length;
    // Taken by the client's stream, or dropped with it: either way the endpoint may send more.
    if (this.inbound.write(data, endStream) || this.inbound.closed) this.returnUp();
    if (endStream) this.answeredEarly(up);
  }

  /**
   * The endpoint's answer is complete while the request is still on its way to it (it answered
   * before reading the body): as grpc-go does, the endpoint is told the rest is not wanted
   * (RST_STREAM NO_ERROR, RFC 9113 §8.1). The call ends as a normal one, and what the client still
   * sends is dropped with its window returned, instead of waiting for an endpoint that never reads.
   */
  private answeredEarly(up: H2Stream): void {
    if (up === this.up && up.state === StreamState.HALF_CLOSED_REMOTE) up.reset(ErrorCode.NO_ERROR);
  }

  /** @internal */ onUpReset(up: H2Stream, code: number, refused: boolean): void {
    this.upResetCode = code;
    this.setFlag(UP_REFUSED, refused);
    this.upLoss = connectionLoss(up);
  }

  /** @internal */ onUpDrain(up: H2Stream): void {
    // The endpoint took some of what the client sent: the client may send as much more.
    this.returnInbound(up.queuedBytes);
  }

  /** @internal */ onUpClose(up: H2Stream): void {
    if (up !== this.up) return;
    this.up = undefined;
    const endpoint = this.endpoint!;
    const target = this.target!;
    const latency = this.is(COMMITTED) ? this.upClock : 0;
    const code = this.upResetCode;
    if (this.done) {
      target.ended(endpoint, this.status >= 0 ? this.status : Status.CANCELLED, latency);
      return;
    }
    if (this.is(RESPONSE_ENDED) && (code < 0 || code === ErrorCode.NO_ERROR)) {
      // Normal end (an endpoint may reset with NO_ERROR once it has answered, RFC 9113 §8.1):
      // the client's stream finishes as the answer goes out; what it still sends is dropped.
      target.ended(endpoint, this.status >= 0 ? this.status : Status.UNKNOWN, latency);
      this.stopForwarding();
      return;
    }
    const loss = this.upLoss;
    // The endpoint's own reset of this stream alone, blaming the request, says nothing of its health
    // (the engine's resets, e.g. of a malformed answer, and lost connections do).
    const blamesRequest = loss === undefined && up.peerResetCode >= 0 && resetBlamesRequest(up.peerResetCode);
    target.ended(endpoint, up.unsent ? NEVER_SENT : blamesRequest ? REQUEST_FAULT : TRANSPORT_FAILURE, latency);
    const why = loss ?? 'connection closed';
    if (!this.is(COMMITTED)) {
      // Nothing was processed when the endpoint refused the stream (also streams above a GOAWAY's
      // last id), when it never left the router, or when its connection never connected. A stream
      // lost with an established connection may have been processed, so it is not replayed.
      const unsent = !onConnectedConnection(up);
      if ((this.is(UP_REFUSED) || unsent) && this.is(REPLAYABLE) && this.attempts < target.maxAttempts) {
        target.retried(this.is(UP_REFUSED) && !up.unsent ? 'refused' : 'unsent');
        this.attempt(endpoint);
        return;
      }
      if (unsent) {
        this.fail(Status.UNAVAILABLE, `endpoint ${endpoint.key} of ${target.id} failed: ${why}`, 'endpoint');
        return;
      }
    }
    if (loss !== undefined) {
      this.fail(Status.UNAVAILABLE, `connection to ${endpoint.key} of ${target.id} lost: ${why}`, 'endpoint');
    } else if (code === ErrorCode.NO_ERROR) {
      this.fail(Status.INTERNAL, `endpoint ${endpoint.key} ended the stream without a gRPC status`, 'endpoint');
    } else {
      this.fail(statusForReset(code), `endpoint ${endpoint.key} reset the stream (HTTP/2 error code ${code})`, 'endpoint');
    }
  }

  /** @internal */ onDeadline(): void {
    this.timer = undefined;
    if (this.done) return;
    this.fail(Status.DEADLINE_EXCEEDED, 'deadline exceeded', undefined);
  }

  // ------------------------------------------------------------- answers of the router's own

  /**
   * Answer the client with a gRPC status the router made: trailers-only when no response headers
   * went out yet, else trailers after what was already forwarded. The endpoint's stream is cancelled.
   */
  fail(status: number, message: string, reason: ErrorReason | undefined): void {
    if (this.done) return;
    this.errorReason = reason;
    this.cancelUpstream();
    this.status = status;
    const inbound = this.inbound;
    if (!inbound.headersSent) {
      this.httpStatus = answerError(inbound, this.grpc, status, message, reason !== undefined);
    } else if (this.grpc && inbound.canSend) {
      inbound.sendHeaders([['grpc-status', STATUS_STRINGS[status]!], ['grpc-message', encodeMessage(message)]], true);
    } else if (!inbound.closed) {
      inbound.reset(ErrorCode.CANCEL);
    }
  }

  /** The router cancels the current attempt (an answer of its own, or the client's reset). */
  private cancelUpstream(): void {
    const up = this.up;
    if (up !== undefined) {
      this.up = undefined;
      // The router cancelled this attempt (deadline, shutdown); the endpoint did not fail, so it is
      // reported as a cancel, which the client keeps out of failure accrual, not as a transport failure.
      if (this.endpoint && this.target) this.target.ended(this.endpoint, up.unsent ? NEVER_SENT : this.is(RESPONSE_ENDED) && this.status >= 0 ? this.status : Status.CANCELLED, 0);
      if (!up.closed) up.reset(ErrorCode.CANCEL);
    }
    this.stopForwarding();
  }

  /** From now on the client's bytes are read and dropped, so its stream can finish. */
  private stopForwarding(): void {
    this.phase = DROPPING;
    this.dropReplay();
    this.returnInbound();
  }

  /** No replay from now on; what is held for the first attempt (still WAITING) stays. */
  private dropReplay(): void {
    this.setFlag(REPLAYABLE, false);
    if (this.phase === WAITING) return;
    this.releaseHeld();
    this.requestTrailers = undefined;
  }

  /**
   * `n` request bytes passed on are kept for a replay: past every window and read budget then, so
   * the process lends them; refused, the call is not replayed (and keeps nothing more).
   */
  private lendReplay(n: number): void {
    if (REPLAY_BUDGET.takeAll(n, replayShareOf(this.inbound))) this.replayCharged += n;
    else this.setFlag(REPLAYABLE, false);
  }

  /** The request bytes kept for an attempt or a replay go, and what the replay budget lent with them. */
  private releaseHeld(): void {
    this.held = this.smallHeld = undefined;
    if (this.replayCharged > 0) {
      REPLAY_BUDGET.give(this.replayCharged, replayShareOf(this.inbound));
      this.replayCharged = 0;
    }
  }
}

/** Whose share a call's replay bytes count against: its client address's usage on its server (none for a stream no server counts). */
function replayShareOf(inbound: H2Stream): ClientUsage | null {
  const usage = inbound.shares;
  return usage instanceof ClientUsage ? usage : null;
}

function onDeadline(call: ProxyCall): void {
  call.onDeadline();
}
