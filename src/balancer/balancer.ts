import type { ConfigKind, OwnConfig } from '../config/kind.js';
import type { LoadBalancerConfig } from '../config/types.js';
import type { Endpoint } from './endpoint.js';

/**
 * A load balancer picks an endpoint for one stream from the client's current endpoints. It skips
 * endpoints that are not available (ejected, backing off) unless none is, in which case it picks
 * among all of them rather than failing (Finagle's behaviour: a wrong guess beats no answer).
 * `exclude` is the endpoint a transparent retry is moving away from.
 */
export interface LoadBalancer {
  readonly kind: string;
  pick(endpoints: readonly Endpoint[], exclude: Endpoint | undefined): Endpoint | undefined;
}

export function usable(e: Endpoint, exclude: Endpoint | undefined): boolean {
  return e !== exclude && e.weight > 0 && e.available;
}

/**
 * The pick when no endpoint is usable (every one ejected or backing off), one per balancer: it
 * tries anything still in the set but the one being retried away from, starting one further each
 * call. Always the first would send the whole service's traffic to one endpoint. A retry away from
 * an endpoint does not move the start, so calls alternate their first tries too.
 */
export class Fallback {
  private turn = 0;

  pick(endpoints: readonly Endpoint[], exclude: Endpoint | undefined): Endpoint | undefined {
    const n = endpoints.length;
    if (n === 0) return undefined;
    const start = this.turn % n;
    if (exclude === undefined) this.turn = start + 1;
    let first: Endpoint | undefined;
    for (let k = 0; k < n; k++) {
      const e = endpoints[(start + k) % n]!;
      if (e.removed) continue;
      if (e !== exclude) return e;
      first ??= e;
    }
    // The endpoint being retried away from is the last resort (a refused stream may succeed there).
    return first;
  }
}

/**
 * A load balancer kind (`client.loadBalancer.kind`): its config reader and defaults, and how to
 * build one (one per client). One file under balancers/ each; ./balancer-registry.ts registers them.
 */
export interface BalancerKind<C extends LoadBalancerConfig = LoadBalancerConfig> extends ConfigKind<OwnConfig<C, 'kind' | 'decayTimeMs'>> {
  create(config: C): LoadBalancer;
}
