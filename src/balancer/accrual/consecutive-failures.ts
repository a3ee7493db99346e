import type { FailureAccrualConfig } from '../../config/types.js';
import type { Fields } from '../../config/yaml-reader.js';
import { Backoff } from '../../util/backoff.js';
import type { AccrualKind, FailureAccrual } from '../failure-accrual.js';

export interface ConsecutiveFailuresConfig extends FailureAccrualConfig {
  /** Failures in a row that eject an endpoint. */
  failures: number;
  /** Ejections last from minMs, growing towards maxMs with each one since the last success. */
  backoff: { minMs: number; maxMs: number };
}

/**
 * Finagle's consecutive-failures accrual: after `failures` failures in a row an endpoint is ejected
 * for an equal-jittered, exponentially growing backoff (minMs..maxMs); when the backoff ends it is
 * let back in ("probing"), and the first success clears its record while a failure ejects it again
 * for the next, longer backoff.
 */
export class ConsecutiveFailures implements FailureAccrual {
  private consecutive = 0;
  private until = 0;
  /** Its step count is the number of ejections since the last success. */
  private readonly backoff: Backoff;

  constructor(private readonly config: ConsecutiveFailuresConfig) {
    this.backoff = new Backoff(config.backoff.minMs, config.backoff.maxMs);
  }

  get ejected(): boolean {
    return this.until !== 0 && this.until > Date.now();
  }

  get ejectedUntil(): number {
    return this.until;
  }

  success(): void {
    this.consecutive = 0;
    this.backoff.reset();
    this.until = 0;
  }

  failure(): boolean {
    const c = this.config;
    const backoff = this.backoff;
    this.consecutive++;
    const probing = backoff.failures > 0 && !this.ejected;
    if (this.consecutive < c.failures && !probing) return false;
    if (this.ejected) return false;
    this.until = Date.now() + backoff.next();
    return true;
  }
}

const MAX_MS = Number.MAX_SAFE_INTEGER;
const DEFAULTS = { failures: 5, backoff: { minMs: 5000, maxMs: 300_000 } } as const;

/** `backoff: {kind: jittered, minMs, maxMs}` or `{kind: constant, ms}`; absent: the default jittered one. */
function readBackoff(fields: Fields): { minMs: number; maxMs: number } {
  let minMs: number = DEFAULTS.backoff.minMs;
  let maxMs: number = DEFAULTS.backoff.maxMs;
  const backoff = fields.get('backoff').object(['kind', 'minMs', 'maxMs', 'ms']);
  const kind = backoff?.get('kind').required('"jittered" or "constant"')?.oneOf(['jittered', 'constant'] as const);
  if (backoff && kind === 'constant') {
    minMs = maxMs = backoff.get('ms').required('milliseconds')?.int(0, MAX_MS) ?? minMs;
  } else if (backoff && kind === 'jittered') {
    minMs = backoff.get('minMs').int(0, MAX_MS) ?? minMs;
    maxMs = backoff.get('maxMs').int(0, MAX_MS) ?? maxMs;
    if (maxMs < minMs) backoff.get('maxMs').expected(`a value ≥ minMs (${minMs})`);
  }
  return { minMs, maxMs };
}

/** `io.l5d.consecutiveFailures` (the default): Finagle's, above. */
export const consecutiveFailuresAccrual: AccrualKind<ConsecutiveFailuresConfig> = {
  kind: 'io.l5d.consecutiveFailures',
  keys: ['failures', 'backoff'],
  defaults: DEFAULTS,
  read: (f) => ({ failures: f.get('failures').int(1, MAX_MS) ?? DEFAULTS.failures, backoff: readBackoff(f) }),
  create: (config) => new ConsecutiveFailures(config),
};
