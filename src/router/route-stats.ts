import type { Metrics } from '../telemetry/metrics.js';
import type { CounterCell } from '../telemetry/counter-cells.js';
import type { HistogramCell } from '../telemetry/histogram-cells.js';
import { OVERFLOW_LABEL } from '../telemetry/label-budget.js';
import { SeriesOwner } from '../telemetry/series-owner.js';
import { STATUS_NAMES } from '../proxy/grpc.js';

/**
 * The metric cells of one (logical service, bound client) pair, resolved on first use and then
 * reused by every stream: counting a finished stream is an array index and a few additions to
 * plain numbers (prom-client sees them when the registry is read). The series leave `/metrics` on
 * `release()` (the client was closed), unless they are shared overflow series.
 */
export class RouteStats {
  private readonly byCode: (CounterCell | undefined)[] = new Array(17);
  private readonly duration: HistogramCell;
  private readonly series = new SeriesOwner();
  private readonly shared: boolean;

  constructor(
    private readonly metrics: Metrics,
    private readonly router: string,
    /** The `service` and `client` labels (their own values or the overflow label). */
    readonly service: string,
    readonly client: string,
    private readonly bytes: { readonly request: CounterCell; readonly response: CounterCell },
  ) {
    this.shared = service === OVERFLOW_LABEL || client === OVERFLOW_LABEL;
    this.duration = metrics.requestDuration.cell(this.own(metrics.requestDuration, { router, service, client }));
  }

  finished(status: number, durationMs: number, bytesIn: number, bytesOut: number): void {
    const code = status >= 0 && status <= 16 ? status : 2;
    let c = this.byCode[code];
    if (c === undefined) {
      const family = this.metrics.requests;
      c = this.byCode[code] = family.cell(this.own(family, { router: this.router, service: this.service, client: this.client, grpc_code: STATUS_NAMES[code]! }));
    }
    c.value++;
    this.duration.observe(durationMs / 1000);
    this.bytes.request.value += bytesIn;
    this.bytes.response.value += bytesOut;
  }

  release(): void {
    this.series.release();
  }

  private own<L extends Record<string, string>>(family: { remove(labels: L): void }, labels: L): L {
    return this.shared ? labels : this.series.own(family, labels);
  }
}
