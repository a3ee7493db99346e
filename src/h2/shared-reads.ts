import { Socket, type OnReadOpts } from 'node:net';

/**
 * Socket reads into one buffer that every connection of the process shares, not a new one per read.
 * For each 'data' read Node allocates an ArrayBuffer outside the JS heap, which V8 gives back only at
 * mark-compacts: in a 64 KiB ping-pong through the router that was ~4 full GCs per 1,000 round trips,
 * ~60 µs of GC per round trip; reading here, with DATA copied only where it is kept (below), saves
 * those and Node's allocation and shrink of each read. Sharing one buffer is safe because reads arrive one
 * at a time on the main thread and a chunk lives only until its callback returns. Whatever keeps
 * bytes past that copies them: the frame reader a frame split across reads
 * (FrameReaderOptions.transientChunks), the HPACK decoder by making strings, the frame writer DATA
 * (into data slabs, data-slabs.ts) and PING payloads, DATA queues (queue-copies.ts; chunks under
 * 1 KiB through `unpinned`) and kept requests (`unpinned`).
 */
const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);
const READ_MEMORY = READ_BUFFER.buffer;
/** Memory delivered as a shared read besides the read buffer: a frame assembled from two reads (lendAsSharedRead). */
let lent: ArrayBufferLike | null = null;

/** `b` is a view of the shared read buffer, or of memory lent as one: valid only until the read's callback returns. */
export function isSharedRead(b: Buffer): boolean {
  const m = b.buffer;
  return m === READ_MEMORY || m === lent;
}

/**
 * Views of `memory` (null: none) are shared reads from now on; returns what was lent before, to
 * restore. The frame reader delivers a DATA frame it assembled from two reads in a pooled slab this
 * way, and takes the slab back once its handler has returned.
 */
export function lendAsSharedRead(memory: ArrayBufferLike | null): ArrayBufferLike | null {
  const before = lent;
  lent = memory;
  return before;
}

/** One socket's reads: give `onread` to the socket where it is made; the connection sets `deliver`. */
export class SharedReads {
  deliver: ((chunk: Buffer) => void) | null = null;
  /** Told once, before the first chunk is delivered: what `socket.once('data')` told (no 'data' comes). */
  firstRead: (() => void) | null = null;
  readonly onread: OnReadOpts = {
    buffer: READ_BUFFER,
    callback: (n: number) => {
      const first = this.firstRead;
      if (first !== null) {
        this.firstRead = null;
        first();
      }
      this.deliver?.(READ_BUFFER.subarray(0, n));
      return true;
    },
  };
}

/**
 * The connection a net.Server accepted, in a socket that reads through `reads`: Node takes onread only
 * where a socket is made, so its handle moves to a new one. `accepted` must not have read (the server's
 * pauseOnConnect). It stays as the server's count of the connection (maxConnections, close()) and its
 * listeners hear 'close' when the new socket has closed. `_handle` is Node's own field, as in its tls
 * and http modules; the proxy tests run on every Node version the router supports.
 */
export function adoptWithReads(accepted: Socket, reads: SharedReads): Socket {
  const holder = accepted as unknown as { _handle: unknown };
  const socket = new Socket({ handle: holder._handle, onread: reads.onread } as ConstructorParameters<typeof Socket>[0]);
  socket.once('close', () => {
    holder._handle = null; // closed already, by the new socket
    accepted.destroy();
  });
  return socket;
}
