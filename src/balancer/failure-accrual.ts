import type { ConfigKind, OwnConfig } from '../config/kind.js';
import type { FailureAccrualConfig } from '../config/types.js';

/**
 * An endpoint's failure record: told of each stream's outcome, it decides when the endpoint is
 * ejected from balancing, and for how long.
 */
export interface FailureAccrual {
  /** True while ejected. */
  readonly ejected: boolean;
  /** When the current (or last) ejection ends, ms since the epoch; 0 when never ejected since the last success. */
  readonly ejectedUntil: number;
  success(): void;
  /** Record a failure; true when it ejects the endpoint now. */
  failure(): boolean;
}

/**
 * A failure accrual kind (`client.failureAccrual.kind`): its config reader and defaults, and how to
 * build one endpoint's record. One file in accrual/ each; ./accrual-registry.ts registers them.
 */
export interface AccrualKind<C extends FailureAccrualConfig = FailureAccrualConfig> extends ConfigKind<OwnConfig<C, 'kind'>> {
  create(config: C): FailureAccrual;
}
