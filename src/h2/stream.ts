// The per-stream record (RFC 9113 §5.1). A plain class with fields, no
// EventEmitter and no closures: events go to the connection's one handler object,
// and the router hangs its call on `user`. Methods delegate to the connection,
// which owns the windows, the writer and the HPACK encoder.

import type { FieldInput, HeaderList } from './hpack/index.js';
import type { Socket } from 'node:net';
import { NO_CHUNKS, SendQueue } from './send-queue.js';
import type { GrowthShare } from './window-growth.js';
import type { Share } from '../util/share-budget.js';

/** §5.1 states, kept minimal: no reserved states (we never push and refuse pushes). */
export const StreamState = {
  IDLE: 0,
  OPEN: 1,
  HALF_CLOSED_LOCAL: 2,
  HALF_CLOSED_REMOTE: 3,
  CLOSED: 4,
} as const;
export type StreamStateValue = (typeof StreamState)[keyof typeof StreamState];

/**
 * What a stream needs of its connection and what owners read through it. H2Connection implements
 * it; it is declared here so that the stream and the connection do not import each other.
 */
export interface StreamConnection {
  readonly socket: Socket;
  /** The connection's event handler: the owner's per-connection state. */
  readonly handler: unknown;
  /** A connection error was sent or the socket closed. */
  readonly failed: boolean;
  readonly closeReason: Error | null;
  sendHeaders(stream: H2Stream, fields: readonly FieldInput[] | HeaderList, endStream: boolean): boolean;
  writeData(stream: H2Stream, data: Buffer, endStream: boolean): boolean;
  consumed(stream: H2Stream, n: number): void;
  resetStream(stream: H2Stream, code: number): void;
}

// H2Stream's boolean flags, packed into one field: ten thousand idle streams are ten thousand of these.
const END_QUEUED = 1 << 0;
const READY = 1 << 1;
const NEED_DRAIN = 1 << 2;
const HEADERS_SENT = 1 << 3;
const HEADERS_RECEIVED = 1 << 4;
const WAITING = 1 << 5;
const AWAITS_WRITE = 1 << 6;

/**
 * Who a stream's bytes count against besides its group of connections (the router: its call's
 * client address, a ClientUsage): its window growth (a WindowGrowth's share), and what it handed to
 * write() that its socket has not yet written (a send share, H2ConnectionOptions.sendShares).
 */
export type StreamShares = GrowthShare & Share<'queuedRequestBytes'>;

export class H2Stream {
  state: StreamStateValue = StreamState.IDLE;
  /** Slot for the owner (the router's call object). Never touched by the engine. */
  user: unknown = undefined;
  /** Peer-opened streams: the size of the header list that opened it (name and value octets plus 32 per field, RFC 9113 §6.5.2). */
  headerListSize = 0;
  /** The code of the RST_STREAM the peer sent on it (-1: none): the owner tells the peer's resets from the engine's. */
  peerResetCode = -1;

  /** Peer's window for our DATA on this stream (§6.9); may go negative after a SETTINGS change (§6.9.2). */
  sendWindow: number;
  /** Our window for the peer's DATA on this stream, as the peer sees it once our updates arrive. */
  recvWindow: number;
  /** Bytes delivered by onData and not yet consumed() by the owner. */
  recvUnconsumed = 0;
  /** Bytes consumed and not yet returned to the peer with a WINDOW_UPDATE (batched). */
  recvPendingUpdate = 0;
  /** Of recvUnconsumed, bytes already given back to the connection window (a ReceiveBudget's). */
  recvCredited = 0;
  /** Receive window granted past the initial one, from a WindowGrowth (given back on close). */
  recvGrown = 0;
  /** Whose shares of the group budgets its bytes count against, if anyone's (set by the owner). */
  shares: StreamShares | null = null;

  /** Bytes waiting in `queue`: the caller stops feeding when this grows (write() returns false). */
  queuedBytes = 0;
  private flags = 0;
  /** DATA and trailers waiting to go out, made when something first waits (most streams never do). */
  private sending: SendQueue | null = null;

  constructor(
    /** Fixed once the stream has gone out; a `waiting` one may move to another connection to its peer (H2Connection.takeWaiting). */
    public connection: StreamConnection,
    /** 0 while `waiting`: a client stream's id is taken when its HEADERS go out (ids go on the wire in order, §5.1.1). */
    public id: number,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** DATA waiting for window: buffers in order, the first one partly sent from queueOffset. */
  get queue(): readonly Buffer[] { return this.sending === null ? NO_CHUNKS : this.sending.chunks; }
  get queueOffset(): number { return this.sending === null ? 0 : this.sending.offset; }
  /** Of the first queued buffer, this much went out (only while one is queued). */
  set queueOffset(n: number) { this.sending!.offset = n; }

  /** Trailers to send after the queued data (encoded only when written: HPACK order is wire order). */
  get trailers(): readonly FieldInput[] | null { return this.sending === null ? null : this.sending.trailers; }
  set trailers(t: readonly FieldInput[] | null) {
    if (t !== null) (this.sending ??= new SendQueue()).trailers = t;
    else if (this.sending !== null) this.sending.trailers = null;
  }

  /** When its queued DATA last found a send window shut (the connection's clock), 0 while it moves. */
  get stalledSince(): number { return this.sending === null ? 0 : this.sending.stalledSince; }
  set stalledSince(t: number) {
    if (t !== 0) this.sending!.stalledSince = t;
    else if (this.sending !== null) this.sending.stalledSince = 0;
  }

  /** Appends to the queue: a shared read onto the process's queue copies, small chunks coalesced. */
  enqueue(data: Buffer): void {
    (this.sending ??= new SendQueue()).append(data);
  }

  /** Drops the queue's first buffer (it went out; queueOffset is 0 again); the array stays for the stream's next writes. */
  dequeue(): void {
    this.sending!.shift();
  }

  /** Forgets what is queued (the stream was reset or closed); the caller adjusts the byte counts. */
  clearQueue(): void {
    this.sending?.clear();
  }

  /** END_STREAM is to follow the queued data. */
  get endQueued(): boolean { return (this.flags & END_QUEUED) !== 0; }
  set endQueued(v: boolean) { this.flags = v ? this.flags | END_QUEUED : this.flags & ~END_QUEUED; }
  /** In the connection's list of streams with data to send. */
  get ready(): boolean { return (this.flags & READY) !== 0; }
  set ready(v: boolean) { this.flags = v ? this.flags | READY : this.flags & ~READY; }
  /** write() returned false: call onDrain when the queue empties. */
  get needDrain(): boolean { return (this.flags & NEED_DRAIN) !== 0; }
  set needDrain(v: boolean) { this.flags = v ? this.flags | NEED_DRAIN : this.flags & ~NEED_DRAIN; }
  /** We sent (or queued to the writer) our HEADERS. */
  get headersSent(): boolean { return (this.flags & HEADERS_SENT) !== 0; }
  set headersSent(v: boolean) { this.flags = v ? this.flags | HEADERS_SENT : this.flags & ~HEADERS_SENT; }
  /** We received the peer's (non-informational) HEADERS. */
  get headersReceived(): boolean { return (this.flags & HEADERS_RECEIVED) !== 0; }
  set headersReceived(v: boolean) { this.flags = v ? this.flags | HEADERS_RECEIVED : this.flags & ~HEADERS_RECEIVED; }

  /**
   * Client role: opened by the owner, but its HEADERS wait (with any DATA and trailers behind them)
   * until the peer's stream limit allows it; the peer has not heard of it.
   */
  get waiting(): boolean { return (this.flags & WAITING) !== 0; }
  set waiting(v: boolean) { this.flags = v ? this.flags | WAITING : this.flags & ~WAITING; }
  /** Its owner hears of its drain once the socket has written what it moved there (its shares are past their send share). */
  get awaitsWrite(): boolean { return (this.flags & AWAITS_WRITE) !== 0; }
  set awaitsWrite(v: boolean) { this.flags = v ? this.flags | AWAITS_WRITE : this.flags & ~AWAITS_WRITE; }

  /** Client role: never went on the wire (it waited, or waits, for the peer's stream limit). */
  get unsent(): boolean { return this.id === 0; }

  /** Both sides done or reset: nothing more is sent or received (the connection takes it out of its map right after telling the owner). */
  get closed(): boolean {
    return this.state === StreamState.CLOSED;
  }

  /** The peer has ended its side (END_STREAM received) or the stream is closed. */
  get remoteEnded(): boolean {
    return this.state === StreamState.HALF_CLOSED_REMOTE || this.state === StreamState.CLOSED;
  }

  /** We may still send on this stream (open or half-closed(remote)). */
  get canSend(): boolean {
    return (this.state === StreamState.OPEN || this.state === StreamState.HALF_CLOSED_REMOTE) && !this.endQueued;
  }

  /**
   * Sends HEADERS (a response in the server role, trailers in either). With data
   * still queued, trailers wait behind it.
   */
  sendHeaders(fields: readonly FieldInput[] | HeaderList, endStream: boolean): void {
    this.connection.sendHeaders(this, fields, endStream);
  }

  /**
   * Sends as much of `data` as the windows allow and queues the rest. Returns false
   * when the caller should stop feeding until the handler's onDrain(stream).
   * `data` is referenced, not copied: do not mutate it afterwards.
   */
  write(data: Buffer, endStream: boolean): boolean {
    return this.connection.writeData(this, data, endStream);
  }

  /**
   * The owner has passed `n` received bytes onward: only now do they go back to the
   * peer as window (the coupling of issue 11).
   */
  consumed(n: number): void {
    this.connection.consumed(this, n);
  }

  /** RST_STREAM with `code` (§6.4); the stream closes at once. */
  reset(code: number): void {
    this.connection.resetStream(this, code);
  }
}
