import type { BoundName, Address, Addr } from '../dtab/name.js';
import { addressKey, addressWeight } from '../dtab/name.js';
import type { ClientConfig } from '../config/types.js';
import type { Closable } from '../util/var.js';
import type { ClientSnapshot } from '../introspection/snapshots.js';
import { NEVER_SENT, REQUEST_FAULT, TRANSPORT_FAILURE, type CallTarget, type RetryReason } from '../proxy/call.js';
import type { UpstreamOptions } from '../proxy/upstream.js';
import type { UpstreamTls } from '../tls/client-tls.js';
import type { Clock } from '../util/clock.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { GaugeCell } from '../telemetry/gauge-cells.js';
import type { CounterCell } from '../telemetry/counter-cells.js';
import { Endpoint, type EndpointMetrics } from './endpoint.js';
import type { LoadBalancer } from './balancer.js';
import { createBalancer } from './balancer-registry.js';
import { Status } from '../proxy/grpc.js';
import { LabelBudget, OVERFLOW_LABEL } from '../telemetry/label-budget.js';
import { SeriesOwner } from '../telemetry/series-owner.js';
import { defaultMetricSeriesConfig } from '../config/metric-series.js';

/**
 * The client of one bound id: the endpoint set (kept in step with the bound name's `addr` Var,
 * updated in place so streams never see a rebuilt world), a load balancer over it, failure accrual,
 * and the per-client metric children, resolved once here.
 */
export class Client implements CallTarget<Endpoint> {
  readonly id: string;
  readonly maxAttempts: number;
  private readonly byKey = new Map<string, Endpoint>();
  /** Endpoints that may get new streams, in discovery order (what balancers see). */
  private active: Endpoint[] = [];
  /** Removed endpoints still finishing streams. */
  private readonly draining = new Set<Endpoint>();
  private readonly balancer: LoadBalancer;
  private observation: Closable;
  private addr: Addr = { type: 'pending' };
  private readonly upstream: UpstreamOptions;
  private readonly m: {
    inFlight: GaugeCell;
    ejections: { inc(): void };
    available: { inc(v: number): void };
    ejectedGauge: { inc(v: number): void };
    drainingGauge: { inc(v: number): void };
  };
  /** What this client last added to the endpoint-state gauges (changed by deltas: clients may share an overflow series). */
  private shown = { available: 0, ejected: 0, draining: 0 };
  /** Every series this client created under its own label; they leave /metrics when it closes. */
  private readonly series = new SeriesOwner();
  /** The series its endpoints past the router's endpoint budget share (made at the first such endpoint). */
  private overflowEndpoint: EndpointMetrics | undefined;
  private closed = false;
  private readonly retries: Record<RetryReason, CounterCell>;
  /** DATA bytes proxied through this client, request and response direction (`kgr_bytes_total`). */
  readonly bytes: { readonly request: CounterCell; readonly response: CounterCell };
  /** Streams in flight over all endpoints (idle clients are released by the router). */
  inFlight = 0;

  constructor(
    bound: BoundName,
    private readonly config: ClientConfig,
    private readonly metrics: Metrics,
    private readonly routerLabel: string,
    /** The `client` label of its series: its id, or the overflow label once the router's budget is spent. */
    private readonly metricLabel: string = bound.id.show(),
    /** TLS towards this client's endpoints (the router's client.tls / configs[] for this id); none: h2c. */
    tls?: UpstreamTls,
    /**
     * The router's budget of (client, endpoint) pairs with `kgr_endpoint_requests_total` series of
     * their own (`metricSeries.endpoints`); a client made outside a router has one of its own, at
     * that key's default.
     */
    private readonly endpointBudget: LabelBudget = new LabelBudget(defaultMetricSeriesConfig().endpoints),
    /** Its endpoints' connect timeouts, backoff and keepalives (tests move a fake one); default the real clock. */
    clock?: Clock,
  ) {
    this.id = bound.id.show();
    this.maxAttempts = Math.max(1, config.maxAttempts);
    this.balancer = createBalancer(config.loadBalancer);
    const labels = { router: routerLabel, client: metricLabel };
    const own = <T extends string, L extends Record<T, string>>(family: { remove(l: L): void }, l: L): L =>
      metricLabel === OVERFLOW_LABEL ? l : this.series.own(family, l);
    const connects = {
      ok: metrics.clientConnects.labels(own(metrics.clientConnects, { ...labels, result: 'success' })),
      fail: metrics.clientConnects.labels(own(metrics.clientConnects, { ...labels, result: 'failure' })),
    };
    const sessions = metrics.clientConnections.labels(own(metrics.clientConnections, labels));
    const connectionLimit = metrics.limitsReached.labels({ router: routerLabel, limit: 'client.maxConnectionsPerEndpoint' });
    const sendTimeout = metrics.limitsReached.labels({ router: routerLabel, limit: 'client.sendTimeoutMs' });
    const resetLimit = metrics.limitsReached.labels({ router: routerLabel, limit: 'client.maxResetsPerConnection' });
    this.upstream = {
      connectTimeoutMs: config.connectTimeoutMs,
      keepAliveIntervalMs: config.keepAliveIntervalMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      onConnect: (ok) => (ok ? connects.ok.inc() : connects.fail.inc()),
      onSessions: (d) => sessions.inc(d),
      maxConnections: config.maxConnectionsPerEndpoint,
      maxStreamsPerConnection: config.maxStreamsPerConnection,
      onConnectionLimit: () => connectionLimit.inc(),
      sendTimeoutMs: config.sendTimeoutMs,
      onSendTimeout: () => sendTimeout.inc(),
      maxResetsPerConnection: config.maxResetsPerConnection,
      resetsRefillPerSecond: config.resetsRefillPerSecond,
      onResetLimit: () => resetLimit.inc(),
    };
    if (tls) this.upstream.tls = tls;
    if (clock) this.upstream.clock = clock;
    this.m = {
      inFlight: metrics.streamsInFlight.cell(own(metrics.streamsInFlight, labels)),
      ejections: metrics.ejections.labels(own(metrics.ejections, labels)),
      available: metrics.endpoints.labels(own(metrics.endpoints, { ...labels, state: 'available' })),
      ejectedGauge: metrics.endpoints.labels(own(metrics.endpoints, { ...labels, state: 'ejected' })),
      drainingGauge: metrics.endpoints.labels(own(metrics.endpoints, { ...labels, state: 'draining' })),
    };
    const retry = (reason: RetryReason) => metrics.retries.cell(own(metrics.retries, { ...labels, reason }));
    this.retries = { connect: retry('connect'), refused: retry('refused'), unsent: retry('unsent') };
    this.bytes = {
      request: metrics.bytes.cell(own(metrics.bytes, { ...labels, direction: 'request' })),
      response: metrics.bytes.cell(own(metrics.bytes, { ...labels, direction: 'response' })),
    };
    this.observation = bound.addr.observe((addr) => this.update(addr));
  }

  /** Follow another bound name for the same id (after a re-bind): its address set replaces ours in place. */
  follow(bound: BoundName): void {
    if (this.closed) return;
    const previous = this.observation;
    this.observation = bound.addr.observe((addr) => this.update(addr));
    previous.close();
  }

  /** Apply a new address set in place: add new endpoints, update weights, drain removed ones. */
  private update(addr: Addr): void {
    if (this.closed) return;
    this.addr = addr;
    if (addr.type !== 'bound') {
      // Neg/failed/pending keep nothing routable; 'failed' after 'bound' keeps the last good set
      // (a namer's watch error must not black-hole traffic).
      if (addr.type === 'failed' && this.active.length > 0) return;
      if (addr.type === 'pending') return;
      this.replace([]);
      return;
    }
    this.replace(addr.addrs);
  }

  private replace(addrs: readonly Address[]): void {
    const next: Endpoint[] = [];
    const seen = new Set<string>();
    for (const a of addrs) {
      const key = addressKey(a);
      if (seen.has(key)) continue;
      seen.add(key);
      let e = this.byKey.get(key);
      if (e === undefined) {
        e = new Endpoint(a, this.config.failureAccrual, this.upstream, this.endpointMetrics(key));
        this.byKey.set(key, e);
      } else {
        e.weight = addressWeight(a);
        e.meta = a.meta;
      }
      next.push(e);
    }
    for (const e of this.active) {
      if (seen.has(e.key)) continue;
      e.removed = true;
      this.byKey.delete(e.key);
      if (e.inFlight > 0) this.draining.add(e);
      else this.releaseSeries(e);
      // GOAWAY its sessions: streams in flight finish, nothing new starts there.
      e.pool.close();
    }
    this.active = next;
    this.gauges();
  }

  /**
   * The series of a new endpoint. Endpoints are as client-chosen as client ids (an `l5d-dtab` to a
   * DNS name with hundreds of addresses, the largest Services), so each (client, endpoint) pair takes
   * a place in the router's `metricSeries.endpoints` budget; past it the endpoint counts under the
   * client's `endpoint="(overflow)"` series. Balancing never looks at labels: every endpoint is used.
   */
  private endpointMetrics(key: string): EndpointMetrics {
    const family = this.metrics.endpointRequests;
    if (this.metricLabel === OVERFLOW_LABEL) {
      // Endpoints of an overflow client are as client-chosen as its id: they share its series.
      const labels = { router: this.routerLabel, client: OVERFLOW_LABEL, endpoint: OVERFLOW_LABEL };
      return { success: family.cell({ ...labels, result: 'success' }), failure: family.cell({ ...labels, result: 'failure' }) };
    }
    if (this.endpointBudget.acquire(key, this.endpointBudgetKey(key)) === OVERFLOW_LABEL) {
      // Shared by this client's endpoints past the budget: resolved (and owned) once, they leave with the client.
      return (this.overflowEndpoint ??= {
        success: family.cell(this.series.own(family, this.seriesLabels(OVERFLOW_LABEL, 'success'))),
        failure: family.cell(this.series.own(family, this.seriesLabels(OVERFLOW_LABEL, 'failure'))),
      });
    }
    // Not owned by the client's SeriesOwner: endpoints come and go with pods for as long as the
    // client lives, so each endpoint's series (and its place in the budget) leave with it (releaseSeries).
    return { success: family.cell(this.seriesLabels(key, 'success')), failure: family.cell(this.seriesLabels(key, 'failure')) };
  }

  private seriesLabels(endpoint: string, result: 'success' | 'failure') {
    return { router: this.routerLabel, client: this.metricLabel, endpoint, result };
  }

  /** What the router's endpoint budget counts: the (client, endpoint) pair. */
  private endpointBudgetKey(key: string): string {
    return `${this.metricLabel}\n${key}`;
  }

  /** A removed endpoint has finished its last stream (or the client closes): its series leave /metrics. */
  private releaseSeries(e: Endpoint): void {
    // Overflow series are shared (this client's own leave with it, through its SeriesOwner) and hold no place in the budget.
    if (this.metricLabel === OVERFLOW_LABEL || e.metrics === this.overflowEndpoint) return;
    this.endpointBudget.release(this.endpointBudgetKey(e.key));
    // A key added back meanwhile holds the pair once more and uses the same cells.
    if (this.byKey.has(e.key)) return;
    this.metrics.endpointRequests.remove(this.seriesLabels(e.key, 'success'));
    this.metrics.endpointRequests.remove(this.seriesLabels(e.key, 'failure'));
  }

  private gauges(): void {
    let ejected = 0;
    for (const e of this.active) if (e.accrual.ejected) ejected++;
    this.show({ available: this.closed ? 0 : this.active.length - ejected, ejected: this.closed ? 0 : ejected, draining: this.closed ? 0 : this.draining.size });
  }

  private show(next: { available: number; ejected: number; draining: number }): void {
    this.m.available.inc(next.available - this.shown.available);
    this.m.ejectedGauge.inc(next.ejected - this.shown.ejected);
    this.m.drainingGauge.inc(next.draining - this.shown.draining);
    this.shown = next;
  }

  get endpoints(): readonly Endpoint[] {
    return this.active;
  }

  pick(exclude: Endpoint | undefined): Endpoint | undefined {
    return this.balancer.pick(this.active, exclude);
  }

  began(e: Endpoint): void {
    e.inFlight++;
    e.requests++;
    this.inFlight++;
    this.m.inFlight.value++;
  }

  ended(e: Endpoint, status: number, latencyMs: number): void {
    e.inFlight--;
    this.inFlight--;
    this.m.inFlight.value--;
    if (status === NEVER_SENT) {
      // The endpoint never saw the stream: not one of its requests, and nothing about its health.
      e.requests--;
    } else if (status === REQUEST_FAULT) {
      // The endpoint refused a malformed request: a failure it served, nothing about its health.
      e.metrics.failure.value++;
    } else if (status === TRANSPORT_FAILURE || status === Status.UNAVAILABLE) {
      // Transport failures and UNAVAILABLE count against the endpoint; an application's own error
      // status (NOT_FOUND, …) says nothing about the endpoint's health, and a client's cancel neither.
      e.failures++;
      e.metrics.failure.value++;
      if (e.accrual.failure()) {
        this.m.ejections.inc();
        this.gauges();
      }
    } else {
      if (status === Status.OK) e.metrics.success.value++;
      else e.metrics.failure.value++;
      if (status !== Status.CANCELLED && status !== Status.DEADLINE_EXCEEDED) {
        if (e.accrual.ejectedUntil !== 0) {
          e.accrual.success();
          this.gauges();
        } else e.accrual.success();
      }
      if (latencyMs > 0) e.observeLatency(latencyMs, this.config.loadBalancer.decayTimeMs);
    }
    if (e.removed && e.inFlight === 0 && this.draining.delete(e)) {
      this.releaseSeries(e);
      this.gauges();
    }
  }

  retried(reason: RetryReason): void {
    this.retries[reason].value++;
  }

  snapshot(): ClientSnapshot {
    const addr = this.addr;
    const s: ClientSnapshot = {
      id: this.id,
      loadBalancer: this.balancer.kind,
      addr: addr.type,
      endpoints: [...this.active, ...this.draining].map((e) => e.snapshot()),
    };
    if (addr.type === 'failed') s.addrError = addr.cause;
    const tls = this.upstream.tls;
    if (tls) {
      let resumed = 0;
      for (const e of this.active) resumed += e.pool.tlsResumed;
      s.tls = { name: tls.servername ?? '(endpoint address)', validated: tls.rejectUnauthorized, resumedSessions: resumed };
    }
    return s;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.observation.close();
    this.byKey.clear(); // nothing is coming back: every endpoint's series go
    const all = [...this.active, ...this.draining];
    // Released here, once: a stream ending after the close must not give back their places in the budget again.
    this.draining.clear();
    for (const e of all) {
      e.pool.destroy();
      this.releaseSeries(e);
    }
    this.gauges();
    this.series.release();
  }
}
