import { Fallback, usable, type BalancerKind, type LoadBalancer } from '../balancer.js';
import type { Endpoint } from '../endpoint.js';

/** Weighted random choice among usable endpoints. */
function randomUsable(endpoints: readonly Endpoint[], exclude: Endpoint | undefined, skip: Endpoint | undefined): Endpoint | undefined {
  let total = 0;
  for (let i = 0; i < endpoints.length; i++) {
    const e = endpoints[i]!;
    if (e !== skip && usable(e, exclude)) total += e.weight;
  }
  if (total <= 0) return undefined;
  let r = Math.random() * total;
  for (let i = 0; i < endpoints.length; i++) {
    const e = endpoints[i]!;
    if (e === skip || !usable(e, exclude)) continue;
    r -= e.weight;
    if (r < 0) return e;
  }
  return undefined;
}

/** Power of two choices: two weighted-random candidates, the one with fewer streams per weight wins. */
export class P2C implements LoadBalancer {
  readonly kind: string = 'p2c';
  private readonly fallback = new Fallback();

  pick(endpoints: readonly Endpoint[], exclude: Endpoint | undefined): Endpoint | undefined {
    if (endpoints.length === 0) return undefined;
    const a = randomUsable(endpoints, exclude, undefined);
    if (a === undefined) return this.fallback.pick(endpoints, exclude);
    const b = randomUsable(endpoints, exclude, a);
    if (b === undefined) return a;
    const la = this.load(a);
    const lb = this.load(b);
    // Equal load (common when idle): the one that has had fewer streams, so idle spreads stay even.
    if (la === lb) return b.requests / b.weight < a.requests / a.weight ? b : a;
    return lb < la ? b : a;
  }

  protected load(e: Endpoint): number {
    return e.inFlight / e.weight;
  }
}

export const p2cBalancer: BalancerKind = { kind: 'p2c', create: () => new P2C() };
