import type { RouterConfig, ServerConfig } from '../config/types.js';
import type { Dtab } from '../dtab/dtab.js';
import { DtabSyntaxError } from '../dtab/errors.js';
import { BindingCache } from '../dtab/binding-cache.js';
import type { NameInterpreter } from '../dtab/interpreter.js';
import type { Addr, BoundName } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import type { Path } from '../dtab/path.js';
import { whyPending, type ActivityState } from '../util/activity.js';
import type { Var, Closable } from '../util/var.js';
import type { Logger } from '../util/log.js';
import type { Clock } from '../util/clock.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { DtabSource, RouterSnapshot, RouterView } from './introspection.js';
import { H2Server, type StreamHandler } from '../proxy/server.js';
import { ProxyCall, type CallObserver } from '../proxy/call.js';
import { Status } from '../proxy/grpc.js';
import { ERROR_REASONS, ERROR_REASON_NAMES, type ErrorReason } from '../proxy/error-reasons.js';
import { RequestDtabTooLong, RequestDtabs, addViaHop, callDeadline, joinHeader } from './request-policy.js';
import type { HeaderMap } from '../proxy/headers.js';
import type { H2Stream } from '../h2/stream.js';
import { AccessLog } from '../proxy/access-log.js';
import { Client } from '../balancer/client.js';
import { IdentifierChain } from '../identify/chain.js';
import { RouteStats } from './route-stats.js';
import { pickLeaf } from '../dtab/route.js';
import { LabelBudget, OVERFLOW_LABEL } from '../telemetry/label-budget.js';
import { IdleTable } from '../util/idle-table.js';
import { ClientUsage } from '../util/holds-per-client.js';
import { ClientTls } from '../tls/client-tls.js';
import { EXPIRY_WARNING_DAYS, warnExpiry } from '../tls/material.js';

export interface RouterDeps {
  interpreter: NameInterpreter;
  /** The effective base dtab (live-file dtab ++ router dtab); changes re-bind every name. */
  dtab: Var<Dtab>;
  /** What the admin shows as this router's dtab sources; default: base and effective from `dtab`. */
  dtabStatus?: () => DtabSource;
  metrics: Metrics;
  log: Logger;
  /** Its clients' connect timeouts, backoff and keepalives (tests move a fake one); default the real clock. */
  clock?: Clock;
}

type BoundTree = NameTree<BoundName>;

/** A bound id's balancer client, the bound names it follows (the last one checked first), its stats per logical name. */
interface ClientRecord {
  readonly client: Client;
  last: BoundName;
  readonly followed: WeakSet<BoundName>;
  /** Stats per logical service (a service past the route-series budget maps to the shared overflow stats), released when idle. */
  readonly byService: IdleTable<string, RouteStats>;
  /** The `client` label its series use (its id, or the overflow label). */
  readonly label: string;
  /** Only streams with a request-local dtab have reached it: released after the transient idle TTL. */
  transient: boolean;
}

/** A call on this router: what it carries for the router is its route's stats. */
type RouterCall = ProxyCall<RouteStats>;
/** The reasons the router itself answers with (the call's own, `connect` and `endpoint`, come from the call). */
type RouterReason = Exclude<ErrorReason, 'connect' | 'endpoint'>;

/**
 * A router: its servers, the identifier chain, the binding cache over the interpreter, and one
 * balancer Client per bound id. Every stream flows one way:
 * server → identify (`/svc/…`) → local dtab → cached binding → weighted pick → client → endpoint.
 */
export class Router implements RouterView, CallObserver {
  readonly label: string;
  private readonly servers: H2Server[] = [];
  private readonly identifier: IdentifierChain;
  private readonly bindings: BindingCache;
  /**
   * Per bound id: its balancer client, the bound names it follows, its stats per logical name.
   * Bounded by `bindingCache.clients`; a client with streams in flight is never let go, so one
   * client address may have calls on at most `bindingCache.clientsPerClient` of them (`hold`).
   */
  private readonly clients: IdleTable<string, ClientRecord>;
  private readonly requestDtabs = new RequestDtabs();
  /** Distinct `client` label values, and (service, client) and (client, endpoint) pairs, with series of their own. */
  private readonly clientLabels: LabelBudget;
  private readonly routeLabels: LabelBudget;
  private readonly endpointLabels: LabelBudget;
  private readonly unwatchGauges: (() => void)[];
  /** Calls not finished, each with the bound id it holds for its client address once it picked one. */
  private readonly live = new Map<RouterCall, string | undefined>();
  /** The holds of calls whose stream no server counts for a client address: together, one address's. */
  private readonly unattributed = new Map<string, number>();
  private readonly sharesFull: { inc(): void };
  private readonly errors: Record<ErrorReason, { inc(): void }>;
  private readonly accessLog: AccessLog | undefined;
  /** Which bound clients speak TLS to their endpoints, with what (client.tls, client.configs). */
  private readonly clientTls: ClientTls | undefined;
  private started = false;
  private draining = false;
  private closed = false;

  constructor(
    readonly config: RouterConfig,
    private readonly deps: RouterDeps,
  ) {
    this.label = config.label;
    this.identifier = new IdentifierChain(config.identifier, config.dstPrefix);
    const limits = config.bindingCache;
    const limit = (key: string) => deps.metrics.limitsReached.labels({ router: this.label, limit: key });
    this.bindings = new BindingCache(deps.interpreter, deps.dtab, {
      maxEntries: limits.paths,
      idleTtlMs: limits.idleTtlMs,
      transientIdleTtlMs: limits.transientIdleTtlMs,
      onFull: () => bindingsFull.inc(),
    });
    const bindingsFull = limit('bindingCache.paths');
    const clientsFull = limit('bindingCache.clients');
    this.sharesFull = limit('bindingCache.clientsPerClient');
    this.clients = new IdleTable<string, ClientRecord>({
      idleTtlMs: limits.idleTtlMs,
      transientIdleTtlMs: limits.transientIdleTtlMs,
      isTransient: (r) => r.transient,
      inUse: (r) => r.client.inFlight > 0,
      maxEntries: config.bindingCache.clients,
      onFull: () => clientsFull.inc(),
      dispose: (r) => this.closeClient(r),
    });
    const clientSeriesFull = limit('metricSeries.clients');
    const routeSeriesFull = limit('metricSeries.routes');
    const endpointSeriesFull = limit('metricSeries.endpoints');
    this.unwatchGauges = [
      deps.metrics.watchTable({ router: this.label, table: 'bindings' }, () => this.bindings.size),
      deps.metrics.watchTable({ router: this.label, table: 'clients' }, () => this.clients.size),
    ];
    this.clientLabels = new LabelBudget(config.metricSeries.clients, () => clientSeriesFull.inc());
    this.routeLabels = new LabelBudget(config.metricSeries.routes, () => routeSeriesFull.inc());
    this.endpointLabels = new LabelBudget(config.metricSeries.endpoints, () => endpointSeriesFull.inc());
    const errors = {} as Record<ErrorReason, { inc(): void }>;
    for (const r of ERROR_REASON_NAMES) errors[r] = deps.metrics.routerErrors.cell({ router: this.label, reason: r });
    this.errors = errors;
    if (config.h2AccessLog) {
      const dropped = deps.metrics.accessLogDropped.cell({ router: this.label });
      this.accessLog = new AccessLog(config.h2AccessLog, (lines) => dropped.inc(lines));
    }
    const tlsFailures = (side: 'server' | 'client') => (reason: string) => deps.metrics.tlsHandshakeFailures.inc({ router: this.label, side, reason });
    if (config.client.tls || config.client.configs?.some((c) => c.tls)) {
      this.clientTls = new ClientTls(config.client, deps.log.child({ router: this.label }), tlsFailures('client'));
    }
    for (const s of config.servers) {
      const connections = deps.metrics.serverConnections.labels({ router: this.label, server: `${s.ip}:${s.port}` });
      const handler = new ServerContext(this, s, deps.metrics.serverStreams.cell({ router: this.label, server: `${s.ip}:${s.port}` }));
      const closed = deps.metrics.serverConnectionsClosed;
      const labels = { router: this.label, server: `${s.ip}:${s.port}` };
      const server = new H2Server(s, handler, deps.log.child(labels), {
        onConnection: (d) => connections.inc(d),
        onConnectionClosed: (reason) => closed.inc({ ...labels, reason }),
        onLimit: (key) => limit(key).inc(),
        onTlsFailure: tlsFailures('server'),
      });
      this.servers.push(server);
      this.unwatchGauges.push(deps.metrics.watchServerBuffer(labels, () => server.readBudget.held));
    }
  }

  /** Bind every server; rejects naming the ip:port that could not be bound (and unbinds the rest). */
  async start(): Promise<void> {
    try {
      for (const s of this.servers) {
        const a = await s.listen();
        this.deps.log.info('router listening', { router: this.label, ip: a.ip, port: a.port, ...(s.config.tls ? { tls: true } : {}) });
      }
    } catch (e) {
      await Promise.all(this.servers.map((s) => s.close()));
      throw new Error(`router ${this.label}: ${(e as Error).message}`);
    }
    this.started = true;
    for (const c of this.certificates()) if (c.daysLeft < EXPIRY_WARNING_DAYS) warnExpiry(this.deps.log, c);
  }

  /** Every certificate this router presents: its TLS servers', its client certificates. */
  certificates() {
    return [...this.servers.flatMap((s) => s.certificate() ?? []), ...(this.clientTls?.certificates() ?? [])];
  }

  get boundPorts(): { ip: string; port: number }[] {
    return this.servers.flatMap((s) => (s.bound ? [s.bound] : []));
  }

  get ready(): boolean {
    return this.started && !this.draining && !this.closed;
  }

  /**
   * The request path, composed here and nowhere else. Each stage passes the call on or answers it:
   * policy (loop guard, request-local dtab) → identify → deadline → bind (waits while the name is
   * binding) → pick (a bound leaf and its client; waits while discovery has not answered) → call.
   * `server` is the per-server context (its limits and options).
   * @internal
   */
  route(server: ServerConfig, stream: H2Stream, headers: HeaderMap): void {
    const call = this.accept(stream, headers);
    const loop = addViaHop(headers, server.maxCallDepth);
    if (loop !== undefined) return this.reject(call, 'loop', loop);
    const local = this.requestDtabs.of(headers, server.clearContext);
    if (local instanceof DtabSyntaxError) {
      return this.reject(call, 'bad dtab', `bad l5d-dtab/l5d-ctx-dtab header: ${local.message}${local.excerpt ? ` at ${local.excerpt}` : ''}`);
    }
    if (local instanceof RequestDtabTooLong) return this.reject(call, 'bad dtab', `bad l5d-dtab/l5d-ctx-dtab header: ${local.message}`);
    const name = this.identifier.identify(headers);
    if (typeof name === 'string') return this.reject(call, 'unidentified', `cannot identify the request: ${name}`);
    call.service = name.show();
    const timeout = callDeadline(headers, this.config.service.totalTimeoutMs);
    if (timeout !== undefined) {
      call.setDeadline(timeout);
      if (call.closed || call.status >= 0) return;
    }
    this.bind(call, name, local);
  }

  private accept(stream: H2Stream, headers: HeaderMap): RouterCall {
    const call: RouterCall = new ProxyCall(stream, headers, this);
    this.live.set(call, undefined);
    if (this.accessLog !== undefined) {
      call.logged = { remote: stream.connection.socket.remoteAddress, authority: joinHeader(headers[':authority']), path: joinHeader(headers[':path']) };
    }
    return call;
  }

  /** Bind: the name's tree through base ++ local dtab, from the cache; waits while it is pending. */
  private bind(call: RouterCall, name: Path, local: Dtab): void {
    const binding = this.bindings.get(name, local);
    const state = binding.sample;
    if (state.status !== 'pending') return this.pick(call, name, local, state);
    const ms = this.config.bindingTimeoutMs;
    const timedOut = (s: ActivityState<BoundTree>) => {
      const why = whyPending(s);
      return `Exceeded ${ms} ms binding timeout while resolving name: ${name.show()}${why === undefined ? '' : ` (${why})`}`;
    };
    new PendingWait(this, call, binding, isPendingState, (s) => this.pick(call, name, local, s), ms, timedOut);
  }

  /**
   * Pick: the leaf routing chooses (src/dtab/route.ts, the rules the dashboard shows), its balancer
   * client, and endpoints to balance over; waits once for discovery's first answer.
   */
  private pick(call: RouterCall, name: Path, local: Dtab, state: ActivityState<BoundTree>, waited = false): void {
    if (call.closed || state.status === 'pending') return;
    if (state.status === 'failed') {
      return this.reject(call, 'binding failed', `binding ${name.show()} failed: ${state.error.message}; dtab: ${this.dtabText(local)}`);
    }
    const bound = pickLeaf(state.value);
    if (bound === undefined) {
      return this.reject(call, 'no route', `no route to ${name.show()}: it binds to ${describe(state.value)} through dtab ${this.dtabText(local)}`);
    }
    const id = bound.id.show();
    // The address's share is checked before the client is made: past it, a call neither makes a
    // client nor evicts another address's idle one.
    if (!this.hold(call, id)) {
      const max = this.config.bindingCache.clientsPerClient;
      return this.reject(call, 'too many clients', `this client has calls in flight on ${max} bound clients of router ${this.label} (bindingCache.clientsPerClient); cannot bind ${id} for ${name.show()}`);
    }
    const record = this.clientFor(id, bound, local.isEmpty);
    if (record === undefined) {
      const max = this.config.bindingCache.clients;
      return this.reject(call, 'too many clients', `router ${this.label} has ${max} bound clients with streams in flight (bindingCache.clients); cannot bind ${id} for ${name.show()}`);
    }
    const client = record.client;
    if (client.endpoints.length > 0) return this.forward(call, record, bound);
    const a = bound.addr.sample;
    const left = this.config.bindingTimeoutMs - (performance.now() - call.startedAt);
    if (a.type === 'pending' && !waited && left > 0) {
      // Discovery has not answered yet: wait within what is left of the binding timeout, and let
      // the client apply the new set (it observes the same Var) before routing.
      const retry = () => queueMicrotask(() => this.pick(call, name, local, state, true));
      new PendingWait(this, call, bound.addr, isPendingAddr, retry, left, () => `Exceeded binding timeout while connecting to ${name.show()}: discovery has not answered`);
      return;
    }
    const why = a.type === 'failed' ? `discovery failed: ${a.cause}` : a.type === 'neg' ? 'the name does not exist' : a.type === 'pending' ? 'discovery has not answered yet' : 'the endpoint set is empty';
    this.reject(call, 'no endpoints', `no endpoints for ${client.id} (service ${name.show()}): ${why}`);
  }

  /** Call: the `l5d-dst-*` headers, the route's stats, and the call balanced over the client. */
  private forward(call: RouterCall, record: ClientRecord, bound: BoundName): void {
    const headers = call.headers;
    const client = record.client;
    headers['l5d-dst-service'] = call.service;
    headers['l5d-dst-client'] = client.id;
    if (!bound.residual.isEmpty) headers['l5d-dst-residual'] = bound.residual.show();
    call.stats = this.statsFor(record, call.service);
    call.dispatch(client);
  }

  /** @internal Answer the call with `reason`'s status (counted when the call finishes). */
  reject(call: RouterCall, reason: RouterReason, message: string): void {
    if (reason === 'no route' || reason === 'no endpoints' || reason === 'binding timeout') this.deps.log.debug('router error', { router: this.label, reason, message });
    call.fail(ERROR_REASONS[reason], message, reason);
  }

  /**
   * Count `call` against its client address's share as holding bound id `id` until it finishes
   * (a call that picks again after waiting for discovery moves its hold); false, holding nothing,
   * when the address already holds `bindingCache.clientsPerClient` other ids. A client with calls in
   * flight is never evicted, so the rest of the table stays for the other addresses.
   */
  private hold(call: RouterCall, id: string): boolean {
    const prev = this.live.get(call);
    if (prev === id) return true;
    const share = this.shareOf(call);
    if (prev !== undefined) {
      unhold(share, prev);
      this.live.set(call, undefined);
    }
    const calls = share.get(id);
    if (calls === undefined && share.size >= this.config.bindingCache.clientsPerClient) {
      this.sharesFull.inc();
      return false;
    }
    share.set(id, (calls ?? 0) + 1);
    this.live.set(call, id);
    return true;
  }

  /**
   * Calls in flight per bound id of `call`'s client address: held by what its server counts for the
   * address (ClientUsage, which goes with the address's last connection), so nothing here outlives it.
   */
  private shareOf(call: RouterCall): Map<string, number> {
    const usage = call.inbound.shares;
    return usage instanceof ClientUsage ? (usage.boundClients ??= new Map()) : this.unattributed;
  }

  /**
   * The client of bound id `id`, made on first use; `lasting` when the stream came without a
   * request-local dtab. Undefined when the table is full of clients with streams in flight.
   */
  private clientFor(id: string, bound: BoundName, lasting: boolean): ClientRecord | undefined {
    // The client almost always exists: no closure for its maker on that path.
    let entry = this.clients.peek(id);
    if (entry !== undefined) entry.touch();
    else entry = this.clients.get(id, () => this.newClient(id, bound, lasting));
    if (entry === undefined) return undefined;
    const record = entry.value;
    if (lasting) record.transient = false;
    if (record.last !== bound) {
      record.last = bound;
      if (!record.followed.has(bound)) {
        // A re-bind (dtab or namer change) produced a new bound name for this id: follow its addresses.
        record.followed.add(bound);
        record.client.follow(bound);
      }
    }
    return record;
  }

  private newClient(id: string, bound: BoundName, lasting: boolean): ClientRecord {
    const label = this.clientLabels.acquire(id);
    const client = new Client(bound, this.config.client, this.deps.metrics, this.label, label, this.clientTls?.forId(bound.id.segments), this.endpointLabels, this.deps.clock);
    const byService = new IdleTable<string, RouteStats>({
      idleTtlMs: this.config.bindingCache.idleTtlMs,
      dispose: (stats, service) => {
        stats.release();
        if (service !== OVERFLOW_LABEL) this.routeLabels.release(`${service}\n${label}`);
      },
    });
    return { client, last: bound, followed: new WeakSet([bound]), byService, label, transient: !lasting };
  }

  /** The stats of (service, client): its own series while the route-series budget lasts, else the client's overflow stats. */
  private statsFor(record: ClientRecord, service: string): RouteStats {
    const byService = record.byService;
    const own = byService.peek(service);
    if (own !== undefined) {
      own.touch();
      return own.value;
    }
    // The client label was checked for length when the client was made; the service is checked here.
    const shared = record.label === OVERFLOW_LABEL || this.routeLabels.acquire(service, `${service}\n${record.label}`) === OVERFLOW_LABEL;
    const key = shared ? OVERFLOW_LABEL : service;
    return byService.get(key, () => new RouteStats(this.deps.metrics, this.label, key, record.label, record.client.bytes))!.value;
  }

  /** A client the table let go (idle past its TTL, evicted, or the router closing): its connections and series go. */
  private closeClient(record: ClientRecord): void {
    record.byService.close();
    record.client.close();
    this.clientLabels.release(record.label);
  }

  private dtabText(local: Dtab): string {
    const base = this.deps.dtab.sample.show();
    const l = local.show();
    return `'${base}${base && l ? ';' : ''}${l}'`;
  }

  /** @internal */ finished(call: RouterCall): void {
    const held = this.live.get(call);
    if (held !== undefined) unhold(this.shareOf(call), held);
    this.live.delete(call);
    const durationMs = performance.now() - call.startedAt;
    if (call.errorReason !== undefined) this.errors[call.errorReason].inc();
    const stats = call.stats;
    if (stats !== undefined) stats.finished(call.status, durationMs, call.bytesIn, call.bytesOut);
    if (this.accessLog !== undefined) {
      this.accessLog.write({
        remote: call.logged?.remote,
        authority: call.logged?.authority,
        path: call.logged?.path,
        service: call.service,
        endpoint: call.endpoint?.key,
        httpStatus: call.httpStatus,
        grpcStatus: call.status,
        durationMs,
        bytesIn: call.bytesIn,
        bytesOut: call.bytesOut,
      });
    }
    if (this.draining && this.live.size === 0) this.drained?.();
  }

  private drained: (() => void) | undefined;

  snapshot(): RouterSnapshot {
    const dtab = this.deps.dtabStatus?.() ?? { base: this.config.dtab, effective: this.deps.dtab.sample.show() };
    // The services are the logical names with a cached binding; peeking keeps none of them alive.
    const byName = new Map<string, Set<string>>();
    for (const b of this.bindings.peek()) {
      const name = b.path.show();
      let ids = byName.get(name);
      if (ids === undefined) byName.set(name, (ids = new Set()));
      const st = b.state.sample;
      if (st.status === 'ok') for (const id of boundIds(st.value)) ids.add(id);
    }
    const services: RouterSnapshot['services'] = [...byName].map(([name, ids]) => ({ name, clients: [...ids] }));
    return {
      label: this.label,
      servers: this.servers.map((s) => s.bound ?? { ip: s.config.ip, port: s.config.port }),
      dtab,
      services,
      clients: [...this.clients.values()].map((e) => e.value.client.snapshot()),
      certificates: this.certificates(),
    };
  }

  /**
   * Stop taking new work: GOAWAY every client connection, let streams in flight finish for up to
   * `graceMs`, answer the rest UNAVAILABLE, then close endpoint sessions and listeners.
   */
  async drain(graceMs: number): Promise<void> {
    if (this.closed) return;
    this.draining = true;
    for (const s of this.servers) s.goaway();
    if (this.live.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        timer.unref();
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const call of [...this.live.keys()]) call.fail(Status.UNAVAILABLE, `router ${this.label} is shutting down`, undefined);
    // Give the last answers a moment to be written before sockets close.
    await new Promise((r) => setTimeout(r, 20));
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    this.clients.close();
    this.bindings.close();
    for (const unwatch of this.unwatchGauges) unwatch();
    this.clientTls?.close();
    await Promise.all(this.servers.map((s) => s.close()));
    await this.accessLog?.close();
  }
}

/** The per-server face of a router: its options and counter, then the router's one stream path. */
class ServerContext implements StreamHandler {
  constructor(
    private readonly router: Router,
    private readonly config: ServerConfig,
    private readonly streams: { inc(): void },
  ) {}

  handleStream(stream: H2Stream, headers: HeaderMap): void {
    this.streams.inc();
    this.router.route(this.config, stream, headers);
  }
}

/**
 * A stream waiting for a value to stop being pending (cold path: a name still binding, or a bound
 * name whose discovery has not answered): continues once it does, or answers UNAVAILABLE with
 * `timeoutMessage` of the value then (which may say why it still waits) when the binding timeout runs out first.
 */
class PendingWait<T> {
  private readonly timer: NodeJS.Timeout;
  private observation: Closable | undefined;
  private settled = false;

  constructor(
    private readonly router: Router,
    private readonly call: RouterCall,
    private readonly source: Var<T>,
    isPending: (value: T) => boolean,
    onAnswer: (value: T) => void,
    timeoutMs: number,
    private readonly timeoutMessage: (value: T) => string,
  ) {
    this.timer = setTimeout(() => this.timeout(), timeoutMs);
    call.whenDone(() => this.settle());
    this.observation = source.observe((value) => {
      if (isPending(value) || this.settled) return;
      this.settle();
      onAnswer(value);
    });
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    // Closing inside the observer's first call is fine: Var.observe returns after it.
    this.call.whenDone(undefined);
    queueMicrotask(() => this.observation?.close());
  }

  private timeout(): void {
    if (this.settled) return;
    this.settle();
    this.router.reject(this.call, 'binding timeout', this.timeoutMessage(this.source.sample));
  }
}

function isPendingState(s: ActivityState<BoundTree>): boolean {
  return s.status === 'pending';
}

function isPendingAddr(a: Addr): boolean {
  return a.type === 'pending';
}

function describe(tree: BoundTree): string {
  switch (tree.kind) {
    case 'neg':
      return 'nothing (Neg)';
    case 'fail':
      return 'a failure (Fail)';
    case 'empty':
      return 'an empty set (Empty)';
    default:
      return 'no usable branch';
  }
}

function boundIds(tree: BoundTree): string[] {
  switch (tree.kind) {
    case 'leaf':
      return [tree.value.id.show()];
    case 'union':
      return tree.trees.flatMap((w) => boundIds(w.tree));
    case 'alt':
      return tree.trees.flatMap((t) => boundIds(t));
    default:
      return [];
  }
}

/** One call of a client address's `share` no longer holds bound id `id`. */
function unhold(share: Map<string, number>, id: string): void {
  const calls = share.get(id)!;
  if (calls > 1) share.set(id, calls - 1);
  else share.delete(id);
}
