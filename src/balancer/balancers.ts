import type { LoadBalancerKind } from '../config/types.js';
import type { Endpoint } from './endpoint.js';

/**
 * A load balancer picks an endpoint for one stream from the client's current endpoints. It skips
 * endpoints that are not available (ejected, backing off) unless none is, in which case it picks
 * among all of them rather than failing (Finagle's behaviour: a wrong guess beats no answer).
 * `exclude` is the endpoint a transparent retry is moving away from.
 */
export interface LoadBalancer {
  readonly kind: LoadBalancerKind;
  pick(endpoints: readonly Endpoint[], exclude: Endpoint | undefined): Endpoint | undefined;
}

function usable(e: Endpoint, exclude: Endpoint | undefined): boolean {
  return e !== exclude && e.weight > 0 && e.available;
}

/**
 * Round robin. Equal weights: a plain cursor (300 calls over 3 endpoints give exactly 100 each).
 * Unequal weights: nginx's smooth weighted round robin, deterministic and evenly interleaved.
 */
export class RoundRobin implements LoadBalancer {
  readonly kind = 'roundRobin' as const;
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
      return fallback(endpoints, exclude);
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
    if (best === undefined) return fallback(endpoints, exclude);
    this.current.set(best, bestScore - total);
    if (this.current.size > n * 2) for (const k of this.current.keys()) if (!endpoints.includes(k)) this.current.delete(k);
    return best;
  }
}

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
  readonly kind: LoadBalancerKind = 'p2c';

  pick(endpoints: readonly Endpoint[], exclude: Endpoint | undefined): Endpoint | undefined {
    if (endpoints.length === 0) return undefined;
    const a = randomUsable(endpoints, exclude, undefined);
    if (a === undefined) return fallback(endpoints, exclude);
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

const UNSAMPLED_PENALTY = 1e9;

/** Peak-EWMA: p2c where the cost is smoothed latency times (streams in flight + 1), per weight. */
export class PeakEwma extends P2C {
  override readonly kind: LoadBalancerKind = 'ewma';

  protected override load(e: Endpoint): number {
    // No latency sample yet: free while idle (so it gets one), a large penalty once it has streams
    // waiting (Finagle's PeakEwma), so a new endpoint does not swallow everything before it answers.
    if (e.ewmaAt === 0) return e.inFlight === 0 ? 0 : (UNSAMPLED_PENALTY + e.inFlight) / e.weight;
    return (e.ewmaMs * (e.inFlight + 1)) / e.weight;
  }
}
function fallback(endpoints: readonly Endpoint[], exclude: Endpoint | undefined): Endpoint | undefined {
  // Nothing usable: try anything still in the set but the one being retried away from.
  let first: Endpoint | undefined;
  for (const e of endpoints) {
    if (e.removed) continue;
    if (e !== exclude) return e;
    first ??= e;
  }
  // The endpoint being retried away from is the last resort (a refused stream may succeed there).
  return first;
}

export function createBalancer(kind: LoadBalancerKind): LoadBalancer {
  switch (kind) {
    case 'p2c':
      return new P2C();
    case 'ewma':
      return new PeakEwma();
    default:
      return new RoundRobin();
  }
}
