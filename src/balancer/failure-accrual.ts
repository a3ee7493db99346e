import type { FailureAccrualConfig } from '../config/types.js';

/**
 * Finagle's consecutive-failures accrual: after `failures` failures in a row an endpoint is ejected
 * for an equal-jittered, exponentially growing backoff (minMs..maxMs); when the backoff ends it is
 * let back in ("probing"), and the first success clears its record while a failure ejects it again
 * for the next, longer backoff.
 */
export class FailureAccrual {
  private consecutive = 0;
  private ejections = 0;
  private until = 0;

  constructor(private readonly config: FailureAccrualConfig) {}

  /** True while ejected. */
  get ejected(): boolean {
    return this.until !== 0 && this.until > Date.now();
  }

  get ejectedUntil(): number {
    return this.until;
  }

  success(): void {
    this.consecutive = 0;
    this.ejections = 0;
    this.until = 0;
  }

  /** Record a failure; true when it ejects the endpoint now. */
  failure(): boolean {
    const c = this.config;
    if (c.kind === 'none') return false;
    this.consecutive++;
    const probing = this.ejections > 0 && !this.ejected;
    if (this.consecutive < c.failures && !probing) return false;
    if (this.ejected) return false;
    const { minMs, maxMs } = c.backoff;
    const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(this.ejections, 20));
    this.ejections++;
    this.until = Date.now() + ceiling / 2 + Math.random() * (ceiling / 2);
    return true;
  }
}
