import type { Address } from '../dtab/name.js';
import { addressKey, addressWeight } from '../dtab/name.js';
import type { FailureAccrualConfig } from '../config/types.js';
import type { EndpointSnapshot } from '../introspection/snapshots.js';
import type { CallEndpoint } from '../proxy/call.js';
import { SessionPool, type UpstreamOptions } from '../proxy/upstream.js';
import type { FailureAccrual } from './failure-accrual.js';
import { createFailureAccrual } from './accrual-registry.js';
import type { CounterCell } from '../telemetry/counter-cells.js';

/** Per-endpoint counters a client pre-resolves once (metric cells), never per stream. */
export interface EndpointMetrics {
  readonly success: CounterCell;
  readonly failure: CounterCell;
}

/**
 * One address of a client: its connections, the load the balancers read (streams in flight,
 * peak-EWMA latency), and its failure-accrual record.
 */
export class Endpoint implements CallEndpoint {
  readonly key: string;
  readonly pool: SessionPool;
  weight: number;
  meta: Readonly<Record<string, string>>;
  inFlight = 0;
  requests = 0;
  failures = 0;
  /** Peak-EWMA latency in ms (0 until a stream finished) and when it was last updated. */
  ewmaMs = 0;
  ewmaAt = 0;
  /** Removed by discovery: no new streams, in-flight ones finish. */
  removed = false;
  readonly accrual: FailureAccrual;

  constructor(
    address: Address,
    accrual: FailureAccrualConfig,
    upstream: UpstreamOptions,
    readonly metrics: EndpointMetrics,
  ) {
    this.key = addressKey(address);
    this.weight = addressWeight(address);
    this.meta = address.meta;
    this.pool = new SessionPool(address.host, address.port, upstream);
    this.accrual = createFailureAccrual(accrual);
  }

  /** Can take a new stream: present, not ejected, not backing off after a failed connect. */
  get available(): boolean {
    return !this.removed && !this.accrual.ejected && !this.pool.backingOff;
  }

  /** Peak EWMA (Finagle's `PeakEwma`): decays towards new samples, jumps up to a slower one. */
  observeLatency(ms: number, decayMs: number): void {
    const now = performance.now();
    if (this.ewmaAt === 0) {
      this.ewmaMs = ms;
    } else if (ms > this.ewmaMs) {
      this.ewmaMs = ms;
    } else {
      const w = Math.exp(-(now - this.ewmaAt) / decayMs);
      this.ewmaMs = this.ewmaMs * w + ms * (1 - w);
    }
    this.ewmaAt = now;
  }

  snapshot(): EndpointSnapshot {
    const state = this.removed ? 'draining' : this.accrual.ejected ? 'ejected' : this.pool.state;
    const s: EndpointSnapshot = {
      address: this.key,
      weight: this.weight,
      state,
      inFlight: this.inFlight,
      requests: this.requests,
      failures: this.failures,
    };
    if (this.meta['nodeName'] !== undefined) s.nodeName = this.meta['nodeName'];
    if (this.meta['zone'] !== undefined) s.zone = this.meta['zone'];
    if (this.ewmaAt !== 0) s.latencyMs = Math.round(this.ewmaMs * 1000) / 1000;
    return s;
  }
}
