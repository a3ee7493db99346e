import { isSharedRead } from './shared-reads.js';

/**
 * Payloads under this are copied into shared slabs when they are kept. A kept Buffer costs ~120
 * bytes of heap whatever its length, while windows and budgets count payload bytes: a stream of
 * one-byte DATA frames made the router keep 0.93 MB of payload as 111 MB of objects.
 */
export const SMALL_CHUNK = 1024;
const SLAB_SIZE = 4096;

/** The slabs small copies share (PayloadCopies): a kept chunk on one pins at most this much. */
export const COPY_SLAB_SIZE = 8192;

/**
 * `data`, or a copy of it when its ArrayBuffer is more than twice its size and more than a slab, or
 * when it is a shared read (SharedReads: overwritten by the next read): for a chunk about to be
 * kept. The frame reader hands DATA over as views of the socket read, and windows and budgets
 * count payload bytes: 16 KiB of DATA kept from a 64 KiB read among frames nobody keeps kept the
 * whole read, four times what was counted. Copied when kept, not when read:
 * DATA that goes straight on is not. Not a unary call's message (a view of a small read, or the
 * reader's copy on a slab every small copy shares): a copy costs ~1 µs, some 3 % of a unary call's
 * CPU, to save at most a slab.
 */
export function unpinned(data: Buffer): Buffer {
  const n = data.length;
  // A unary call's message is kept for a replay: on a shared slab, not an allocation of its own.
  if (isSharedRead(data)) return SHARED_READ_COPIES.copy(data, 0, n);
  const size = data.buffer.byteLength;
  if (size <= 2 * n || size <= COPY_SLAB_SIZE) return data;
  // Not Buffer.from: under half of Buffer.poolSize (8 KiB; 64 KiB from Node 24) it copies into Node's shared pool, whose block the copy would keep.
  const copy = Buffer.allocUnsafeSlow(n);
  data.copy(copy);
  return copy;
}

/**
 * Appends chunks to a list that is kept (a queue waiting for window, a request kept for a
 * retry), each {@link unpinned}, copying small ones into 4 KiB slabs once two come in a row: consecutive small chunks
 * become one view of a slab, extended in place while it is the list's last element. Bytes already in a slab are never
 * written again, so views handed out before stay valid. A list's first chunk is the caller's: pass it unpinned.
 */
export class SmallChunks {
  private slab: Buffer | null = null;
  private start = 0;
  private end = 0;
  /** The slab view this appended last (extended while it is still the list's last element). */
  private view: Buffer | null = null;

  append(list: Buffer[], data: Buffer): void {
    const n = data.length;
    if (n >= SMALL_CHUNK) {
      list.push(unpinned(data));
      return;
    }
    const last = list.length > 0 ? list[list.length - 1]! : undefined;
    const slab = this.slab;
    if (slab !== null && last === this.view && this.end + n <= slab.length) {
      data.copy(slab, this.end);
      this.end += n;
      list[list.length - 1] = this.view = slab.subarray(this.start, this.end);
      return;
    }
    // A lone small chunk is kept as it is (a unary call's one message needs no slab); the second
    // in a row starts one, with the first copied in.
    if (last === undefined || last === this.view || last.length >= SMALL_CHUNK) {
      list.push(unpinned(data));
      return;
    }
    if (slab === null || this.end + last.length + n > slab.length) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      this.end = 0;
    }
    this.start = this.end;
    last.copy(this.slab!, this.end);
    data.copy(this.slab!, this.end + last.length);
    this.end += last.length + n;
    list[list.length - 1] = this.view = this.slab!.subarray(this.start, this.end);
  }
}

/**
 * Copies of small payloads out of large socket reads (the frame reader's): up to 4 KiB each on 8 KiB
 * slabs of their own, larger ones in buffers of their own. Not Buffer.from: from Node 24 its pool
 * blocks are 64 KiB, so one small payload kept pinned 64 KiB; and `unpinned` knows a slab by its size.
 */
export class PayloadCopies {
  private slab: Buffer | null = null;
  private used = 0;

  copy(buf: Buffer, start: number, end: number): Buffer {
    const n = end - start;
    if (n > COPY_SLAB_SIZE / 2) {
      const own = Buffer.allocUnsafeSlow(n);
      buf.copy(own, 0, start, end);
      return own;
    }
    let slab = this.slab;
    if (slab === null || this.used + n > COPY_SLAB_SIZE) {
      slab = this.slab = Buffer.allocUnsafeSlow(COPY_SLAB_SIZE);
      this.used = 0;
    }
    buf.copy(slab, this.used, start, end);
    const out = slab.subarray(this.used, this.used + n);
    this.used += n;
    return out;
  }
}

/** Where `unpinned` copies shared reads (one process, one thread: one set of slabs). */
const SHARED_READ_COPIES = new PayloadCopies();
