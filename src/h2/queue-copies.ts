import { DATA_SLAB_SIZE, giveDataSlab, takeDataSlab } from './data-slabs.js';

/**
 * Copies of the shared reads (SharedReads) that streams queue while a send window is shut, on the
 * process's data slabs (data-slabs.ts), which go back to the pool once every copy on them has been
 * sent or dropped. A buffer per queued frame was memory outside the JS heap: in a 64 KiB ping-pong
 * through the router, six 16 KiB allocations per round trip (most of what it relays waits for the
 * endpoint's window), freed only at mark-compacts that no longer come, so a burst left ~18 MB of
 * RSS behind in malloc's heap.
 *
 * A copy lives on until its stream dequeues it (H2Stream.dequeue, clearQueue); the frame writer
 * copies it, as it copies a shared read, so nothing else holds it by then. One slab holds several
 * streams' copies, so one copy left waiting (its stream stalled) keeps the whole slab. That is
 * bounded: a new slab is taken only while the slabs in use hold no more than twice the bytes
 * queued on them plus a floor of four slabs; past that, copies get buffers of their own, as before.
 * So the slabs never hold more than twice the most ever queued (which windows and budgets bound)
 * plus four slabs (256 KiB).
 */
interface Slab {
  readonly buf: Buffer;
  /** Bytes of copies on it not yet released. */
  live: number;
}

const FLOOR_SLABS = 4;
const slabs = new Map<ArrayBufferLike, Slab>();
/** The slab being filled, and how far. */
let current: Slab | null = null;
let used = 0;
/** Bytes of copies on slabs not yet released (all slabs). With none, no slab is held. */
let liveBytes = 0;
/** Copies ever put on slabs (tests: that a path took them). */
let made = 0;

/**
 * Appends a copy of `data` (a shared read, at most a slab) to `list`, made when null (the stream's
 * first queued chunk: an array of exactly one). A copy is as long as what was queued, 1 KiB or more,
 * so SmallChunks never coalesces one; one that does not fit in the rest of a slab starts the next.
 */
export function appendQueueCopy(list: Buffer[] | null, data: Buffer): Buffer[] {
  const n = data.length;
  let slab = current;
  if (slab === null || used + n > DATA_SLAB_SIZE) {
    if (n > DATA_SLAB_SIZE || (slabs.size + 1) * DATA_SLAB_SIZE > 2 * (liveBytes + n) + FLOOR_SLABS * DATA_SLAB_SIZE) {
      const own = Buffer.allocUnsafeSlow(n);
      data.copy(own);
      return push(list, own);
    }
    slab = current = { buf: takeDataSlab(), live: 0 };
    slabs.set(slab.buf.buffer, slab);
    used = 0;
  }
  data.copy(slab.buf, used);
  const copy = slab.buf.subarray(used, used + n);
  slab.live += n;
  liveBytes += n;
  used += n;
  made++;
  return push(list, copy);
}

function push(list: Buffer[] | null, b: Buffer): Buffer[] {
  if (list === null) return [b];
  list.push(b);
  return list;
}

/** `b` is (a view of) a queue copy: valid only until it is released, so it is copied if kept. */
export function isQueueCopy(b: Buffer): boolean {
  return slabs.has(b.buffer);
}

/** A queued chunk went out or was dropped: if it was a copy here, its bytes are free (and its slab, with none left). */
export function releaseQueueCopy(b: Buffer): void {
  const slab = slabs.get(b.buffer);
  if (slab === undefined) return;
  slab.live -= b.length;
  liveBytes -= b.length;
  if (slab.live !== 0) return;
  if (slab === current) current = null;
  slabs.delete(b.buffer);
  giveDataSlab(slab.buf);
}

/** Slabs holding queue copies, the bytes queued on them, and copies ever made on slabs (tests). */
export function queueCopySlabs(): { slabs: number; liveBytes: number; made: number } {
  return { slabs: slabs.size, liveBytes, made };
}
