import type { AccrualKind, FailureAccrual } from '../failure-accrual.js';

/** Never ejects: one shared record serves every endpoint, as it keeps nothing. */
const NEVER: FailureAccrual = { ejected: false, ejectedUntil: 0, success() {}, failure: () => false };

/** `none`: endpoints stay in balancing whatever they answer. */
export const noAccrual: AccrualKind = { kind: 'none', create: () => NEVER };
