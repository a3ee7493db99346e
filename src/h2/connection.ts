// One HTTP/2 connection over a connected net.Socket, in either role (RFC 9113).
//
// A proxy's engine, not a general library:
// - frames come from FrameReader (stateless checks done there) and go out through
//   FrameWriter, flushed once per event-loop turn (see scheduleFlush);
// - this file adds what needs connection state: the SETTINGS exchange, the §5.1
//   stream states, stream-id rules, flow control, GOAWAY/RST_STREAM, §8 field
//   validation and the abuse limits of limits.ts;
// - receive windows are never refilled on their own: the owner calls
//   stream.consumed(n) once it has passed bytes onward, and only then does a
//   WINDOW_UPDATE go out (issue 11: memory is bounded by the windows, not by a queue);
// - events go to one handler object; streams are plain records (stream.ts).

import type { Socket } from 'node:net';
import type { SharedReads } from './shared-reads.js';
import {
  CLIENT_PREFACE, DEFAULT_HEADER_TABLE_SIZE, DEFAULT_INITIAL_WINDOW_SIZE, DEFAULT_MAX_FRAME_SIZE,
  ErrorCode, FrameReader, FrameType, FrameWriter, MAX_WINDOW_SIZE, SettingId,
  type FrameHandler, type H2ConnectionError, type H2StreamError, type Setting,
} from './frames.js';
import {
  DECODE_HEADER_LIST_TOO_LARGE, HeaderList, HpackDecoder, HpackEncoder, HpackError, type FieldInput, type FieldSink,
} from './hpack/index.js';
import { DEFAULT_LIMITS, H2Counters, WindowCounter, type EventCounter, type H2LimitName, type H2Limits } from './limits.js';
import type { TokenBucket } from '../util/token-bucket.js';
import { H2Stream, StreamState, type StreamConnection } from './stream.js';
import type { ShareBudget } from '../util/share-budget.js';
import { UnwrittenSends } from './unwritten-sends.js';
import { statusOf, validateRequest, validateResponse, validateTrailers } from './validate.js';
import type { ReceiveBudget } from './receive-budget.js';
import type { ReadBudget, ReadBudgetClient, ReadBudgetMember } from './read-budget.js';
import type { WindowGrowth } from './window-growth.js';
import { realClock, type Clock } from '../util/clock.js';

export interface H2ConnectionOptions extends Partial<H2Limits> {
  role: 'server' | 'client';
  /** The socket was made with these reads' onread: chunks arrive through it, not 'data'. */
  reads?: SharedReads;
  /** Our SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window. Default 65535. */
  initialWindowSize?: number;
  /** Our connection receive window (raised from 65535 by a WINDOW_UPDATE at start). Default 1 MiB. */
  connectionWindowSize?: number;
  /** Our SETTINGS_MAX_FRAME_SIZE. Default 16384. */
  maxFrameSize?: number;
  /** Our SETTINGS_HEADER_TABLE_SIZE (the decoder's table). Default 4096. */
  headerTableSize?: number;
  /** The most dynamic table our encoder uses, whatever the peer allows. Default 4096. */
  encoderTableSize?: number;
  /** Told each time one of the limits stops the peer (a stream refused, a flood cut off), for metrics. */
  onLimit?: (limit: H2LimitName) => void;
  /** The name a limit has where the user sets it (a config key), for the errors that name it. Default its own. */
  limitKey?: (limit: H2LimitName) => string;
  /** What reads are stamped with and keepalive runs on (tests move it). Default the real clock. */
  clock?: Clock;
  /** Gives received DATA back to the connection window before the owner consumes it, while it lasts. */
  receiveBudget?: ReceiveBudget;
  /** Bounds the DATA read and not yet consumed over a group of connections (see ReadBudget). */
  readBudget?: ReadBudget;
  /**
   * Without a read budget: bounds only what waits to go to the peer (queued DATA, the socket's
   * unwritten bytes) over a group of connections. Past its limit a connection holding more than
   * the share takes no more (write() returns false) until it drains; the peer is still read (an
   * endpoint's answers are every client's).
   */
  sendBudget?: ReadBudget;
  /**
   * What each client's streams (`stream.shares`) handed to write() and the socket has not yet
   * written (past its high-water mark), over the connections sharing it: past the client's share,
   * write() on its streams returns false, and onDrain waits for the socket to write what they moved
   * into it, so one client's streams cannot spend a send budget alone.
   */
  sendShares?: ShareBudget<'queuedRequestBytes'>;
  /** Who what the connection holds against readBudget counts for besides the group (its client's address). */
  readBudgetClient?: ReadBudgetClient;
  /** Streams' receive windows grow past initialWindowSize as they are consumed, from this budget. */
  windowGrowth?: WindowGrowth;
  /**
   * The connection's receive window grows past connectionWindowSize, doubling each time half of it
   * comes back to the peer, from this budget (its `maxWindow` the most); given back when the
   * connection closes.
   */
  connectionWindowGrowth?: WindowGrowth;
  /**
   * Client role: streams sent before the peer's SETTINGS say how many it allows (what grpc-go and
   * nghttp2 assume: 100). Later requests wait for those SETTINGS instead of being refused. Default 100.
   */
  streamsBeforeSettings?: number;
  /**
   * Client role: counts this connection's waiting streams (`waitingStreams`) together with those of
   * the other connections given the same tally (a pool's: `takeWaiting` and `adoptWaiting` between
   * them leave it as it is), so their owner knows without asking each whether any stream waits.
   */
  waitingTally?: WaitingTally;
  /**
   * Server role: counts the peer's rapid resets (streams it reset before we answered) instead of a
   * counter of this connection's own, so that connections sharing it (one client address's) share
   * its limit; the reset that trips it fails the connection it came on. Read with `clock` (every
   * connection sharing it must use the same one). Default: this connection's own, made with
   * maxRapidResets per rapidResetWindowMs.
   */
  rapidResetCounter?: EventCounter;
  /** Who rapidResetCounter counts, for the GOAWAY's message (e.g. `from this client address, over all its connections`). */
  rapidResetScope?: string;
  /**
   * Client role: the RST_STREAMs this connection may send, as servers count those they receive per
   * connection and end one past their limit (nghttp2: 1000, refilled at 33 a second), whoever's
   * calls it carries. Each one sent while it is empty is told to onResetsSpent, and still goes out:
   * the owner decides (the router retires the connection). Read with `clock`. Default: no bound.
   */
  resetBudget?: TokenBucket;
  onResetsSpent?: () => void;
}

/**
 * Where a request's fields come from when they are read only as its HEADERS go out: a stream that
 * waits keeps no copy of them (a burst of thousands waiting would otherwise outlive the young
 * generation, and V8 keeps the old space it grew). The router's call is one.
 */
export interface RequestFields {
  /** Writes the request's fields, in order, into `into`. */
  requestFields(into: FieldSink): void;
}

function isFieldList(f: readonly FieldInput[] | RequestFields): f is readonly FieldInput[] {
  return Array.isArray(f);
}

/** A client stream whose HEADERS wait for the peer's stream limit; they are encoded when they go (HPACK order is wire order). */
export interface WaitingRequest {
  readonly stream: H2Stream;
  readonly fields: readonly FieldInput[] | RequestFields;
  readonly endStream: boolean;
  /** The owner asked it to wait on the peer's stated limit (`request`'s `queue`). */
  readonly queued: boolean;
}

/** Streams waiting, over the connections that share it (H2ConnectionOptions.waitingTally). */
export interface WaitingTally {
  streams: number;
}

/**
 * How the connection ended, given to onClose. `local`: we sent GOAWAY with `code`;
 * otherwise the peer's GOAWAY or the socket reported it.
 */
export class H2SessionError extends Error {
  override readonly name = 'H2SessionError';
  constructor(readonly code: number, readonly reason: string, message: string, readonly local: boolean) {
    super(message);
  }
}

/**
 * The owner's side. Header lists passed in are reused by the next block: copy what
 * you need before returning. Callbacks may call back into the connection (answer,
 * reset, write) synchronously.
 */
export interface H2ConnectionHandler {
  /** Server role: a new request. `endStream`: no request body follows. */
  onStream(stream: H2Stream, headers: HeaderList, endStream: boolean): void;
  /**
   * Server role: a new request whose header list exceeded maxHeaderListSize (HPACK
   * stayed in step; `headers` holds the fields up to the limit). Answer it now
   * (e.g. trailers-only RESOURCE_EXHAUSTED) if you can; whatever is left open on
   * return is reset (REFUSED_STREAM unanswered, NO_ERROR after a full answer, §8.1).
   */
  onHeaderListTooLarge(stream: H2Stream, headers: HeaderList, endStream: boolean): void;
  /** Response headers (client role) or trailers (either role, endStream true). */
  onHeaders(stream: H2Stream, headers: HeaderList, endStream: boolean): void;
  /** DATA. Call stream.consumed(data.length) once the bytes have gone onward. */
  onData(stream: H2Stream, data: Buffer, endStream: boolean): void;
  /**
   * The stream was reset by the peer or by the engine (malformed, flow control, the
   * connection closing). `refused`: it was never processed (REFUSED_STREAM, or above
   * the last-stream-id of the peer's GOAWAY) and may be retried elsewhere.
   */
  onReset(stream: H2Stream, code: number, refused: boolean): void;
  /** The stream left the map (both sides ended, or reset). Always the last event of a stream. */
  onStreamClose(stream: H2Stream): void;
  /**
   * After write() returned false, some of the stream's queued DATA went out: `stream.queuedBytes`
   * is what is left. Told on each such flush until it is 0, so an owner passing on another
   * stream's bytes can give back as many as left, not wait for the whole queue.
   */
  onDrain(stream: H2Stream): void;
  /** The peer sent GOAWAY (§6.8). `debug` is a view of the read (SharedReads reuses it): copy it to keep it. */
  onGoaway(lastStreamId: number, code: number, debug: Buffer): void;
  /** The ACK of a PING we sent; `opaque` is a view of the read, as GOAWAY's `debug` is. */
  onPingAck?(opaque: Buffer): void;
  /** The peer's SETTINGS were applied (its stream limit is known from the first). */
  onPeerSettings?(): void;
  /** The peer took nothing of what the socket holds for sendTimeoutMs; the socket is destroyed next. */
  onUnresponsive?(): void;
  /** The socket closed; `error` unless it ended cleanly. Always the last event. */
  onClose(error: Error | null): void;
}

const EMPTY = Buffer.alloc(0);
const RECENT_RESETS = 64;

// Connection states.
const OPEN = 0;
const GOAWAY_SENT = 1;   // graceful: no new streams, close when the last one ends
const FAILED = 2;        // GOAWAY for an error sent; the socket is closing
const CLOSED = 3;

export class H2Connection implements FrameHandler, StreamConnection, ReadBudgetMember {
  readonly role: 'server' | 'client';
  readonly counters = new H2Counters();
  readonly streams = new Map<number, H2Stream>();
  readonly limits: Readonly<H2Limits>;

  /** Sum of DATA bytes queued on all streams, waiting for window or socket (the memory bound). */
  queuedBytes = 0;
  /** Peer's window for all our DATA (§6.9); starts at 65535 whatever SETTINGS say (§6.9.2). */
  sendWindow = DEFAULT_INITIAL_WINDOW_SIZE;
  /** Our connection receive window as the peer sees it once our updates arrive. */
  recvWindow: number;
  /** Highest stream id the peer opened (§5.1.1); also our GOAWAY's last-stream-id. */
  lastPeerStreamId = 0;
  /** The peer's GOAWAY last-stream-id, or -1. */
  peerGoawayLastId = -1;
  /** When the open field block was first seen pending after a read (0: none open). */
  private headerBlockSince = 0;

  // Peer settings (§6.5.2 initial values until their SETTINGS arrive).
  peerMaxConcurrentStreams = Infinity;
  peerInitialWindowSize = DEFAULT_INITIAL_WINDOW_SIZE;
  peerMaxHeaderListSize = Infinity;

  /** The transport; the owner reads its addresses and may destroy it. */
  readonly socket: Socket;
  private readonly isServer: boolean;
  /** Where events go; the owner may find its per-connection state here from a stream. */
  readonly handler: H2ConnectionHandler;
  private readonly onLimit: ((limit: H2LimitName) => void) | undefined;
  private readonly limitKey: ((limit: H2LimitName) => string) | undefined;
  private readonly reader: FrameReader;
  private readonly writer = new FrameWriter();
  private readonly encoder: HpackEncoder;
  private readonly decoder: HpackDecoder;
  private readonly headers = new HeaderList();

  private readonly localInitialWindow: number;
  private readonly receiveBudget: ReceiveBudget | undefined;
  private readonly windowGrowth: WindowGrowth | undefined;
  private localConnectionWindow: number;
  private readonly connectionWindowGrowth: WindowGrowth | undefined;
  /** Of localConnectionWindow, what connectionWindowGrowth gave. */
  private connectionWindowGrown = 0;
  private readonly localMaxFrameSize: number;
  private readonly localHeaderTableSize: number;
  /** Receive window new streams start with: 65535 until the peer ACKs our SETTINGS (§6.5.3). */
  private recvInitialWindow = DEFAULT_INITIAL_WINDOW_SIZE;
  private settingsAcksPending = 0;
  private recvPendingUpdate = 0;

  private state = OPEN;
  private nextLocalStreamId: number;
  private peerActive = 0;
  private localActive = 0;
  private readonly streamsBeforeSettings: number;
  /**
   * Client role: requests waiting for the peer's stream limit, in order from `waitingHead`; those
   * reset meanwhile are skipped, and the array is compacted when they pile up.
   */
  private waitingRequests: WaitingRequest[] = [];
  private waitingHead = 0;
  /** Streams in `waitingRequests` that are still waiting; changed only by countWaiting. */
  private waitingCount = 0;
  private readonly waitingTally: WaitingTally | undefined;
  private ready: H2Stream[] = [];
  private flushScheduled = false;
  /** The socket holds more than maxQueuedBytes: the peer is not read until it drains. */
  private readsHeld = false;
  /** The last pump left DATA that the windows allowed, for lack of room in the socket. */
  private pumpCutShort = false;
  /** The read budget (or its client's part) is spent and this connection holds more than its share: the peer is not read. */
  private budgetHeld = false;
  /** While budgetHeld: when the hold began, or its held bytes last went on (sendTimeoutMs's check). */
  private budgetHeldSince = 0;
  /** A stream last found waiting for the peer's window while holding its bytes (awaitingPeerWindow). */
  private peerWindowWaiter: H2Stream | null = null;
  /** The socket is paused, for either of the two reasons above. */
  private socketPaused = false;
  /**
   * What this connection holds against the read budget (kept only with one): DATA read and not
   * yet consumed, over all streams, and `outboundCounted`.
   */
  private budgetBytes = 0;
  /** What waits to go to the peer, as last counted in the budget (see countOutbound). */
  private outboundCounted = 0;
  private readonly readBudget: ReadBudget | undefined;
  private readonly sendBudget: ReadBudget | undefined;
  /** What counts what waits to go to the peer: the read budget, or else the send budget. */
  private readonly outboundBudget: ReadBudget | undefined;
  private readonly readBudgetClient: ReadBudgetClient | null;
  private readonly sendShares: ShareBudget<'queuedRequestBytes'> | undefined;
  /** With sendShares: what the socket holds of each client's streams. */
  private readonly unwritten: UnwrittenSends | null;
  /**
   * Streams of clients past their send share whose queued DATA went into the socket: their owners
   * hear of it (onDrain) once the socket has written it, not before, or each drain would let the
   * client send as much more into a socket that never empties.
   */
  private drainsAfterWrite: H2Stream[] = [];
  private readonly flushBound = (): void => this.flush();
  private closeTimer: NodeJS.Timeout | null = null;
  /** Keepalive's timers, as their cancel functions (they run on the connection's clock). */
  private keepAliveTimer: (() => void) | null = null;
  private pingAckTimer: (() => void) | null = null;
  /** sendTimeoutMs's and socketTimeoutMs's check, and what it saw of the socket last time (when, bytes written, bytes held). */
  private sendCheckTimer: (() => void) | null = null;
  private sendCheckAt = 0;
  private socketBytesDone = 0;
  private socketHeld = 0;
  /** Since when the socket has held bytes and written none (0: it is moving). */
  private socketStuckSince = 0;
  private closeError: Error | null = null;
  /** Read once per socket chunk: rate limits and keepalive need no finer time. */
  private readonly clock: Clock;
  /** The clock's reading at the last socket chunk read (flood windows, keepalive). */
  private now: number;

  /** Its own, or the one it shares (rapidResetCounter). */
  private readonly rapidResets: EventCounter;
  /** What the GOAWAY says rapidResets counts over ('' for this connection alone). */
  private readonly rapidResetScope: string;
  private readonly resetBudget: TokenBucket | undefined;
  private readonly onResetsSpent: (() => void) | undefined;
  private readonly pings: WindowCounter;
  private readonly settingsFrames: WindowCounter;
  private readonly emptyFrames: WindowCounter;
  /** Streams we reset lately: frames already in flight for them are ignored, not errors (§5.1 "closed"). */
  private readonly recentResets = new Int32Array(RECENT_RESETS);
  private recentResetPos = 0;

  constructor(socket: Socket, handler: H2ConnectionHandler, options: H2ConnectionOptions) {
    this.role = options.role;
    this.isServer = options.role === 'server';
    this.socket = socket;
    this.handler = handler;
    this.onLimit = options.onLimit;
    this.limitKey = options.limitKey;
    this.clock = options.clock ?? realClock;
    this.now = this.clock.now();
    const limits: H2Limits = { ...DEFAULT_LIMITS };
    for (const key of Object.keys(DEFAULT_LIMITS) as (keyof H2Limits)[]) {
      const v = options[key];
      if (v !== undefined) limits[key] = v;
    }
    this.limits = limits;
    this.localInitialWindow = options.initialWindowSize ?? DEFAULT_INITIAL_WINDOW_SIZE;
    this.receiveBudget = options.receiveBudget;
    this.windowGrowth = options.windowGrowth;
    this.readBudget = options.readBudget;
    this.sendBudget = this.readBudget === undefined ? options.sendBudget : undefined;
    this.outboundBudget = this.readBudget ?? this.sendBudget;
    this.readBudgetClient = options.readBudgetClient ?? null;
    this.sendShares = options.sendShares;
    this.unwritten = options.sendShares !== undefined ? new UnwrittenSends(options.sendShares) : null;
    this.localConnectionWindow = Math.max(DEFAULT_INITIAL_WINDOW_SIZE, options.connectionWindowSize ?? 1024 * 1024);
    this.connectionWindowGrowth = options.connectionWindowGrowth;
    this.localMaxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.localHeaderTableSize = options.headerTableSize ?? DEFAULT_HEADER_TABLE_SIZE;
    this.recvWindow = this.localConnectionWindow;
    this.nextLocalStreamId = this.isServer ? 2 : 1; // §5.1.1: clients odd, servers even
    this.streamsBeforeSettings = options.streamsBeforeSettings ?? 100;
    this.waitingTally = options.waitingTally;
    this.reader = new FrameReader(this, {
      role: this.role,
      maxHeaderBlockSize: limits.maxHeaderBlockSize,
      maxContinuationFrames: limits.maxContinuationFrames,
      transientChunks: options.reads !== undefined,
    });
    // Both HPACK contexts start at 4096 (§6.5.2); ours changes when our SETTINGS are ACKed.
    this.decoder = new HpackDecoder({ maxTableSize: DEFAULT_HEADER_TABLE_SIZE, maxHeaderListSize: limits.maxHeaderListSize });
    this.encoder = new HpackEncoder({ tableSize: DEFAULT_HEADER_TABLE_SIZE, maxTableSize: options.encoderTableSize ?? DEFAULT_HEADER_TABLE_SIZE });
    this.rapidResets = options.rapidResetCounter ?? new WindowCounter(limits.maxRapidResets, limits.rapidResetWindowMs);
    this.rapidResetScope = options.rapidResetCounter !== undefined && options.rapidResetScope !== undefined ? ` ${options.rapidResetScope}` : '';
    this.resetBudget = options.resetBudget;
    this.onResetsSpent = options.onResetsSpent;
    this.pings = new WindowCounter(limits.maxPings, limits.floodWindowMs);
    this.settingsFrames = new WindowCounter(limits.maxSettings, limits.floodWindowMs);
    this.emptyFrames = new WindowCounter(limits.maxEmptyFrames, limits.floodWindowMs);
    this.recentResets.fill(-1);

    socket.setNoDelay(true);
    if (options.reads !== undefined) options.reads.deliver = (chunk) => this.onSocketData(chunk);
    else socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('drain', () => this.onSocketDrain());
    socket.on('error', (err: Error) => { if (this.closeError === null) this.closeError = err; });
    socket.on('close', () => this.onSocketClose());

    // §3.4: our preface is a SETTINGS frame (after the magic, for a client), sent
    // without waiting for the peer's.
    this.writer.settings(this.localSettings(limits));
    this.settingsAcksPending++;
    if (this.localConnectionWindow > DEFAULT_INITIAL_WINDOW_SIZE) {
      this.writer.windowUpdate(0, this.localConnectionWindow - DEFAULT_INITIAL_WINDOW_SIZE);
    }
    if (!this.isServer) socket.write(CLIENT_PREFACE);
    this.flush();
    const sendCheck = Math.min(limits.sendTimeoutMs || Infinity, limits.socketTimeoutMs || Infinity);
    if (sendCheck !== Infinity) this.sendCheckTimer = this.clock.every(Math.max(1, sendCheck / 2), () => this.checkSends());
  }

  private localSettings(limits: H2Limits): Setting[] {
    const s: Setting[] = [];
    if (this.localHeaderTableSize !== DEFAULT_HEADER_TABLE_SIZE) s.push({ id: SettingId.HEADER_TABLE_SIZE, value: this.localHeaderTableSize });
    // §8.4: a client that never wants pushes says so; a server must not send ENABLE_PUSH=1.
    if (!this.isServer) s.push({ id: SettingId.ENABLE_PUSH, value: 0 });
    s.push({ id: SettingId.MAX_CONCURRENT_STREAMS, value: this.isServer ? limits.maxConcurrentStreams : 0 });
    if (this.localInitialWindow !== DEFAULT_INITIAL_WINDOW_SIZE) s.push({ id: SettingId.INITIAL_WINDOW_SIZE, value: this.localInitialWindow });
    if (this.localMaxFrameSize !== DEFAULT_MAX_FRAME_SIZE) s.push({ id: SettingId.MAX_FRAME_SIZE, value: this.localMaxFrameSize });
    s.push({ id: SettingId.MAX_HEADER_LIST_SIZE, value: limits.maxHeaderListSize });
    return s;
  }

  /** A connection error was sent or the socket closed: no stream on it can complete. */
  get failed(): boolean { return this.state >= FAILED; }

  /** The socket has closed: every stream has been (or is being) reset. */
  get isClosed(): boolean { return this.state === CLOSED; }
  /** The size of the header list decoded last (as SETTINGS_MAX_HEADER_LIST_SIZE counts it): the one an onHeaders call is given. */
  get lastHeaderListSize(): number { return this.decoder.lastHeaderListSize; }

  /** What ended (or is ending) the connection: a socket error, our or the peer's GOAWAY error, or null. */
  get closeReason(): Error | null { return this.closeError; }

  /** The peer's first SETTINGS arrived (so its preface was valid, §3.4). */
  get peerSettingsReceived(): boolean { return this.counters.settingsReceived > 0; }

  /** True until GOAWAY was sent or received or the connection failed. */
  get acceptsStreams(): boolean {
    return this.state === OPEN && this.peerGoawayLastId < 0;
  }

  /** Streams open or half-closed (both directions). */
  get activeStreams(): number { return this.streams.size; }

  /**
   * Even with what we owe it back, the peer may send less than a new stream's first window: what we
   * hold is not being taken (owners that do not read, once early credit is spent), and a new
   * stream's answer here would wait behind it.
   */
  get receiveStarved(): boolean { return this.recvWindow + this.recvPendingUpdate < this.localInitialWindow; }

  /** Client role: another connection's waiting request may move here (`adoptWaiting`): streams are accepted and ids remain. */
  get canAdoptWaiting(): boolean {
    return this.acceptsStreams && this.nextLocalStreamId + 2 * (this.waitingCount + 1) <= 0x7fff_ffff;
  }

  /** Client role: streams opened by the owner whose HEADERS wait for the peer's stream limit. */
  get waitingStreams(): number { return this.waitingCount; }

  // ---------------------------------------------------------------- owner API

  /**
   * Client role: opens a stream with a request. Returns null when no stream can be opened here
   * (GOAWAY, ids exhausted, the peer's MAX_CONCURRENT_STREAMS reached): route it elsewhere. Until
   * the peer's SETTINGS arrive, requests past `streamsBeforeSettings` are accepted and wait (the
   * owner may write and reset as usual; a stream that ends lets the next one go). Those SETTINGS
   * send as many as the peer allows and refuse the rest as never sent (`unsent`), for the owner
   * to place on another connection: nothing waits on a limit the peer has stated, unless the
   * owner asks (`queue`: it may open no more connections to the peer); such a stream keeps waiting
   * through later SETTINGS unless they allow no stream at all. No stream waits past a GOAWAY.
   */
  request(fields: readonly FieldInput[] | RequestFields, endStream: boolean, queue = false): H2Stream | null {
    if (this.isServer) throw new Error('request() is for the client role');
    if (!this.acceptsStreams) return null;
    const settled = this.peerSettingsReceived;
    const full = this.waitingCount > 0 || this.localActive >= (settled ? this.peerMaxConcurrentStreams : this.streamsBeforeSettings);
    if (full && settled && !queue) return null;
    // Ids exhausted (§5.1.1), counting those the waiting streams will take: open a new connection.
    if (this.nextLocalStreamId + 2 * this.waitingCount > 0x7fff_ffff) return null;
    const stream = new H2Stream(this, 0, this.peerInitialWindowSize, this.recvInitialWindow);
    stream.state = StreamState.OPEN;
    stream.headersSent = true; // as far as the owner is concerned: DATA and trailers queue behind them
    this.counters.streamsOpened++;
    if (full) {
      stream.waiting = true;
      this.waitingRequests.push({ stream, fields, endStream, queued: queue });
      this.countWaiting(1);
    } else if (!this.sendRequest(stream, fields, endStream)) {
      return null; // the block could not be encoded: the connection has failed
    }
    if (endStream) this.endQueuedNow(stream);
    return stream;
  }

  /**
   * Takes the next stream id and sends a request's HEADERS; what the owner queued meanwhile follows.
   * False when the block could not be encoded: the connection has failed and reset the stream.
   */
  private sendRequest(stream: H2Stream, fields: readonly FieldInput[] | RequestFields, endStream: boolean): boolean {
    const id = this.nextLocalStreamId;
    this.nextLocalStreamId += 2;
    stream.id = id;
    this.streams.set(id, stream);
    this.localActive++;
    const waited = stream.waiting;
    if (waited) {
      // An open stream from here on, also for fail() should the block not encode.
      stream.waiting = false;
      // Its windows start now (SETTINGS may have changed them while it waited).
      stream.sendWindow = this.peerInitialWindowSize;
      stream.recvWindow = this.recvInitialWindow;
    }
    if (!this.writeHeaders(id, fields, endStream)) return false;
    if (waited && (stream.queuedBytes > 0 || (stream.endQueued && !endStream)) && !stream.ready) { stream.ready = true; this.ready.push(stream); }
    this.scheduleFlush();
    return true;
  }

  /** Sends waiting requests, in order, while the peer's stream limit allows. */
  private sendWaiting(): void {
    if (this.waitingCount === 0 || !this.acceptsStreams) return;
    const max = this.peerSettingsReceived ? this.peerMaxConcurrentStreams : this.streamsBeforeSettings;
    const q = this.waitingRequests;
    let i = this.waitingHead;
    while (i < q.length && this.localActive < max) {
      const w = q[i++]!;
      if (!w.stream.waiting) continue; // reset while it waited
      this.countWaiting(-1);
      if (!this.sendRequest(w.stream, w.fields, w.endStream)) return; // failed: fail() refused the rest
    }
    this.waitingHead = i;
    if (this.waitingCount === 0 || i > 1024) this.compactWaiting();
  }

  /**
   * Client role: the request that has waited longest, taken off this connection (not sent, not
   * refused) for another connection to the same peer to send (`adoptWaiting`): its owner keeps
   * the stream and hears nothing. Undefined when none waits.
   */
  takeWaiting(): WaitingRequest | undefined {
    if (this.waitingCount === 0) return undefined;
    const q = this.waitingRequests;
    let i = this.waitingHead;
    while (i < q.length && !q[i]!.stream.waiting) i++;
    const w = q[i];
    if (w === undefined) return undefined;
    this.waitingHead = i + 1; // what it passed is sent or reset
    this.countWaiting(-1);
    this.queuedBytes -= w.stream.queuedBytes;
    this.outboundDropped();
    if (this.waitingCount === 0) this.compactWaiting();
    return w;
  }

  /** Client role: a request another connection to the same peer took off its queue (`takeWaiting`); sent as soon as the peer's limit allows. */
  adoptWaiting(w: WaitingRequest): void {
    const s = w.stream;
    s.connection = this;
    // The owner put it where it can wait: so it may here, through this peer's next SETTINGS too.
    this.waitingRequests.push(w.queued ? w : { ...w, queued: true });
    this.countWaiting(1);
    this.queuedBytes += s.queuedBytes;
    this.sendWaiting();
  }

  /** Every change of waitingCount goes to the tally too, which so stays their sum over its connections. */
  private countWaiting(delta: 1 | -1): void {
    this.waitingCount += delta;
    if (this.waitingTally !== undefined) this.waitingTally.streams += delta;
  }

  /** Drops the sent and reset entries (amortized: only once they are many). */
  private compactWaiting(): void {
    this.waitingRequests = this.waitingCount === 0 ? [] : this.waitingRequests.slice(this.waitingHead).filter((w) => w.stream.waiting);
    this.waitingHead = 0;
  }

  /**
   * Every waiting stream is refused (never sent, so safe to retry elsewhere): the peer's limit, a
   * GOAWAY, or the connection failed. `keepQueued`: those the owner asked to wait keep waiting.
   */
  private refuseWaiting(code: number, keepQueued = false): void {
    const q = this.waitingRequests;
    const head = this.waitingHead;
    // Requests the owner makes while hearing of a refusal queue behind the kept ones.
    this.waitingRequests = keepQueued ? q.slice(head).filter((w) => w.stream.waiting && w.queued) : [];
    this.waitingHead = 0;
    for (let i = head; i < q.length; i++) {
      const w = q[i]!;
      const s = w.stream;
      if (!s.waiting || (keepQueued && w.queued)) continue;
      this.releaseStream(s);
      this.handler.onReset(s, code, true);
      this.finishStream(s);
    }
  }

  /**
   * Keepalive, for either role: after `intervalMs` with nothing read from the peer, a PING; when
   * its ACK has not come within `timeoutMs`, `onUnanswered` runs (the owner closes the connection:
   * a dead peer, a half-open TCP connection). Timers stop with the socket.
   */
  keepAlive(intervalMs: number, timeoutMs: number, onUnanswered: () => void): void {
    const clock = this.clock;
    const check = (): void => {
      if (this.state === CLOSED) return;
      // `this.now` is the clock's reading at the last socket chunk read; reads we hold back (the
      // socket is full) are no silence of the peer's.
      let next = this.socketPaused ? intervalMs : intervalMs - (clock.now() - this.now);
      if (next <= 0) {
        next = intervalMs;
        if (this.pingAckTimer === null) {
          this.ping();
          this.pingAckTimer = clock.after(timeoutMs, () => { this.pingAckTimer = null; onUnanswered(); });
        }
      }
      this.keepAliveTimer = clock.after(Math.max(1, next), check);
    };
    this.keepAliveTimer = clock.after(intervalMs, check);
  }

  /** Sends a PING (§6.7); its ACK arrives as onPingAck. */
  ping(opaque: Buffer = Buffer.alloc(8)): void {
    if (this.state >= FAILED) return;
    this.writer.ping(opaque, false);
    this.scheduleFlush();
  }

  /**
   * Graceful close (§6.8): GOAWAY(NO_ERROR) naming the last stream we will process,
   * then the socket ends when the remaining streams have.
   */
  close(): void {
    if (this.state !== OPEN) return;
    this.state = GOAWAY_SENT;
    this.writer.goaway(this.lastPeerStreamId, ErrorCode.NO_ERROR);
    this.scheduleFlush();
    // Streams still waiting will not be sent now: refused, so their owners go elsewhere.
    if (this.waitingCount > 0) this.refuseWaiting(ErrorCode.REFUSED_STREAM);
    this.maybeEnd();
  }

  /** Immediate close: GOAWAY with `code`, then the socket is closed (§5.4.1). */
  destroy(code: number = ErrorCode.NO_ERROR, reason = 'local-destroy'): void {
    this.fail(code, reason, `connection closed locally (${reason})`);
  }

  /**
   * `fields` may be a decoded HeaderList (a proxy forwarding a block): it is encoded at once, so
   * the list may be reused after return; only trailers that must wait behind queued DATA are copied.
   */
  sendHeaders(stream: H2Stream, fields: readonly FieldInput[] | HeaderList, endStream: boolean): boolean {
    if (!stream.canSend || this.state >= FAILED) return false;
    if (!stream.headersSent) {
      stream.headersSent = true;
      if (!this.writeHeaders(stream.id, fields, endStream)) return false;
      if (endStream) this.endQueuedNow(stream);
    } else {
      // Trailers (§8.1): they end the stream, and follow any DATA still queued.
      if (!endStream) throw new Error('trailers must end the stream (RFC 9113 §8.1)');
      stream.endQueued = true;
      if (stream.queuedBytes > 0 || stream.waiting) {
        stream.trailers = fields instanceof HeaderList ? fields.copyFields() : fields;
      } else {
        if (!this.writeHeaders(stream.id, fields, true)) return false;
        this.localEnd(stream);
      }
    }
    this.scheduleFlush();
    return true;
  }

  /**
   * Encodes a field block straight into the frame writer (HPACK order is wire order: at once).
   * False when it cannot be encoded: the connection has failed (its streams are reset).
   */
  private writeHeaders(id: number, fields: readonly FieldInput[] | HeaderList | RequestFields, endStream: boolean): boolean {
    const encoder = this.encoder;
    encoder.begin();
    try {
      if (fields instanceof HeaderList) encoder.addList(fields);
      else if (isFieldList(fields)) encoder.addFields(fields);
      else fields.requestFields(encoder);
    } catch (err) {
      // Half a block has changed the encoder's table and cannot be taken back: the peer's decoder
      // would be out of step from here on, so the connection ends.
      this.fail(ErrorCode.INTERNAL_ERROR, 'hpack-encode', `a field block could not be encoded: ${(err as Error).message}`);
      return false;
    }
    this.writer.headers(id, encoder.output, endStream, encoder.end());
    return true;
  }

  /** The owner's END_STREAM is on its way: the stream is half-closed (local) from now. */
  private endQueuedNow(stream: H2Stream): void {
    stream.endQueued = true;
    this.localEnd(stream);
  }

  writeData(stream: H2Stream, data: Buffer, endStream: boolean): boolean {
    if (!stream.canSend || this.state >= FAILED) return false;
    if (!stream.headersSent) throw new Error('DATA before HEADERS (RFC 9113 §8.1)');
    const n = data.length;
    // Counted in its client's send share until the socket has written it; past the share the owner
    // is told to wait, as for a full queue, and it goes by the queue (onDrain follows).
    const client = n > 0 && this.sendShares !== undefined ? stream.shares : null;
    const withinShare = client === null || this.sendShares!.hold(n, client);
    // Nothing queued ahead of it, no stream waiting for connection window (they go first), window
    // for all of it, and room under maxQueuedBytes counting this tick's frames: straight into them
    // (a unary message needs no queue, no ready-list turn and no drain bookkeeping). Not when it
    // would close the stream: that waits for the flush as before, so the owner never hears of the
    // close inside its own write().
    if (withinShare && n <= stream.sendWindow && n <= this.sendWindow && this.ready.length === 0 && stream.queuedBytes === 0 && !stream.waiting &&
        (!endStream || stream.state === StreamState.OPEN) && this.socketHasRoom()) {
      if (n === 0 && !endStream) return true;
      this.sendData(stream, data, endStream);
      this.scheduleFlush();
      if (endStream) this.endQueuedNow(stream);
      return true;
    }
    if (n > 0) {
      stream.enqueue(data);
      stream.queuedBytes += n;
      this.queuedBytes += n;
    }
    if (endStream) stream.endQueued = true;
    if (!stream.ready && !stream.waiting) { stream.ready = true; this.ready.push(stream); }
    this.scheduleFlush();
    if (this.queuedBytes > this.socketLimit()) {
      // Backpressure, not abuse: the caller waits for onDrain (the read hold below is the limit).
      this.counters.queueOverLimit++;
      stream.needDrain = true;
      return false;
    }
    // Keep feeding while what is queued can go out on the window we have.
    if (!withinShare || stream.queuedBytes > Math.min(stream.sendWindow, this.sendWindow)) {
      stream.needDrain = true;
      return false;
    }
    return true;
  }

  consumed(stream: H2Stream, n: number): void {
    if (n > stream.recvUnconsumed) n = stream.recvUnconsumed;
    if (n <= 0) return;
    stream.recvUnconsumed -= n;
    if (this.readBudget !== undefined) this.budgetChange(-n);
    // What went back to the connection window on arrival goes back to the budget now.
    const early = stream.recvCredited < n ? stream.recvCredited : n;
    if (early > 0) {
      stream.recvCredited -= early;
      this.receiveBudget!.held -= early;
    }
    if (n > early) this.creditConnection(n - early);
    this.creditStream(stream, n);
    if (stream.state === StreamState.CLOSED && stream.recvUnconsumed === 0) this.giveGrowthBack(stream);
  }

  /**
   * A closed stream's window growth goes back to the budget once the owner has consumed what it
   * held: those bytes are what the growth let the peer send, and an endpoint that ends its answer
   * at once would otherwise free the budget for the next stream while the router still holds them.
   */
  private giveGrowthBack(s: H2Stream): void {
    if (s.recvGrown === 0) return;
    this.windowGrowth!.give(s.recvGrown, s.shares);
    s.recvGrown = 0;
  }

  resetStream(stream: H2Stream, code: number): void {
    this.reset(stream, code, false);
  }

  // ---------------------------------------------------------------- socket

  private onSocketData(chunk: Buffer): void {
    const now = (this.now = this.clock.now());
    this.reader.push(chunk);
    if (this.reader.headerBlockPending) {
      if (this.headerBlockSince === 0) this.headerBlockSince = now;
      else if (this.limits.headerBlockTimeoutMs > 0 && now - this.headerBlockSince > this.limits.headerBlockTimeoutMs) this.headerBlockTimedOut();
    } else this.headerBlockSince = 0;
  }

  /** A field block begun more than headerBlockTimeoutMs ago has not ended: its fragments go with the connection. */
  /** How the errors name a limit: as the owner's config key. */
  private keyOf(limit: H2LimitName): string {
    return this.limitKey?.(limit) ?? limit;
  }

  private headerBlockTimedOut(): void {
    if (this.state >= FAILED) return;
    this.onLimit?.('headerBlockTimeoutMs');
    this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'header-block-timeout',
      `a field block begun ${this.now - this.headerBlockSince} ms ago has not ended (${this.keyOf('headerBlockTimeoutMs')} ${this.limits.headerBlockTimeoutMs})`);
  }

  /**
   * One flush per event-loop turn, from setImmediate: the check phase runs right
   * after the poll phase, so every socket read of this turn (both legs of many
   * proxied calls) has queued its frames by then, and each connection issues one
   * cork/writev. process.nextTick/queueMicrotask would flush after every single
   * 'data' callback instead: more syscalls under load for no latency gain, since
   * the check phase comes before the loop sleeps again.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.state === CLOSED) return;
    this.flushScheduled = true;
    setImmediate(this.flushBound);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.state === CLOSED || this.socket.destroyed) return;
    if (this.ready.length > 0 && this.state < FAILED) this.pump();
    const out = this.writer.flush();
    if (out.length === 0) {
      if (this.outboundBudget !== undefined) this.countOutbound(); // DATA queued, none of it sent
      return;
    }
    const socket = this.socket;
    if (!socket.writable) return;
    // One buffer (a tick of small frames in one slab segment: the usual case) is one write; cork
    // would buffer it and go through writev for nothing.
    if (out.length === 1) {
      socket.write(out[0]!);
    } else {
      socket.cork();
      for (let i = 0; i < out.length; i++) socket.write(out[i]!);
      socket.uncork();
    }
    // Written through to the kernel (the usual case): the writer's slab is free again.
    if (socket.writableLength === 0) this.writer.rewind();
    if (this.outboundBudget !== undefined) this.countOutbound();
    // Under its high-water mark the socket holds too little to count, and says nothing when it has written it.
    if (this.unwritten !== null && !socket.writableNeedDrain) this.releaseUnwritten();
    // Answers, RST_STREAMs and ACKs are not flow controlled: a client that sends requests and reads
    // nothing would grow this socket's buffer without end. Past maxQueuedBytes (the read budget's
    // share while it is spent) the client is not read (its frames wait in the kernel, as its own
    // TCP window says), and nothing more is queued here, until the socket has drained ('drain'
    // comes: a write said so). Not an endpoint: its answers are every client's.
    if (this.isServer && socket.writableLength > this.socketLimit() && socket.writableNeedDrain && !this.readsHeld) {
      this.readsHeld = true;
      this.counters.readsHeld++;
      this.onLimit?.(this.readBudget?.spentFor(this.readBudgetClient) ? this.budgetLimit() : 'maxQueuedBytes');
      this.applyReadHolds();
    }
    // The pump stopped for room the socket has again (the kernel took what it held): go on next
    // turn. Without room, 'drain' comes: the socket holds more than its high-water mark.
    if (this.pumpCutShort && this.socketHasRoom()) this.scheduleFlush();
  }

  /**
   * The most the socket and this tick's frames may hold: maxQueuedBytes, or while the group's read
   * budget (or its client's part; or the send budget) is spent its share, but never below the
   * socket's high-water mark (16 KiB, 64 KiB from Node 22), so that a socket without room always
   * has a 'drain' to come.
   */
  private socketLimit(): number {
    const b = this.outboundBudget;
    if (b === undefined || !b.spentFor(this.readBudgetClient)) return this.limits.maxQueuedBytes;
    return Math.max(b.share, this.socket.writableHighWaterMark);
  }

  /**
   * Brings what waits to go to the peer up to date in its budget (each flush and drain):
   * DATA queued on its streams, and the socket's unwritten bytes. Those are counted only past
   * the socket's high-water mark, where 'drain' tells when they are gone; below it they are less
   * than the budget's share anyway.
   */
  private countOutbound(): void {
    const socket = this.socket;
    const now = this.queuedBytes + (socket.writableNeedDrain ? socket.writableLength : 0);
    if (now === this.outboundCounted) return;
    const n = now - this.outboundCounted;
    this.outboundCounted = now;
    if (this.sendBudget !== undefined) this.sendBudget.change(n);
    else this.budgetChange(n);
  }

  /** The socket wrote all it held: read the peer again, and send what waits. */
  private onSocketDrain(): void {
    this.writer.rewind();
    if (this.outboundBudget !== undefined) this.countOutbound();
    if (this.unwritten !== null) this.releaseUnwritten();
    if (this.readsHeld) {
      this.readsHeld = false;
      this.applyReadHolds();
    }
    this.flush();
  }

  /** The socket has written what it held of its streams' clients (see UnwrittenSends), and the owners waiting for that hear of it. */
  private releaseUnwritten(): void {
    this.unwritten!.release();
    const waiting = this.drainsAfterWrite;
    if (waiting.length === 0) return;
    this.drainsAfterWrite = [];
    for (const s of waiting) {
      s.awaitsWrite = false;
      if (s.needDrain && !s.closed) this.tellDrained(s);
    }
  }

  /** `s`'s owner waits for its queued DATA to move on: now, or once the socket has written it while its client is past its send share. */
  private drained(s: H2Stream): void {
    if (s.shares !== null && this.unwritten !== null && this.sendShares!.spentFor(s.shares)) {
      if (!s.awaitsWrite) {
        s.awaitsWrite = true;
        this.drainsAfterWrite.push(s);
      }
      return;
    }
    this.tellDrained(s);
  }

  /** Its owner may write again: its queue moved on (and it waits for no more once the queue is empty). */
  private tellDrained(s: H2Stream): void {
    if (s.queuedBytes === 0) s.needDrain = false;
    this.handler.onDrain(s);
  }

  /** Pauses the socket while either hold is on, and resumes it when neither is. */
  private applyReadHolds(): void {
    const hold = this.readsHeld || this.budgetHeld;
    if (hold === this.socketPaused || this.state === CLOSED) return;
    this.socketPaused = hold;
    if (hold) {
      this.socket.pause();
      // A PING's ACK may sit behind what we no longer read: not the peer's silence (keepalive
      // sends another once reads go on).
      this.pingAckTimer?.();
      this.pingAckTimer = null;
    } else {
      this.now = this.clock.now(); // the silence was ours, not the peer's (keepalive)
      this.socket.resume();
    }
  }

  /** What the connection holds against the read budget changes by `n`; the budget may stop or restart reading. */
  private budgetChange(n: number): void {
    const budget = this.readBudget!;
    const client = this.readBudgetClient;
    budget.change(n, client);
    this.budgetBytes += n;
    if (n > 0) {
      if (!this.budgetHeld && budget.exceeded(this.budgetBytes, client) && !this.awaitingPeerWindow()) {
        this.budgetHeld = true;
        this.budgetHeldSince = this.clock.now();
        this.counters.readsHeldForBudget++;
        this.onLimit?.(this.budgetLimit());
        budget.wait(this, client);
        this.applyReadHolds();
      }
    } else if (this.budgetHeld) {
      if (!budget.exceeded(this.budgetBytes, client)) this.budgetFreed();
      // Request bytes fell to the share while answers wait for the peer's window: see awaitingPeerWindow.
      else if (this.requestBytesWithinShare && this.awaitingPeerWindow()) this.liftBudgetHold();
      else this.budgetHeldSince = this.clock.now();
    }
  }

  /**
   * A stream has DATA for the peer waiting for its WINDOW_UPDATE, which only reading the peer can
   * bring: the peer must be read if the stream holds request bytes (a bidirectional stream whose
   * endpoint waits for that window before it reads the request would never drain), or if the
   * connection holds no more request bytes than the budget's share (a client that reads its
   * answers would otherwise stall whenever other clients' unread answers had spent the budget;
   * answers are bounded apart, by the endpoint windows' budgets, and what the peer sends
   * meanwhile by the share). A peer holding more request bytes with some other stream's window
   * shut does not escape the budget that way.
   */
  private awaitingPeerWindow(): boolean {
    if (this.queuedBytes === 0) return false;
    // The stream found last time is asked first: while it still waits, each DATA frame read under
    // pressure costs one test, not a walk over every stream.
    const last = this.peerWindowWaiter;
    if (last !== null && this.waitsForPeerWindow(last)) return true;
    for (const s of this.streams.values()) {
      if (this.waitsForPeerWindow(s)) { this.peerWindowWaiter = s; return true; }
    }
    this.peerWindowWaiter = null;
    return false;
  }

  private waitsForPeerWindow(s: H2Stream): boolean {
    return s.state !== StreamState.CLOSED && s.queuedBytes > 0 && (this.sendWindow <= 0 || s.sendWindow <= 0) &&
      (s.recvUnconsumed > 0 || this.requestBytesWithinShare);
  }

  /** Of what the connection holds against the read budget, the request bytes (the rest waits to go out) are within its share. */
  private get requestBytesWithinShare(): boolean {
    return this.budgetBytes - this.outboundCounted <= this.readBudget!.share;
  }

  /** Which part of the read budget, spent, stops this connection: the group's, or else its client's. */
  private budgetLimit(): 'readBudget' | 'readBudgetPerClient' {
    return this.readBudget!.spent ? 'readBudget' : 'readBudgetPerClient';
  }

  /** @internal The read budget has room again, or this connection no longer holds more than its share. */
  budgetFreed(): void {
    if (!this.budgetHeld || this.readBudget!.exceeded(this.budgetBytes, this.readBudgetClient)) return;
    this.liftBudgetHold();
  }

  private liftBudgetHold(): void {
    this.budgetHeld = false;
    this.readBudget!.leave(this, this.readBudgetClient);
    this.applyReadHolds();
  }

  /**
   * Moves queued DATA into the writer as far as both send windows allow (§6.9.1),
   * and not while the socket already holds a window's worth: the TCP send buffer is
   * memory too, and 'drain' brings us back.
   */
  private pump(): void {
    const limit = this.socketLimit(); // nothing a pump does changes it
    this.pumpCutShort = !this.socketHasRoom(limit);
    if (this.pumpCutShort) return;
    const streams = this.ready;
    this.ready = [];
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i]!;
      if (s.state === StreamState.CLOSED) { s.ready = false; continue; }
      let endSent = false;
      const queuedBefore = s.queuedBytes;
      // Room is checked per chunk: one tick could otherwise move every stream's queue into the socket.
      while (s.queuedBytes > 0 && s.sendWindow > 0 && this.sendWindow > 0) {
        if (!this.socketHasRoom(limit)) { this.pumpCutShort = true; break; }
        const head = s.queue[0]!;
        const avail = head.length - s.queueOffset;
        const n = Math.min(avail, s.sendWindow, this.sendWindow);
        const chunk = s.queueOffset === 0 && n === head.length ? head : head.subarray(s.queueOffset, s.queueOffset + n);
        const last = n === s.queuedBytes;
        endSent = last && s.endQueued && s.trailers === null;
        this.sendData(s, chunk, endSent);
        s.queuedBytes -= n;
        this.queuedBytes -= n;
        if (n === avail) s.dequeue(); else s.queueOffset += n;
      }
      if (s.queuedBytes > 0) {
        // Stalled on a shut window (not on a full socket: sendTimeoutMs watches that apart).
        if (s.stalledSince === 0 && (s.sendWindow <= 0 || this.sendWindow <= 0)) s.stalledSince = this.clock.now();
        // Blocked: on the connection window keep it listed; on its own window a
        // WINDOW_UPDATE will list it again.
        if (s.sendWindow > 0) this.ready.push(s); else s.ready = false;
        if (this.budgetHeld && this.waitsForPeerWindow(s)) { this.peerWindowWaiter = s; this.liftBudgetHold(); } // see awaitingPeerWindow
        if (s.needDrain && s.queuedBytes < queuedBefore && !s.closed) this.drained(s);
        continue;
      }
      s.ready = false;
      if (s.endQueued && s.state !== StreamState.HALF_CLOSED_LOCAL) {
        if (s.trailers !== null) {
          this.writeHeaders(s.id, s.trailers, true);
          s.trailers = null;
        } else if (!endSent) {
          this.writer.data(s.id, EMPTY, true);
        }
        this.localEnd(s);
      }
      if (s.needDrain && !s.closed) this.drained(s);
    }
  }

  /**
   * More DATA may go into this tick's frames: the socket and the frames not yet flushed hold no
   * more than maxQueuedBytes, or the read budget's share while it is spent (the TCP send buffer
   * is memory too; 'drain' brings us back), and reads are not held for a full socket.
   */
  private socketHasRoom(limit = this.socketLimit()): boolean {
    return !this.readsHeld && this.socket.writableLength + this.writer.pendingBytes <= limit;
  }

  /** DATA into this tick's frames, paid for from both send windows (§6.9.1; the caller checked them). */
  private sendData(s: H2Stream, chunk: Buffer, endStream: boolean): void {
    const n = chunk.length;
    this.writer.data(s.id, chunk, endStream);
    if (this.unwritten !== null && s.shares !== null && n > 0) this.unwritten.add(s.shares, n);
    s.stalledSince = 0;
    s.sendWindow -= n;
    this.sendWindow -= n;
    this.counters.dataBytesSent += n;
  }

  /**
   * Resets (CANCEL, the owner told) every stream whose DATA has waited on a window the peer keeps
   * shut since `since` or longer (the clock's time); how many. sendTimeoutMs's check, on demand.
   */
  resetStalledSince(since: number): number {
    let n = 0;
    if (this.queuedBytes === 0 || this.state >= FAILED) return 0;
    for (const s of this.streams.values()) {
      if (s.stalledSince !== 0 && s.stalledSince <= since) {
        n++;
        this.reset(s, ErrorCode.CANCEL, true);
      }
    }
    return n;
  }

  /**
   * Every half of the shorter timeout: a socket that took none of the bytes it holds since the last
   * check and for socketTimeoutMs means a peer that stopped reading, whose connection goes; streams
   * whose DATA has waited on a shut window for sendTimeoutMs are reset.
   */
  private checkSends(): void {
    if (this.state === CLOSED) return;
    const now = this.clock.now();
    const socket = this.socket;
    const held = socket.writableLength;
    // Bytes the socket handed on and saw written: all it was given, less what it still holds.
    const done = socket.bytesWritten - held;
    // Bytes held at this check and the last, and none written in between: stuck since the last.
    if (held === 0 || this.socketHeld === 0 || done !== this.socketBytesDone) this.socketStuckSince = 0;
    else if (this.socketStuckSince === 0) this.socketStuckSince = this.sendCheckAt;
    this.sendCheckAt = now;
    this.socketBytesDone = done;
    this.socketHeld = held;
    const socketTimeout = this.limits.socketTimeoutMs;
    if (socketTimeout > 0 && this.socketStuckSince !== 0 && now - this.socketStuckSince >= socketTimeout) {
      this.onLimit?.('socketTimeoutMs');
      this.closeError ??= new Error(`the peer read nothing of what its socket holds for ${socketTimeout} ms (${this.keyOf('socketTimeoutMs')})`);
      this.handler.onUnresponsive?.();
      socket.destroy();
      return;
    }
    const timeout = this.limits.sendTimeoutMs;
    if (timeout === 0) return;
    if (this.budgetHeld && now - this.budgetHeldSince >= timeout) {
      // Not read for the budget, and none of what this peer sent went on for that long: its streams
      // holding bytes go, so that it is read again (a peer that has left is seen to have left: a
      // socket not read sees no FIN).
      for (const s of this.streams.values()) {
        if (s.recvUnconsumed > 0) {
          this.onLimit?.(this.budgetLimit());
          this.reset(s, ErrorCode.CANCEL, true);
        }
      }
    }
    for (let n = this.resetStalledSince(now - timeout); n > 0; n--) this.onLimit?.('sendTimeoutMs');
  }

  private onSocketClose(): void {
    if (this.state === CLOSED) return;
    const wasFailed = this.state === FAILED;
    this.state = CLOSED;
    this.reader.close();
    if (this.closeTimer !== null) { clearTimeout(this.closeTimer); this.closeTimer = null; }
    this.keepAliveTimer?.();
    this.pingAckTimer?.();
    this.sendCheckTimer?.();
    if (this.streams.size > 0) this.abortStreams(ErrorCode.CANCEL, false);
    if (this.waitingCount > 0) this.refuseWaiting(ErrorCode.CANCEL);
    // Its streams gave back what they held; its socket's bytes go with it.
    if (this.outboundCounted > 0) {
      if (this.sendBudget !== undefined) this.sendBudget.change(-this.outboundCounted);
      else this.budgetChange(-this.outboundCounted);
    }
    this.outboundCounted = 0;
    this.unwritten?.release();
    this.readBudget?.leave(this, this.readBudgetClient);
    // The peer can send no more on it.
    if (this.connectionWindowGrown > 0) this.connectionWindowGrowth!.give(this.connectionWindowGrown, null);
    this.connectionWindowGrown = 0;
    const error = this.closeError ?? (wasFailed ? new Error('connection failed') : null);
    this.handler.onClose(error);
  }

  /** Writes what is pending, ends the socket, and destroys it if it lingers (§5.4.1). */
  private endSocket(): void {
    this.flush();
    this.socket.end();
    if (this.closeTimer === null) {
      this.closeTimer = setTimeout(() => this.socket.destroy(), this.limits.closeTimeoutMs);
      this.closeTimer.unref();
    }
  }

  private maybeEnd(): void {
    if (this.streams.size === 0 && this.waitingCount === 0 && (this.state === GOAWAY_SENT || this.peerGoawayLastId >= 0) && this.state !== CLOSED) {
      this.endSocket();
    }
  }

  /** Connection error (§5.4.1): GOAWAY naming the rule, then close. */
  private fail(code: number, reason: string, detail: string): void {
    if (this.state >= FAILED) return;
    this.state = FAILED;
    this.counters.countConnectionError(reason);
    this.reader.close();
    this.closeError = new H2SessionError(code, reason, detail, true);
    this.writer.goaway(this.lastPeerStreamId, code, `${reason}: ${detail}`);
    if (this.streams.size > 0) this.abortStreams(code, false);
    if (this.waitingCount > 0) this.refuseWaiting(code);
    this.endSocket();
  }

  private abortStreams(code: number, refused: boolean): void {
    for (const s of [...this.streams.values()]) {
      if (s.state === StreamState.CLOSED) continue; // completed; remoteEvent is about to take it out
      this.releaseStream(s);
      this.handler.onReset(s, code, refused);
      this.finishStream(s);
    }
  }

  // ---------------------------------------------------------------- stream states

  private isPeerInitiated(id: number): boolean {
    return this.isServer ? (id & 1) === 1 : (id & 1) === 0;
  }

  /** §5.1: a stream id not in the map is idle if never opened, closed otherwise. */
  private isIdle(id: number): boolean {
    return this.isPeerInitiated(id) ? id > this.lastPeerStreamId : id >= this.nextLocalStreamId;
  }

  private recentlyReset(id: number): boolean {
    const r = this.recentResets;
    for (let i = 0; i < RECENT_RESETS; i++) if (r[i] === id) return true;
    return false;
  }

  /** RST_STREAM for a stream not (or no longer) in the map. */
  private rstId(id: number, code: number): void {
    this.writer.rstStream(id, code);
    this.counters.resetsSent++;
    this.recentResets[this.recentResetPos] = id;
    this.recentResetPos = (this.recentResetPos + 1) % RECENT_RESETS;
    this.scheduleFlush();
    // Every RST_STREAM counts, even for a stream the peer has closed (a cancel crossing its answer): nghttp2 counts them all.
    if (this.resetBudget !== undefined && !this.resetBudget.take(this.clock.now())) this.onResetsSpent?.();
  }

  /** What `s` queued to send will not go: out of the connection's queue (and, at the next flush, its budget). */
  private dropQueued(s: H2Stream): void {
    if (this.sendShares !== undefined && s.shares !== null) this.sendShares.give(s.queuedBytes, s.shares);
    this.queuedBytes -= s.queuedBytes;
    s.queuedBytes = 0;
    s.clearQueue();
    this.outboundDropped();
  }

  /**
   * Queued bytes left without a flush (a reset no frame follows, a stream moved to another
   * connection): the budget counts them until the next one, which comes this turn. Counting them
   * here could re-enter what is releasing them; left alone, a connection that stays quiet kept a
   * spent budget for every other (keepalive is off towards endpoints).
   */
  private outboundDropped(): void {
    if (this.outboundBudget !== undefined) this.scheduleFlush();
  }

  /** Drops queued data and returns unconsumed received bytes to the connection window. */
  private releaseStream(s: H2Stream): void {
    if (s.queuedBytes > 0) this.dropQueued(s);
    s.trailers = null;
    if (s.recvUnconsumed > 0) {
      if (this.readBudget !== undefined) this.budgetChange(-s.recvUnconsumed);
      const n = s.recvUnconsumed - s.recvCredited;
      s.recvUnconsumed = 0;
      if (s.recvCredited > 0) {
        this.receiveBudget!.held -= s.recvCredited;
        s.recvCredited = 0;
      }
      if (n > 0) this.creditConnection(n);
    }
  }

  /** RST_STREAM from us (§6.4). `notify`: the owner did not ask for it, so tell it. */
  private reset(s: H2Stream, code: number, notify: boolean): void {
    if (s.state === StreamState.CLOSED) return;
    if (this.state < FAILED && !s.waiting) this.rstId(s.id, code); // the peer never heard of a waiting one
    this.releaseStream(s);
    if (notify) this.handler.onReset(s, code, false);
    this.finishStream(s);
  }

  /** We sent END_STREAM. */
  private localEnd(s: H2Stream): void {
    if (s.state === StreamState.OPEN) s.state = StreamState.HALF_CLOSED_LOCAL;
    else if (s.state === StreamState.HALF_CLOSED_REMOTE) this.finishStream(s);
  }

  private finishStream(s: H2Stream): void {
    if (s.state === StreamState.CLOSED) return;
    s.state = StreamState.CLOSED;
    this.closeStream(s);
  }

  /** Takes a stream that has just become CLOSED out of the connection and tells the owner. */
  private closeStream(s: H2Stream): void {
    let freed = false;
    if (s.waiting) {
      s.waiting = false;
      this.countWaiting(-1);
      // Reset entries are skipped when the queue moves; compact it if they pile up.
      if (this.waitingRequests.length - this.waitingHead > 2 * this.waitingCount + 64) this.compactWaiting();
    } else {
      this.streams.delete(s.id);
      if (this.isPeerInitiated(s.id)) this.peerActive--; else { this.localActive--; freed = true; }
    }
    if (s.queuedBytes > 0) this.dropQueued(s);
    if (s.recvUnconsumed === 0) this.giveGrowthBack(s);
    this.handler.onStreamClose(s);
    if (freed && this.waitingCount > 0) this.sendWaiting();
    this.maybeEnd();
  }

  // ---------------------------------------------------------------- flow control

  /**
   * Bytes the owner consumed (or that never reach it: padding, discarded DATA) go
   * back to the peer, batched: a WINDOW_UPDATE once half a window has accumulated,
   * so a stream of small messages costs one update per half window, not per frame.
   */
  private credit(s: H2Stream, n: number): void {
    this.creditConnection(n);
    this.creditStream(s, n, false);
  }

  private creditConnection(n: number): void {
    this.recvPendingUpdate += n;
    // Also once the peer's view of the window runs low: streams whose owners hold bytes back (slow
    // readers) can keep the returned bytes below half a window for good, and the peer would wait on
    // window that is free.
    const half = this.recvPendingUpdate >= this.localConnectionWindow >>> 1;
    if (this.recvPendingUpdate > 0 && (half || this.recvWindow < this.localConnectionWindow >>> 2) && this.state < FAILED) {
      const growth = this.connectionWindowGrowth;
      if (growth !== undefined && half) {
        // Half the window came back at once: the connection flows, so its window may double.
        const more = growth.double(this.localConnectionWindow, null);
        this.connectionWindowGrown += more;
        this.localConnectionWindow += more;
        this.recvPendingUpdate += more;
      }
      this.writer.windowUpdate(0, this.recvPendingUpdate);
      this.recvWindow += this.recvPendingUpdate;
      this.recvPendingUpdate = 0;
      this.scheduleFlush();
    }
  }

  /** `mayGrow`: the bytes were consumed (passed on), not padding or discarded, so the window may grow. */
  private creditStream(s: H2Stream, n: number, mayGrow = true): void {
    // Only a stream the peer may still send on needs its window back.
    if (s.state !== StreamState.OPEN && s.state !== StreamState.HALF_CLOSED_LOCAL) return;
    s.recvPendingUpdate += n;
    const window = this.localInitialWindow + s.recvGrown;
    if (s.recvPendingUpdate >= window >>> 1 && this.state < FAILED) {
      // Half its window passed on: the stream flows, so its window may double (WindowGrowth).
      const growth = this.windowGrowth;
      if (growth !== undefined && mayGrow) {
        const more = growth.double(window, s.shares);
        s.recvGrown += more;
        s.recvPendingUpdate += more;
      }
      this.writer.windowUpdate(s.id, s.recvPendingUpdate);
      s.recvWindow += s.recvPendingUpdate;
      s.recvPendingUpdate = 0;
      this.scheduleFlush();
    }
  }

  // ---------------------------------------------------------------- FrameHandler

  onData(streamId: number, endStream: boolean, data: Buffer, flowControlLength: number): void {
    // §6.9.1: every DATA counts against the connection window, whatever its stream.
    if (flowControlLength > this.recvWindow) {
      return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'connection-window-exceeded',
        `DATA of ${flowControlLength} octets on stream ${streamId} exceeds the connection receive window of ${this.recvWindow} (RFC 9113 §6.9.1)`);
    }
    this.recvWindow -= flowControlLength;
    this.counters.dataBytesReceived += data.length;
    const s = this.streams.get(streamId);
    if (s === undefined) {
      if (this.isIdle(streamId)) {
        return this.fail(ErrorCode.PROTOCOL_ERROR, 'data-on-idle-stream', `DATA on idle stream ${streamId} (RFC 9113 §5.1)`);
      }
      this.creditConnection(flowControlLength);
      // §5.1 closed: STREAM_CLOSED, unless it is in flight after our own RST_STREAM.
      if (!this.recentlyReset(streamId)) this.rstId(streamId, ErrorCode.STREAM_CLOSED);
      return;
    }
    if (s.state === StreamState.HALF_CLOSED_REMOTE) {
      this.creditConnection(flowControlLength);
      return this.reset(s, ErrorCode.STREAM_CLOSED, true); // §5.1 half-closed (remote)
    }
    if (flowControlLength > s.recvWindow) {
      this.creditConnection(flowControlLength);
      this.counters.streamErrors++;
      return this.reset(s, ErrorCode.FLOW_CONTROL_ERROR, true); // §6.9.1, a stream error
    }
    s.recvWindow -= flowControlLength;
    if (!s.headersReceived) { // client role: DATA before the response HEADERS (§8.1)
      this.creditConnection(flowControlLength);
      this.counters.malformed++;
      return this.reset(s, ErrorCode.PROTOCOL_ERROR, true);
    }
    // Padding never reaches the owner, so it is returned at once.
    if (flowControlLength > data.length) this.credit(s, flowControlLength - data.length);
    s.recvUnconsumed += data.length;
    if (this.readBudget !== undefined && data.length > 0) this.budgetChange(data.length);
    const budget = this.receiveBudget;
    if (budget !== undefined && data.length > 0 && budget.held + data.length <= budget.limit) {
      // Back to the connection window now: this stream's owner holds only its stream window.
      budget.held += data.length;
      s.recvCredited += data.length;
      this.creditConnection(data.length);
    }
    this.remoteEvent(s, endStream, data, null);
  }

  /** Delivers DATA (or trailers) and applies END_STREAM (§5.1). */
  private remoteEvent(s: H2Stream, endStream: boolean, data: Buffer | null, headers: HeaderList | null): void {
    let closing = false;
    if (endStream) {
      if (s.state === StreamState.OPEN) s.state = StreamState.HALF_CLOSED_REMOTE;
      else {
        // Half-closed (local): both sides are done, so the stream is closed (§5.1) before the owner
        // hears of it. What the owner does meanwhile (a reset as it tidies up) has nothing left to
        // cancel, and must not put a RST_STREAM on the wire after every call.
        s.state = StreamState.CLOSED;
        closing = true;
      }
    }
    try {
      if (data !== null) this.handler.onData(s, data, endStream);
      else this.handler.onHeaders(s, headers!, endStream);
    } finally {
      if (closing) this.closeStream(s); // even if the owner threw: a CLOSED stream must not stay in the map
    }
  }

  onHeaders(streamId: number, endStream: boolean, block: Buffer, start: number, end: number): void {
    // Every block is decoded, even for streams about to be refused: the HPACK
    // context is shared by the connection (§4.3).
    const list = this.headers;
    list.reset();
    let outcome: number;
    try {
      outcome = this.decoder.decode(block, list, start, end);
    } catch (err) {
      if (err instanceof HpackError) {
        return this.fail(ErrorCode.COMPRESSION_ERROR, 'hpack', `${err.message} (RFC 9113 §4.3)`);
      }
      throw err;
    }
    const tooLarge = outcome === DECODE_HEADER_LIST_TOO_LARGE;
    if (this.state >= FAILED) return;
    const s = this.streams.get(streamId);
    if (s === undefined) return this.headersWithoutStream(streamId, endStream, list, tooLarge);

    if (s.state === StreamState.HALF_CLOSED_REMOTE) return this.reset(s, ErrorCode.STREAM_CLOSED, true); // §5.1
    if (tooLarge) {
      this.counters.headerListTooLarge++;
      this.onLimit?.('maxHeaderListSize');
      return this.reset(s, ErrorCode.CANCEL, true);
    }
    if (!s.headersReceived) {
      // Client role: the response (§8.3.2); 1xx are informational and skipped (§8.1).
      const bad = validateResponse(list);
      if (bad !== null) return this.malformed(s, bad);
      if (statusOf(list).charCodeAt(0) === 0x31 /* '1' */) {
        if (endStream) return this.malformed(s, 'informational-with-end-stream');
        return;
      }
      s.headersReceived = true;
      return this.remoteEvent(s, endStream, null, list);
    }
    // Trailers (§8.1): they end the stream and carry no pseudo-fields.
    if (!endStream) return this.malformed(s, 'trailers-without-end-stream');
    const bad = validateTrailers(list);
    if (bad !== null) return this.malformed(s, bad);
    this.remoteEvent(s, true, null, list);
  }

  private malformed(s: H2Stream, reason: string): void {
    void reason; // a stable label, for a debug log later
    this.counters.malformed++;
    this.reset(s, ErrorCode.PROTOCOL_ERROR, true); // §8.1.1: a stream error
  }

  private headersWithoutStream(id: number, endStream: boolean, list: HeaderList, tooLarge: boolean): void {
    if (!this.isServer || !this.isPeerInitiated(id)) {
      // Client role: a server cannot open streams (no push); our own closed streams.
      if (this.isIdle(id)) return this.fail(ErrorCode.PROTOCOL_ERROR, 'headers-on-idle-stream', `HEADERS on idle stream ${id} (RFC 9113 §5.1, §8.4)`);
      if (this.recentlyReset(id)) return;
      return this.fail(ErrorCode.STREAM_CLOSED, 'headers-on-closed-stream', `HEADERS on closed stream ${id} (RFC 9113 §5.1)`);
    }
    if (id <= this.lastPeerStreamId) {
      if (this.recentlyReset(id)) return; // e.g. trailers of a request we refused
      return this.fail(ErrorCode.PROTOCOL_ERROR, 'stream-id-not-increasing',
        `HEADERS opening stream ${id}, not above the highest stream ${this.lastPeerStreamId} (RFC 9113 §5.1.1)`);
    }
    if (this.state === GOAWAY_SENT) {
      // §6.8: streams above our GOAWAY's last-stream-id are not processed; say so, so the client retries.
      this.lastPeerStreamId = id;
      this.counters.streamsRefused++;
      return this.rstId(id, ErrorCode.REFUSED_STREAM);
    }
    this.lastPeerStreamId = id;
    if (this.peerActive >= this.limits.maxConcurrentStreams) {
      this.counters.streamsRefused++;
      this.onLimit?.('maxConcurrentStreams');
      return this.rstId(id, ErrorCode.REFUSED_STREAM); // §5.1.2
    }
    if (!tooLarge) {
      const bad = validateRequest(list);
      if (bad !== null) {
        this.counters.malformed++;
        return this.rstId(id, ErrorCode.PROTOCOL_ERROR); // §8.1.1; the owner never sees it
      }
    }
    const s = new H2Stream(this, id, this.peerInitialWindowSize, this.recvInitialWindow);
    s.state = endStream ? StreamState.HALF_CLOSED_REMOTE : StreamState.OPEN;
    s.headersReceived = true;
    s.headerListSize = this.decoder.lastHeaderListSize;
    this.streams.set(id, s);
    this.peerActive++;
    this.counters.streamsOpened++;
    if (!tooLarge) {
      this.handler.onStream(s, list, endStream);
      return;
    }
    this.counters.headerListTooLarge++;
    this.onLimit?.('maxHeaderListSize');
    this.handler.onHeaderListTooLarge(s, list, endStream);
    if (s.closed) return;
    if (!s.endQueued) return this.reset(s, ErrorCode.REFUSED_STREAM, false);
    // A complete answer still waiting for window (a body) must go out first: a reset would drop it.
    // Otherwise §8.1: NO_ERROR asks the client to stop sending the request.
    if (s.queuedBytes === 0 && s.trailers === null && !s.ready) this.reset(s, ErrorCode.NO_ERROR, false);
  }

  onPriority(): void { /* §5.3.2: deprecated; ignored */ }

  onRstStream(streamId: number, errorCode: number): void {
    const s = this.streams.get(streamId);
    if (s === undefined) {
      if (this.isIdle(streamId)) return this.fail(ErrorCode.PROTOCOL_ERROR, 'rst-on-idle-stream', `RST_STREAM on idle stream ${streamId} (RFC 9113 §6.4)`);
      return; // closed: §5.1 allows it for a short while
    }
    this.counters.resetsReceived++;
    s.peerResetCode = errorCode;
    if (this.isServer && !s.headersSent) {
      // CVE-2023-44487: a stream cancelled before we could even answer cost us a
      // stream's work for nothing; many of them is the rapid-reset attack.
      this.counters.rapidResets++;
      if (this.rapidResets.hit(this.now)) {
        this.releaseStream(s);
        this.handler.onReset(s, errorCode, false);
        this.finishStream(s);
        this.onLimit?.('maxRapidResets');
        return this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'rapid-reset',
          `more than ${this.rapidResets.limit} streams reset before their response within ${this.rapidResets.windowMs} ms${this.rapidResetScope} (CVE-2023-44487, RFC 9113 §10.5)`);
      }
    }
    this.releaseStream(s);
    this.handler.onReset(s, errorCode, errorCode === ErrorCode.REFUSED_STREAM && !this.isPeerInitiated(streamId));
    this.finishStream(s);
  }

  onSettings(settings: Setting[]): void {
    this.counters.settingsReceived++;
    if (this.settingsFrames.hit(this.now)) {
      this.onLimit?.('maxSettings');
      return this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'settings-flood',
        `more than ${this.limits.maxSettings} SETTINGS frames within ${this.limits.floodWindowMs} ms (RFC 9113 §10.5)`);
    }
    let newInitialWindow = -1;
    for (const { id, value } of settings) {
      switch (id) {
        case SettingId.HEADER_TABLE_SIZE:
          this.encoder.setMaxTableSize(value);
          break;
        case SettingId.INITIAL_WINDOW_SIZE:
          // §6.5.3: values are processed in order, so only the last of a frame counts; the streams
          // are walked once per frame, not once per entry (2,730 entries over 1,000 streams cost
          // 14.8 ms a frame).
          newInitialWindow = value;
          break;
        case SettingId.MAX_FRAME_SIZE:
          this.writer.setMaxFrameSize(value);
          break;
        case SettingId.MAX_CONCURRENT_STREAMS:
          this.peerMaxConcurrentStreams = value;
          break;
        case SettingId.MAX_HEADER_LIST_SIZE:
          this.peerMaxHeaderListSize = value;
          break;
        default:
          break; // ENABLE_PUSH: we never push; ENABLE_CONNECT_PROTOCOL: unused
      }
    }
    if (newInitialWindow >= 0 && newInitialWindow !== this.peerInitialWindowSize) {
      // §6.9.2: every stream's send window moves by the difference, possibly below zero.
      const delta = newInitialWindow - this.peerInitialWindowSize;
      this.peerInitialWindowSize = newInitialWindow;
      for (const s of this.streams.values()) {
        s.sendWindow += delta;
        if (s.sendWindow > MAX_WINDOW_SIZE) {
          return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'settings-window-overflow',
            `SETTINGS_INITIAL_WINDOW_SIZE change makes stream ${s.id}'s window exceed 2^31-1 (RFC 9113 §6.9.2)`);
        }
        if (delta > 0 && s.queuedBytes > 0 && !s.ready) { s.ready = true; this.ready.push(s); }
      }
    }
    this.writer.settingsAck(); // §6.5.3: immediately
    this.scheduleFlush();
    // The peer's stream limit is known now: send what it allows of the waiting requests (before the
    // owner hears of the SETTINGS, so streams it opens then queue behind them); the rest would wait on
    // other calls ending (long streams may never end), so they go elsewhere (the owner has heard the
    // limit first, to place them by it).
    this.sendWaiting();
    this.handler.onPeerSettings?.();
    if (this.waitingCount > 0) this.refuseWaiting(ErrorCode.REFUSED_STREAM, this.peerMaxConcurrentStreams > 0);
  }

  onSettingsAck(): void {
    if (this.settingsAcksPending === 0) return;
    this.settingsAcksPending--;
    // §6.5.3: our SETTINGS bind the peer only from its ACK; apply the receive side now.
    this.reader.setMaxFrameSize(this.localMaxFrameSize);
    if (this.localHeaderTableSize !== DEFAULT_HEADER_TABLE_SIZE) this.decoder.setMaxTableSize(this.localHeaderTableSize);
    const delta = this.localInitialWindow - this.recvInitialWindow;
    if (delta !== 0) {
      this.recvInitialWindow = this.localInitialWindow;
      for (const s of this.streams.values()) s.recvWindow += delta;
    }
  }

  onPushPromise(streamId: number): void {
    // §8.4: we sent ENABLE_PUSH=0.
    this.fail(ErrorCode.PROTOCOL_ERROR, 'push-disabled', `PUSH_PROMISE on stream ${streamId} after SETTINGS_ENABLE_PUSH=0 (RFC 9113 §8.4)`);
  }

  onPing(ack: boolean, opaque: Buffer): void {
    if (ack) {
      if (this.pingAckTimer !== null) { this.pingAckTimer(); this.pingAckTimer = null; }
      this.handler.onPingAck?.(opaque);
      return;
    }
    this.counters.pingsReceived++;
    if (this.pings.hit(this.now)) {
      this.onLimit?.('maxPings');
      return this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'ping-flood',
        `more than ${this.limits.maxPings} PINGs within ${this.limits.floodWindowMs} ms (RFC 9113 §10.5)`);
    }
    this.writer.ping(opaque, true); // §6.7
    this.scheduleFlush();
  }

  onGoaway(lastStreamId: number, errorCode: number, debugData: Buffer): void {
    if (errorCode !== ErrorCode.NO_ERROR && this.closeError === null) {
      this.closeError = new H2SessionError(errorCode, 'peer-goaway', `peer sent GOAWAY: ${debugData.toString('latin1')}`, false);
    }
    // §6.8: a later GOAWAY may lower last-stream-id, never raise it. One that lowers nothing changes
    // nothing, so it costs nothing: a peer repeating 17-byte GOAWAYs made us walk every open stream
    // per frame (1,000 streams: 6.7 µs a frame, a core for 2.5 MB/s).
    if (this.peerGoawayLastId >= 0 && lastStreamId >= this.peerGoawayLastId) return;
    this.peerGoawayLastId = lastStreamId;
    this.handler.onGoaway(lastStreamId, errorCode, debugData);
    // Nothing more may be sent: streams still waiting go elsewhere (the owner may have refused them already).
    if (this.waitingCount > 0) this.refuseWaiting(ErrorCode.REFUSED_STREAM);
    // Our streams above last-stream-id were never processed: refused, safe to retry elsewhere. A
    // server opens none (no push), so only a client looks.
    if (!this.isServer) {
      for (const s of [...this.streams.values()]) {
        if (!this.isPeerInitiated(s.id) && s.id > lastStreamId && s.state !== StreamState.CLOSED) {
          this.releaseStream(s);
          this.handler.onReset(s, ErrorCode.REFUSED_STREAM, true);
          this.finishStream(s);
        }
      }
    }
    this.maybeEnd();
  }

  onWindowUpdate(streamId: number, increment: number): void {
    if (streamId === 0) {
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW_SIZE) {
        return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'window-overflow', 'connection send window exceeds 2^31-1 (RFC 9113 §6.9.1)');
      }
      if (this.ready.length > 0) this.scheduleFlush();
      return;
    }
    const s = this.streams.get(streamId);
    if (s === undefined) {
      if (this.isIdle(streamId)) return this.fail(ErrorCode.PROTOCOL_ERROR, 'window-update-on-idle-stream', `WINDOW_UPDATE on idle stream ${streamId} (RFC 9113 §5.1)`);
      return;
    }
    s.sendWindow += increment;
    if (s.sendWindow > MAX_WINDOW_SIZE) return this.reset(s, ErrorCode.FLOW_CONTROL_ERROR, true); // §6.9.1
    if (s.queuedBytes > 0 || s.endQueued) {
      if (!s.ready) { s.ready = true; this.ready.push(s); }
      this.scheduleFlush();
    }
  }

  onUnknownFrame(): void { /* §4.1, §5.5: ignored */ }

  onEmptyFrame(): void {
    this.counters.emptyFrames++;
    if (this.emptyFrames.hit(this.now)) {
      this.onLimit?.('maxEmptyFrames');
      this.fail(ErrorCode.ENHANCE_YOUR_CALM, 'empty-frame-flood',
        `more than ${this.limits.maxEmptyFrames} empty frames within ${this.limits.floodWindowMs} ms (RFC 9113 §10.5)`);
    }
  }

  onStreamError(error: H2StreamError): void {
    this.counters.streamErrors++;
    const id = error.streamId;
    if (error.frameType === FrameType.DATA) {
      // §6.9: a discarded DATA frame still counts against the connection window.
      if (error.frameLength > this.recvWindow) {
        return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'connection-window-exceeded', 'DATA exceeds the connection receive window (RFC 9113 §6.9.1)');
      }
      this.recvWindow -= error.frameLength;
      this.creditConnection(error.frameLength);
    }
    const s = this.streams.get(id);
    if (s !== undefined) return this.reset(s, error.code, true);
    // §6.4: no RST_STREAM on an idle stream; §5.4 lets us escalate.
    if (this.isIdle(id)) return this.fail(error.code, error.reason, error.message);
    this.rstId(id, error.code);
  }

  onConnectionError(error: H2ConnectionError): void {
    if (error.reason === 'too-many-continuations') this.onLimit?.('maxContinuationFrames');
    else if (error.reason === 'header-block-too-large') this.onLimit?.('maxHeaderBlockSize');
    this.fail(error.code, error.reason, error.message);
  }
}
