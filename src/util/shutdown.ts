import { realClock, type Clock } from './clock.js';
import type { Closers } from './closers.js';
import type { Logger } from './log.js';

export interface ShutdownSequenceOptions {
  log: Logger;
  /** What the process closes last, once drained (or at once, on `close()`). */
  closers: Closers;
  /** How long to keep serving while not ready, so Kubernetes stops sending new work first. */
  delayMs: number;
  /** The line logged as the shutdown starts ('shutting down: …'), saying what the process does meanwhile. */
  announcement: string;
  /** Let in-flight work finish (or end it politely); runs after the delay, before the closers. */
  drain: () => Promise<unknown>;
  /** Time for the delay; tests pass a FakeClock. */
  clock?: Clock;
}

/**
 * A process's graceful shutdown, shared by the router and the control plane: not ready at once,
 * still serving for `delayMs`, then drain, then close everything. `close()` is the way out that
 * does not wait: it ends the delay and closes now, and a shutdown it cut short only waits for that
 * close, so nothing is drained or closed after it has been closed.
 */
export class ShutdownSequence {
  private isDraining = false;
  private shutdownDone: Promise<void> | undefined;
  private closed: Promise<void> | undefined;
  /** Ends the pending delay at once (set while the delay runs). */
  private endDelay: (() => void) | undefined;

  constructor(private readonly options: ShutdownSequenceOptions) {}

  /** True from the first `shutdown()` or `close()`: readiness reports 'shutting down'. */
  get draining(): boolean {
    return this.isDraining;
  }

  /** Run the sequence; calling it again returns the same promise. */
  shutdown(reason: string): Promise<void> {
    this.shutdownDone ??= this.run(reason);
    return this.shutdownDone;
  }

  /** Stop now without draining; a shutdown under way resolves once this is done. */
  close(): Promise<void> {
    this.isDraining = true;
    this.endDelay?.();
    return this.closeAll();
  }

  private async run(reason: string): Promise<void> {
    const { log, delayMs } = this.options;
    this.isDraining = true;
    log.info(this.options.announcement, { reason, shutdownDelayMs: delayMs });
    await this.delay(delayMs);
    if (this.closed === undefined) await this.options.drain();
    await this.closeAll();
    log.info('stopped');
  }

  /** One closeAll whoever asks first, so a close() during the drain and the shutdown share it. */
  private closeAll(): Promise<void> {
    this.closed ??= this.options.closers.closeAll();
    return this.closed;
  }

  /** Resolves after `ms`, or as soon as close() is called. */
  private delay(ms: number): Promise<void> {
    if (this.closed !== undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // The clock's timer does not hold the process open; the listeners still serving do.
      const cancel = (this.options.clock ?? realClock).after(ms, () => {
        this.endDelay = undefined;
        resolve();
      });
      this.endDelay = () => {
        cancel();
        this.endDelay = undefined;
        resolve();
      };
    });
  }
}
