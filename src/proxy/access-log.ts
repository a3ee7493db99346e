import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';

/**
 * The access log (`h2AccessLog`): one line per stream. Lines are collected in memory and written in
 * one go on the next turn of the event loop, so the data plane never waits for the disk; if the
 * file falls far behind (lines not yet written, this turn's and the stream's own, pass 8 MiB),
 * lines are dropped and counted rather than piling up: every client's calls make lines.
 *
 * Line: `time client authority path logical endpoint :status grpc-status durationMs bytesIn bytesOut`
 * with `-` for anything unknown.
 */
export interface AccessRecord {
  remote: string | undefined;
  authority: string | undefined;
  path: string | undefined;
  service: string;
  endpoint: string | undefined;
  httpStatus: number;
  grpcStatus: number;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
}

const MAX_PENDING_BYTES = 8 << 20;

export class AccessLog {
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private readonly out: Writable;
  private readonly ownStream: WriteStream | undefined;
  /** The file failed: every line from now on is dropped (and counted). */
  private failed = false;

  constructor(
    target: string,
    /** Told of lines dropped (the file fell behind, or failed): how many. */
    private readonly onDrop: (lines: number) => void = () => {},
  ) {
    if (target === '-') {
      this.out = process.stdout;
    } else {
      this.ownStream = createWriteStream(target, { flags: 'a' });
      this.ownStream.on('error', () => {
        this.failed = true;
        if (this.pending.length > 0) this.onDrop(this.pending.length);
        this.pending = [];
        this.pendingBytes = 0;
      });
      this.out = this.ownStream;
    }
  }

  write(r: AccessRecord): void {
    if (this.failed || this.pendingBytes + this.out.writableLength > MAX_PENDING_BYTES) {
      this.onDrop(1);
      return;
    }
    const line = `${new Date().toISOString()} ${r.remote || '-'} ${r.authority || '-'} ${r.path || '-'} ${r.service || '-'} ${
      r.endpoint || '-'
    } ${r.httpStatus || '-'} ${r.grpcStatus >= 0 ? r.grpcStatus : '-'} ${r.durationMs.toFixed(3)} ${r.bytesIn} ${r.bytesOut}\n`;
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(flush, this);
    }
  }

  /** @internal */ flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.out.write(text);
  }

  close(): Promise<void> {
    this.flush();
    const s = this.ownStream;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.end(() => resolve()));
  }
}

function flush(log: AccessLog): void {
  log.flush();
}
