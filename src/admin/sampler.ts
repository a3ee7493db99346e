import type { Metrics } from '../telemetry/metrics.js';
import { quantileFromBuckets } from './metrics-json.js';

/**
 * The dashboard's numbers, sampled from the one metrics registry once a second into a ring buffer.
 *
 * Why server-side: a freshly opened page gets the last minutes of history at once; every open tab
 * reads one small JSON instead of the whole registry; histogram bucket deltas (p50/p95/p99) are
 * computed where the bucket layout is known. The cost is one read of a few metric families per
 * second, independent of traffic; nothing here touches a stream.
 */

/** Cumulative values for one router (or service, or client) at one instant. */
interface Totals {
  requests: number;
  byCode: Map<string, number>;
  buckets: number[]; // cumulative histogram counts, aligned with `bounds`
  retries: number;
  inFlight: number;
}

interface Sample {
  t: number; // ms since epoch
  routers: Map<string, Totals>;
  services: ReadonlyMap<string, Totals>; // key `${router}\0${service}`
  clients: ReadonlyMap<string, Totals>; // key `${router}\0${client}`
}

/** The span over which the dashboard shows a service's or client's current rates. */
const CURRENT_WINDOW_SEC = 5;
const EMPTY: ReadonlyMap<string, Totals> = new Map();

export interface Rates {
  /** Finished streams per second. */
  rps: number;
  /** Share of finished streams with grpc-status OK; null when none finished. */
  successRate: number | null;
  /** Streams per second by gRPC status name. */
  byCode: Record<string, number>;
  p50: number | null; // milliseconds
  p95: number | null;
  p99: number | null;
  inFlight: number;
  retriesPerSec: number;
}

export interface RouterSeries {
  t: number[];
  rps: number[];
  failuresPerSec: number[];
  successRate: (number | null)[];
  p50: (number | null)[];
  p95: (number | null)[];
  p99: (number | null)[];
  inFlight: number[];
  retriesPerSec: number[];
}

function emptyTotals(nBuckets: number): Totals {
  return { requests: 0, byCode: new Map(), buckets: new Array<number>(nBuckets).fill(0), retries: 0, inFlight: 0 };
}

type Labels = Record<string, string | number | undefined>;
/** A series as prom-client reports it at runtime (its typings lose `metricName`). */
interface Series {
  value: number;
  labels: Labels;
  metricName?: string;
}
const seriesOf = (family: { values: unknown[] }) => family.values as Series[];

export class DashboardSampler {
  private readonly ring: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private bounds: number[] = [];
  private sampling: Promise<void> | undefined;

  constructor(
    private readonly metrics: Metrics,
    /** Samples kept: the charts' time span in seconds at one sample a second. */
    private readonly capacity = 300,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Take one sample now (the timer does this every second; tests call it to avoid waiting). */
  sample(): Promise<void> {
    // Never overlap two reads of the registry.
    this.sampling ??= this.read().finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  private async read(): Promise<void> {
    const m = this.metrics;
    const [requests, duration, inFlight, retries] = (
      await Promise.all([m.requests.get(), m.requestDuration.get(), m.streamsInFlight.get(), m.retries.get()])
    ).map(seriesOf) as [Series[], Series[], Series[], Series[]];
    const sample = { t: Date.now(), routers: new Map<string, Totals>(), services: new Map<string, Totals>(), clients: new Map<string, Totals>() };

    // Bucket bounds from the histogram's own series (le labels), once.
    if (this.bounds.length === 0) {
      const seen = new Set<number>();
      for (const v of duration) {
        if (v.metricName?.endsWith('_bucket')) seen.add(v.labels.le === '+Inf' ? Infinity : Number(v.labels.le));
      }
      this.bounds = [...seen].sort((a, b) => a - b);
    }
    const n = this.bounds.length;
    const index = new Map(this.bounds.map((b, i) => [b, i]));
    const totalsFor = (labels: Labels): Totals[] => {
      const router = String(labels.router ?? '');
      const out: Totals[] = [];
      const get = (map: Map<string, Totals>, key: string) => {
        let t = map.get(key);
        if (!t) map.set(key, (t = emptyTotals(n)));
        out.push(t);
      };
      get(sample.routers, router);
      if (labels.service !== undefined) get(sample.services, `${router}\0${labels.service}`);
      if (labels.client !== undefined) get(sample.clients, `${router}\0${labels.client}`);
      return out;
    };

    for (const v of requests) {
      const code = String(v.labels.grpc_code ?? 'UNKNOWN');
      for (const t of totalsFor(v.labels)) {
        t.requests += v.value;
        t.byCode.set(code, (t.byCode.get(code) ?? 0) + v.value);
      }
    }
    for (const v of duration) {
      if (!v.metricName?.endsWith('_bucket')) continue;
      const i = index.get(v.labels.le === '+Inf' ? Infinity : Number(v.labels.le));
      if (i === undefined) continue;
      for (const t of totalsFor(v.labels)) t.buckets[i]! += v.value;
    }
    for (const v of inFlight) for (const t of totalsFor(v.labels)) t.inFlight += v.value;
    for (const v of retries) for (const t of totalsFor(v.labels)) t.retries += v.value;

    this.ring.push(sample);
    if (this.ring.length > this.capacity + 1) this.ring.shift();
    // Per-service and per-client totals are read only over the last CURRENT_WINDOW_SEC: older samples
    // keep their router totals (the charts) and let the rest go, so the ring holds as many series as
    // the registry does once, not 300 times.
    const old = this.ring[this.ring.length - 1 - Math.ceil((CURRENT_WINDOW_SEC * 1000) / this.intervalMs) - 1];
    if (old !== undefined) {
      old.services = EMPTY;
      old.clients = EMPTY;
    }
  }

  /** Rates between two cumulative totals `dt` seconds apart. */
  private rates(now: Totals | undefined, before: Totals | undefined, dt: number): Rates {
    const cur = now ?? emptyTotals(this.bounds.length);
    const prev = before ?? emptyTotals(this.bounds.length);
    const requests = Math.max(0, cur.requests - prev.requests);
    const byCode: Record<string, number> = {};
    for (const [code, value] of cur.byCode) {
      const d = value - (prev.byCode.get(code) ?? 0);
      if (d > 0) byCode[code] = d / dt;
    }
    const ok = Math.max(0, (cur.byCode.get('OK') ?? 0) - (prev.byCode.get('OK') ?? 0));
    const delta = cur.buckets.map((c, i) => Math.max(0, c - (prev.buckets[i] ?? 0)));
    const q = (p: number) => {
      const s = quantileFromBuckets(this.bounds, delta, p);
      return s === undefined ? null : s * 1000;
    };
    return {
      rps: requests / dt,
      successRate: requests > 0 ? ok / requests : null,
      byCode,
      p50: q(0.5),
      p95: q(0.95),
      p99: q(0.99),
      inFlight: cur.inFlight,
      retriesPerSec: Math.max(0, cur.retries - prev.retries) / dt,
    };
  }

  /** The sample `windowSec` seconds before the newest (or the oldest one kept). */
  private window(windowSec: number): [Sample, Sample] | undefined {
    const last = this.ring[this.ring.length - 1];
    if (!last || this.ring.length < 2) return undefined;
    let first = this.ring[0]!;
    for (let i = this.ring.length - 2; i >= 0; i--) {
      first = this.ring[i]!;
      if (last.t - first.t >= windowSec * 1000 - 100) break;
    }
    return [first, last];
  }

  /** Current rates for a router, one of its services or clients, over the last `windowSec` seconds (services and clients: at most CURRENT_WINDOW_SEC). */
  current(kind: 'router' | 'service' | 'client', router: string, name = '', windowSec = CURRENT_WINDOW_SEC): Rates {
    const w = this.window(windowSec);
    const key = kind === 'router' ? router : `${router}\0${name}`;
    const pick = (s: Sample) => (kind === 'router' ? s.routers : kind === 'service' ? s.services : s.clients).get(key);
    if (!w) {
      const last = this.ring[this.ring.length - 1];
      return { ...this.rates(undefined, undefined, 1), inFlight: last ? pick(last)?.inFlight ?? 0 : 0 };
    }
    const [first, last] = w;
    return this.rates(pick(last), pick(first), Math.max(0.001, (last.t - first.t) / 1000));
  }

  /** Per-second points for a router over the ring (oldest first). */
  series(router: string): RouterSeries {
    const s: RouterSeries = { t: [], rps: [], failuresPerSec: [], successRate: [], p50: [], p95: [], p99: [], inFlight: [], retriesPerSec: [] };
    for (let i = 1; i < this.ring.length; i++) {
      const prev = this.ring[i - 1]!;
      const cur = this.ring[i]!;
      const r = this.rates(cur.routers.get(router), prev.routers.get(router), Math.max(0.001, (cur.t - prev.t) / 1000));
      s.t.push(cur.t);
      s.rps.push(r.rps);
      s.failuresPerSec.push(r.successRate === null ? 0 : r.rps * (1 - r.successRate));
      s.successRate.push(r.successRate);
      s.p50.push(r.p50);
      s.p95.push(r.p95);
      s.p99.push(r.p99);
      s.inFlight.push(r.inFlight);
      s.retriesPerSec.push(r.retriesPerSec);
    }
    return s;
  }
}
