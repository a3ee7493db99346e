import type { BalancerKind } from '../balancer.js';
import type { Endpoint } from '../endpoint.js';
import { P2C } from './p2c.js';

const UNSAMPLED_PENALTY = 1e9;

/** Peak-EWMA: p2c where the cost is smoothed latency times (streams in flight + 1), per weight. */
export class PeakEwma extends P2C {
  override readonly kind: string = 'ewma';

  protected override load(e: Endpoint): number {
    // No latency sample yet: free while idle (so it gets one), a large penalty once it has streams
    // waiting (Finagle's PeakEwma), so a new endpoint does not swallow everything before it answers.
    if (e.ewmaAt === 0) return e.inFlight === 0 ? 0 : (UNSAMPLED_PENALTY + e.inFlight) / e.weight;
    return (e.ewmaMs * (e.inFlight + 1)) / e.weight;
  }
}

export const ewmaBalancer: BalancerKind = { kind: 'ewma', create: () => new PeakEwma() };
