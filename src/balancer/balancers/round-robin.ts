import { Fallback, usable, type BalancerKind, type LoadBalancer } from '../balancer.js';
import type { Endpoint } from '../endpoint.js';

/**
 * Round robin. Equal weights: a plain cursor (300 calls over 3 endpoints give exactly 100 each).
 * Unequal weights: nginx's smooth weighted round robin, deterministic and evenly interleaved.
 */
export class RoundRobin implements LoadBalancer {
  readonly kind = 'roundRobin';
  private readonly fallback = new Fallback();
  private cursor = 0;
  private current = new Map<Endpoint, number>();

  pick(endpoints: readonly Endpoint[], exclude: Endpoint | undefined): Endpoint | undefined {
    const n = endpoints.length;
    if (n === 0) return undefined;
    let equal = true;
    const w0 = endpoints[0]!.weight;
    for (let i = 1; i < n; i++) if (endpoints[i]!.weight !== w0) equal = false;
    if (equal) {
      for (let k = 0; k < n; k++) {
        const e = endpoints[(this.cursor + k) % n]!;
        if (usable(e, exclude)) {
          this.cursor = (this.cursor + k + 1) % n;
          return e;
        }
      }
      return this.fallback.pick(endpoints, exclude);
    }
    let total = 0;
    let best: Endpoint | undefined;
    let bestScore = -Infinity;
    for (let i = 0; i < n; i++) {
      const e = endpoints[i]!;
      if (!usable(e, exclude)) continue;
      const score = (this.current.get(e) ?? 0) + e.weight;
      this.current.set(e, score);
      total += e.weight;
      if (score > bestScore) {
        bestScore = score;
        best = e;
      }
    }
    if (best === undefined) return this.fallback.pick(endpoints, exclude);
    this.current.set(best, bestScore - total);
    if (this.current.size > n * 2) for (const k of this.current.keys()) if (!endpoints.includes(k)) this.current.delete(k);
    return best;
  }
}

export const roundRobinBalancer: BalancerKind = { kind: 'roundRobin', create: () => new RoundRobin() };
