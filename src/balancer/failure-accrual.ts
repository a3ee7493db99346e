import type { FailureAccrualConfig } from '../config/types.js';
import { Backoff } from '../util/backoff.js';

/**
 * Finagle's consecutive-failures accrual: after `failures` failures in a row an endpoint is ejected
 * for an equal-jittered, exponentially growing backoff (minMs..maxMs); when the backoff ends it is
 * let back in ("probing"), and the first success clears its record while a failure ejects it again
 * for the next, longer backoff.
 */
export class FailureAccrual {
  private consecutive = 0;
  private until = 0;
  /** Its step count is the number of ejections since the last success. */
  private readonly backoff: Backoff | undefined;

  constructor(private readonly config: FailureAccrualConfig) {
    if (config.kind !== 'none') this.backoff = new Backoff(config.backoff.minMs, config.backoff.maxMs);
  }

  /** True while ejected. */
  get ejected(): boolean {
    return this.until !== 0 && this.until > Date.now();
  }

  get ejectedUntil(): number {
    return this.until;
  }

  success(): void {
    this.consecutive = 0;
    this.backoff?.reset();
    this.until = 0;
  }

  /** Record a failure; true when it ejects the endpoint now. */
  failure(): boolean {
    const c = this.config;
    const backoff = this.backoff;
    if (c.kind === 'none' || backoff === undefined) return false;
    this.consecutive++;
    const probing = backoff.failures > 0 && !this.ejected;
    if (this.consecutive < c.failures && !probing) return false;
    if (this.ejected) return false;
    this.until = Date.now() + backoff.next();
    return true;
  }
}
