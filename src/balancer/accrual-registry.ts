import type { FailureAccrualConfig } from '../config/types.js';
import { KindRegistry } from '../util/kind-registry.js';
import type { AccrualKind, FailureAccrual } from './failure-accrual.js';
import { noAccrual } from './accrual/none.js';
import { consecutiveFailuresAccrual } from './accrual/consecutive-failures.js';

/** Every `client.failureAccrual.kind`; a new kind is one file in accrual/ and one line here. */
export const accrualKinds = new KindRegistry<AccrualKind>('failure accrual');
for (const kind of [noAccrual, consecutiveFailuresAccrual] as AccrualKind[]) accrualKinds.register(kind);

/** `client.failureAccrual` when the config says nothing: 5 consecutive failures, jittered 5 s..300 s. */
export function defaultFailureAccrual(): FailureAccrualConfig {
  return accrualKinds.resolve({ kind: 'io.l5d.consecutiveFailures' }).config;
}

/** One endpoint's failure record. */
export function createFailureAccrual(config: FailureAccrualConfig): FailureAccrual {
  const { kind, config: full } = accrualKinds.resolve(config);
  return kind.create(full);
}
