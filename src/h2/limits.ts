// Abuse limits and the counters the metrics layer reads. Every limit is a named
// option with a default; every time a limit fires, or a rule is broken, a counter
// goes up. Counters are plain number fields on one object per connection so that
// reading them costs nothing and a metrics scrape can sum them across connections.

/** Options of one connection; all optional, defaults below. */
export interface H2Limits {
  /** Our SETTINGS_MAX_CONCURRENT_STREAMS (§6.5.2): more peer-opened streams are refused (REFUSED_STREAM). */
  maxConcurrentStreams: number;
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE (§6.5.2, §10.5.1): larger blocks refuse their stream only. */
  maxHeaderListSize: number;
  /**
   * Largest encoded field block the reader buffers before giving up on the connection
   * (ENHANCE_YOUR_CALM). Must exceed maxHeaderListSize by a margin, or an over-limit
   * block kills the connection where it should only cost its stream.
   */
  maxHeaderBlockSize: number;
  /** CONTINUATION frames allowed after one HEADERS (CVE-2024-27316). */
  maxContinuationFrames: number;
  /**
   * Rapid reset (CVE-2023-44487): streams the peer resets before we answered them,
   * per rapidResetWindowMs, above which we send GOAWAY ENHANCE_YOUR_CALM.
   */
  maxRapidResets: number;
  rapidResetWindowMs: number;
  /** PINGs (non-ACK) the peer may send per floodWindowMs. */
  maxPings: number;
  /** SETTINGS frames (non-ACK) the peer may send per floodWindowMs. */
  maxSettings: number;
  /** Frames that carry nothing (empty DATA/HEADERS/CONTINUATION) per floodWindowMs. */
  maxEmptyFrames: number;
  floodWindowMs: number;
  /**
   * Soft memory bound: sum of DATA bytes queued by the caller on all streams and not
   * yet sent (windows closed). write() returns false above it; the caller stops
   * reading its source until onDrain. Also the most the socket may hold before the
   * peer is no longer read (until the socket drains).
   */
  maxQueuedBytes: number;
  /** After a GOAWAY for an error, the socket is destroyed if it has not closed within this bound. */
  closeTimeoutMs: number;
  /**
   * A peer that takes none of what we send on a stream for this long (checked every half of it; 0:
   * never): a stream whose DATA waits on a window the peer keeps shut is reset (CANCEL). Windows
   * bound what such a peer costs in memory; this bounds it in time (nginx's send_timeout). Also: a
   * peer not read for the read budget, none of whose bytes went on for this long, loses the streams
   * holding them (CANCEL).
   */
  sendTimeoutMs: number;
  /**
   * A socket holding bytes the peer reads none of for this long (checked every half of it; 0:
   * never) makes the handler's onUnresponsive, then the socket is destroyed: below HTTP/2's flow
   * control, a peer that stopped reading its socket (gone, wedged, or hostile).
   */
  socketTimeoutMs: number;
  /**
   * A field block begun (HEADERS or PUSH_PROMISE without END_HEADERS) must end within this (0:
   * never), or the connection fails (ENHANCE_YOUR_CALM): its fragments are held until then, and a
   * peer dripping CONTINUATION bytes keeps every other timer quiet.
   */
  headerBlockTimeoutMs: number;
}

/** What stopped a peer, as reported to onLimit: one of the limits, or the group's read budget (or its client's part of it). */
export type H2LimitName = keyof H2Limits | 'readBudget' | 'readBudgetPerClient';

export const DEFAULT_LIMITS: Readonly<H2Limits> = {
  maxConcurrentStreams: 100,
  maxHeaderListSize: 64 * 1024,
  maxHeaderBlockSize: 256 * 1024,
  maxContinuationFrames: 32,
  maxRapidResets: 200,
  rapidResetWindowMs: 1_000,
  maxPings: 100,
  maxSettings: 100,
  maxEmptyFrames: 1_000,
  floodWindowMs: 1_000,
  maxQueuedBytes: 4 * 1024 * 1024,
  closeTimeoutMs: 1_000,
  sendTimeoutMs: 0,
  socketTimeoutMs: 0,
  headerBlockTimeoutMs: 10_000,
};

/** Counts events against `limit` per `windowMs`: hit() is true for each event past the limit. */
export interface EventCounter {
  readonly limit: number;
  readonly windowMs: number;
  hit(now: number): boolean;
}

/**
 * A fixed-window event counter: hit() returns true when more than `limit` events
 * fall within one window. Coarse on purpose (no per-event timestamps kept): an
 * attacker gains at most 2x the limit at a window edge.
 *
 * Connections may share one (one client's, say) if they read the same monotonic clock: a window
 * starts at the first hit after the last one ended, and a `now` a little behind that start (a
 * connection that read its clock earlier in the same turn) counts in the current window, never
 * starting a new one. Past the limit, every further hit in the window is true, whoever makes it.
 */
export class WindowCounter implements EventCounter {
  private start = 0;
  private count = 0;
  constructor(readonly limit: number, readonly windowMs: number) {}

  hit(now: number): boolean {
    if (now - this.start >= this.windowMs) {
      this.start = now;
      this.count = 0;
    }
    return ++this.count > this.limit;
  }
}

/** Per-connection counters, read by the metrics layer. */
export class H2Counters {
  streamsOpened = 0;
  /** Peer streams refused: over maxConcurrentStreams or after our GOAWAY. */
  streamsRefused = 0;
  /** Streams whose header list exceeded maxHeaderListSize. */
  headerListTooLarge = 0;
  /** Malformed header blocks (§8.1.1), refused with RST_STREAM PROTOCOL_ERROR. */
  malformed = 0;
  resetsReceived = 0;
  resetsSent = 0;
  rapidResets = 0;
  pingsReceived = 0;
  settingsReceived = 0;
  emptyFrames = 0;
  /** Stream errors reported by the frame reader or found by the state machine. */
  streamErrors = 0;
  /** DATA bytes that were sent/received, for the connection as a whole. */
  dataBytesSent = 0;
  dataBytesReceived = 0;
  /** Times write() reported the connection's queued bytes over maxQueuedBytes. */
  queueOverLimit = 0;
  /** Times the socket held more than maxQueuedBytes and the peer was not read until it drained. */
  readsHeld = 0;
  /** Times the group's read budget was spent with this connection holding more than its share, and the peer was not read. */
  readsHeldForBudget = 0;
  /** Connection errors by reason (the reader's H2ErrorReason or a rule of this layer). */
  readonly connectionErrors: Record<string, number> = {};

  countConnectionError(reason: string): void {
    this.connectionErrors[reason] = (this.connectionErrors[reason] ?? 0) + 1;
  }
}
