/**
 * Slabs that frame writers copy DATA into when it is a view of the shared read buffer (SharedReads),
 * which the next read overwrites. One free list for the process: a connection holds a slab only
 * until its socket has written what is in it (FrameWriter.rewind), so an idle connection holds
 * none, and a busy process reuses the same few. A fresh buffer per frame would be memory outside
 * the JS heap that V8 gives back only at mark-compacts: in a 64 KiB ping-pong through the router,
 * ~3 full GCs per 1,000 round trips and some 6 % of its CPU. The frame reader borrows one for DATA
 * split across two reads, and queued DATA is copied onto them (queue-copies.ts).
 */
export const DATA_SLAB_SIZE = 64 * 1024;

/** Free slabs kept for reuse (and full ones a writer keeps to give back): a burst that borrowed more gives the rest to the GC. */
export const DATA_SLABS_KEPT = 8;
const free: Buffer[] = [];

export function takeDataSlab(): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(DATA_SLAB_SIZE);
}

/** `slab` holds nothing that a socket may still write. A larger piece's own buffer is not kept. */
export function giveDataSlab(slab: Buffer): void {
  if (free.length < DATA_SLABS_KEPT && slab.length === DATA_SLAB_SIZE) free.push(slab);
}

/** Slabs in the free list (tests). */
export function freeDataSlabs(): number {
  return free.length;
}
