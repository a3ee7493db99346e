import type { Metrics } from '../telemetry/metrics.js';
import { STATUS_NAMES } from '../proxy/grpc.js';

interface Inc {
  inc(): void;
}
interface Observe {
  observe(v: number): void;
}

/**
 * The metric children of one (logical service, bound client) pair, resolved on first use and then
 * reused by every stream: counting a finished stream is an array index and an `inc()`.
 */
export class RouteStats {
  private readonly byCode: (Inc | undefined)[] = new Array(17);
  private readonly duration: Observe;
  private readonly bytesIn: { inc(v: number): void };
  private readonly bytesOut: { inc(v: number): void };

  constructor(
    private readonly metrics: Metrics,
    private readonly router: string,
    readonly service: string,
    readonly client: string,
  ) {
    this.duration = metrics.requestDuration.labels({ router, service, client });
    this.bytesIn = metrics.bytes.labels({ router, client, direction: 'request' });
    this.bytesOut = metrics.bytes.labels({ router, client, direction: 'response' });
  }

  finished(status: number, durationMs: number, bytesIn: number, bytesOut: number): void {
    const code = status >= 0 && status <= 16 ? status : 2;
    let c = this.byCode[code];
    if (c === undefined) {
      c = this.byCode[code] = this.metrics.requests.labels({ router: this.router, service: this.service, client: this.client, grpc_code: STATUS_NAMES[code]! });
    }
    c.inc();
    this.duration.observe(durationMs / 1000);
    if (bytesIn > 0) this.bytesIn.inc(bytesIn);
    if (bytesOut > 0) this.bytesOut.inc(bytesOut);
  }
}
