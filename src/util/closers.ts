import type { Logger } from './log.js';

/**
 * What a starting process must close, in reverse order of starting: when a later part fails to
 * start (a port in use, a bad kubeconfig), the parts already running are closed before the error
 * is thrown. An error while closing one part is logged and the rest still close.
 */
export class Closers {
  private readonly list: (() => unknown)[] = [];

  constructor(private readonly log: Logger) {}

  /** Close this before everything registered so far. */
  push(close: () => unknown): void {
    this.list.push(close);
  }

  /** Close this after everything else (the admin server, so /ready answers to the end). */
  unshift(close: () => unknown): void {
    this.list.unshift(close);
  }

  async closeAll(): Promise<void> {
    for (const close of this.list.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        this.log.warn('error while closing', { error: err as Error });
      }
    }
  }
}
