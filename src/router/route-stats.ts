import type { Metrics } from '../telemetry/metrics.js';
import type { CounterCell } from '../telemetry/counter-cells.js';
import type { HistogramCell } from '../telemetry/histogram-cells.js';
import { STATUS_NAMES } from '../proxy/grpc.js';

/**
 * The metric cells of one (logical service, bound client) pair, resolved on first use and then
 * reused by every stream: counting a finished stream is an array index and a few additions to
 * plain numbers (prom-client sees them when the registry is read).
 */
export class RouteStats {
  private readonly byCode: (CounterCell | undefined)[] = new Array(17);
  private readonly duration: HistogramCell;
  private readonly bytesIn: CounterCell;
  private readonly bytesOut: CounterCell;

  constructor(
    private readonly metrics: Metrics,
    private readonly router: string,
    readonly service: string,
    readonly client: string,
  ) {
    this.duration = metrics.requestDuration.cell({ router, service, client });
    this.bytesIn = metrics.bytes.cell({ router, client, direction: 'request' });
    this.bytesOut = metrics.bytes.cell({ router, client, direction: 'response' });
  }

  finished(status: number, durationMs: number, bytesIn: number, bytesOut: number): void {
    const code = status >= 0 && status <= 16 ? status : 2;
    let c = this.byCode[code];
    if (c === undefined) {
      c = this.byCode[code] = this.metrics.requests.cell({ router: this.router, service: this.service, client: this.client, grpc_code: STATUS_NAMES[code]! });
    }
    c.value++;
    this.duration.observe(durationMs / 1000);
    this.bytesIn.value += bytesIn;
    this.bytesOut.value += bytesOut;
  }
}
