import type { LoadBalancerConfig } from '../config/types.js';
import { KindRegistry } from '../util/kind-registry.js';
import type { BalancerKind, LoadBalancer } from './balancer.js';
import { roundRobinBalancer } from './balancers/round-robin.js';
import { p2cBalancer } from './balancers/p2c.js';
import { ewmaBalancer } from './balancers/ewma.js';

/** Every `client.loadBalancer.kind`; a new kind is one file in balancers/ and one line here. */
export const balancerKinds = new KindRegistry<BalancerKind>('load balancer');
for (const kind of [roundRobinBalancer, p2cBalancer, ewmaBalancer]) balancerKinds.register(kind);

/** `client.loadBalancer` when the config says nothing: roundRobin (Linkerd's is p2c), EWMA decay 10 s. */
export function defaultLoadBalancer(): LoadBalancerConfig {
  return balancerKinds.resolve({ kind: 'roundRobin', decayTimeMs: 10_000 }).config;
}

export function createBalancer(config: LoadBalancerConfig): LoadBalancer {
  const { kind, config: full } = balancerKinds.resolve(config);
  return kind.create(full);
}
