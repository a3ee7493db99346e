/**
 * Jittered exponential backoff ("equal jitter": between half and all of the current step), so that
 * many routers reconnecting to a restarted API server or endpoint do not arrive in lock-step. The
 * namers' watches and DNS refreshes, endpoint connects and failure-accrual ejections all use it.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minMs = 100,
    private readonly maxMs = 10_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next retry; each call doubles the step up to `maxMs`. */
  next(): number {
    const step = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(step / 2 + (this.random() * step) / 2);
  }

  /** Call after a success so the next failure starts from `minMs` again. */
  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}
