import type { FieldInput } from './hpack/index.js';
import { appendQueueCopy, releaseQueueCopy } from './queue-copies.js';
import { isSharedRead } from './shared-reads.js';
import { SMALL_CHUNK, SmallChunks, unpinned } from './small-chunks.js';

/** No queued DATA: shared until a queue takes its first chunk. */
export const NO_CHUNKS: readonly Buffer[] = Object.freeze([]);

/**
 * What a stream has waiting to go out: DATA held for window (or for room in the socket), and the
 * trailers behind it. Its own object, made when something first waits, because most streams never
 * wait: five fields fewer on every stream (H2Stream), and ten thousand idle streams are ten
 * thousand of those.
 */
export class SendQueue {
  /** Buffers in order, the first one partly sent from `offset`; NO_CHUNKS until the first one. */
  chunks: readonly Buffer[] = NO_CHUNKS;
  offset = 0;
  /** Trailers to send after the queued data (encoded only when written: HPACK order is wire order). */
  trailers: readonly FieldInput[] | null = null;
  /** When its DATA last found a send window shut (the connection's clock), 0 while it moves. */
  stalledSince = 0;
  /** Where small chunks are coalesced (made when the second one is queued). */
  private small: SmallChunks | null = null;

  /**
   * Appends a chunk (the first one makes an array of exactly one): a shared read onto the
   * process's queue copies, small chunks coalesced.
   */
  append(data: Buffer): void {
    const own = this.chunks === NO_CHUNKS ? null : (this.chunks as Buffer[]);
    if (data.length >= SMALL_CHUNK && isSharedRead(data)) this.chunks = appendQueueCopy(own, data);
    else if (own === null) this.chunks = [unpinned(data)];
    else (this.small ??= new SmallChunks()).append(own, data);
  }

  /** Drops the first chunk (it went out); the array stays for the next writes. */
  shift(): void {
    releaseQueueCopy((this.chunks as Buffer[]).shift()!);
    this.offset = 0;
  }

  /** Forgets the queued DATA (the stream was reset or closed). */
  clear(): void {
    const q = this.chunks;
    for (let i = 0; i < q.length; i++) releaseQueueCopy(q[i]!);
    this.chunks = NO_CHUNKS;
    this.offset = 0;
    this.small = null;
    this.stalledSince = 0;
  }
}
