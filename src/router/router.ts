import type { RouterConfig, ServerConfig } from '../config/types.js';
import type { Dtab } from '../dtab/dtab.js';
import { parseDtab } from '../dtab/parse.js';
import { DtabSyntaxError } from '../dtab/errors.js';
import { BindingCache } from '../dtab/binding-cache.js';
import type { NameInterpreter } from '../dtab/interpreter.js';
import type { Addr, BoundName } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import type { Path } from '../dtab/path.js';
import type { ActivityState } from '../util/activity.js';
import type { Var, Closable } from '../util/var.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { DtabSource, RouterSnapshot, RouterView } from './introspection.js';
import { H2Server, type StreamHandler } from '../proxy/server.js';
import { ProxyCall, type CallObserver } from '../proxy/call.js';
import { Status, encodeTimeout, parseTimeout } from '../proxy/grpc.js';
import type { HeaderMap } from '../proxy/headers.js';
import type { H2Stream } from '../h2/stream.js';
import { AccessLog } from '../proxy/access-log.js';
import { Client } from '../balancer/client.js';
import { IdentifierChain } from './identifiers/index.js';
import { Memo } from '../util/memo.js';
import { RouteStats } from './route-stats.js';
import { pickLeaf } from '../dtab/route.js';
import { LabelBudget, OVERFLOW_LABEL } from '../telemetry/label-budget.js';

export interface RouterDeps {
  interpreter: NameInterpreter;
  /** The effective base dtab (live-file dtab ++ router dtab); changes re-bind every name. */
  dtab: Var<Dtab>;
  /** What the admin shows as this router's dtab sources; default: base and effective from `dtab`. */
  dtabStatus?: () => DtabSource;
  metrics: Metrics;
  log: Logger;
}

type BoundTree = NameTree<BoundName>;

/** A bound id's balancer client, the bound names it follows (the last one checked first), its stats per logical name. */
interface ClientRecord {
  readonly client: Client;
  last: BoundName;
  readonly followed: WeakSet<BoundName>;
  /** Stats per logical service (a service past the route-series budget maps to the shared overflow stats). */
  readonly byService: Map<string, RouteStats>;
  /** The `client` label its series use (its id, or the overflow label). */
  readonly label: string;
  /** Only streams with a request-local dtab have reached it: released after the transient idle TTL. */
  transient: boolean;
  /** The router's sweep count when a stream last picked it. */
  lastUsed: number;
}

const VIA = 'h2 kube-grpc-router';
/** Sweeps per transient idle TTL: idle times are counted in sweeps, so marking use is an assignment. */
const SWEEPS_PER_TTL = 4;
const L5D_ERR_REASONS = ['no route', 'no endpoints', 'unidentified', 'bad dtab', 'binding timeout', 'loop', 'binding failed', 'too many clients'] as const;
type Reason = (typeof L5D_ERR_REASONS)[number];

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
  /** Per bound id: its balancer client, the bound names it follows, its stats per logical name. */
  private readonly clients = new Map<string, ClientRecord>();
  private readonly localDtabs = new Memo<Dtab | DtabSyntaxError>(256);
  /** Distinct `client` label values, and (service, client) pairs, with series of their own. */
  private readonly clientLabels: LabelBudget;
  private readonly routeLabels: LabelBudget;
  /** Idle sweeps after which a client goes: [routed by the router's own dtab, transient]. */
  private readonly idleSweeps: readonly [number, number];
  private readonly clientsFull: { inc(): void };
  private readonly unwatchTables: (() => void)[];
  private readonly live = new Set<ProxyCall>();
  private readonly errors: Record<Reason, { inc(): void }>;
  private readonly accessLog: AccessLog | undefined;
  private readonly emptyDtab: Dtab;
  private readonly sweeper: NodeJS.Timeout;
  /** A coarse clock (one tick per sweep) so marking a client or its stats used costs an assignment. */
  private tick = 0;
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
    this.clientsFull = limit('bindingCache.clients');
    const clientSeriesFull = limit('metricSeries.clients');
    const routeSeriesFull = limit('metricSeries.routes');
    this.unwatchTables = [
      deps.metrics.watchTable({ router: this.label, table: 'bindings' }, () => this.bindings.size),
      deps.metrics.watchTable({ router: this.label, table: 'clients' }, () => this.clients.size),
    ];
    this.clientLabels = new LabelBudget(config.metricSeries.clients, () => clientSeriesFull.inc());
    this.routeLabels = new LabelBudget(config.metricSeries.routes, () => routeSeriesFull.inc());
    this.emptyDtab = parseDtab('');
    const errors = {} as Record<Reason, { inc(): void }>;
    for (const r of L5D_ERR_REASONS) errors[r] = deps.metrics.routerErrors.cell({ router: this.label, reason: r });
    this.errors = errors;
    if (config.h2AccessLog) this.accessLog = new AccessLog(config.h2AccessLog);
    const period = Math.min(limits.transientIdleTtlMs, limits.idleTtlMs) / SWEEPS_PER_TTL;
    this.idleSweeps = [Math.ceil(limits.idleTtlMs / period), Math.ceil(limits.transientIdleTtlMs / period)];
    this.sweeper = setInterval(() => this.sweepClients(), period);
    this.sweeper.unref();
    for (const s of config.servers) {
      const connections = deps.metrics.serverConnections.labels({ router: this.label, server: `${s.ip}:${s.port}` });
      const handler = new ServerContext(this, s, deps.metrics.serverStreams.cell({ router: this.label, server: `${s.ip}:${s.port}` }));
      const closed = deps.metrics.serverConnectionsClosed;
      const labels = { router: this.label, server: `${s.ip}:${s.port}` };
      this.servers.push(
        new H2Server(s, handler, deps.log.child(labels), {
          onConnection: (d) => connections.inc(d),
          onConnectionClosed: (reason) => closed.inc({ ...labels, reason }),
          onLimit: (key) => limit(key).inc(),
        }),
      );
    }
  }

  /** Bind every server; rejects naming the ip:port that could not be bound (and unbinds the rest). */
  async start(): Promise<void> {
    try {
      for (const s of this.servers) {
        const a = await s.listen();
        this.deps.log.info('router listening', { router: this.label, ip: a.ip, port: a.port });
      }
    } catch (e) {
      await Promise.all(this.servers.map((s) => s.close()));
      throw new Error(`router ${this.label}: ${(e as Error).message}`);
    }
    this.started = true;
  }

  get boundPorts(): { ip: string; port: number }[] {
    return this.servers.flatMap((s) => (s.bound ? [s.bound] : []));
  }

  get ready(): boolean {
    return this.started && !this.draining && !this.closed;
  }

  /** @internal The stream path; `server` is the per-server context (its limits and options). */
  route(server: ServerConfig, stream: H2Stream, headers: HeaderMap): void {
    const call = new ProxyCall(stream, headers, this);
    this.live.add(call);
    if (this.accessLog !== undefined) {
      call.remote = stream.connection.socket.remoteAddress;
      call.authority = joinHeader(headers[':authority']);
      call.path = joinHeader(headers[':path']);
    }
    if (call.closed) return; // reset before we looked at it

    // Loop guard: every router appends itself to `via`; too many hops is a loop, fail fast.
    const sentVia = headers['via'];
    const via = typeof sentVia === 'string' ? sentVia : sentVia?.join(', ');
    if (via !== undefined) {
      const hops = countHops(via);
      if (hops > server.maxCallDepth) {
        this.reject(call, Status.FAILED_PRECONDITION, `Maximum number of calls (${server.maxCallDepth}) has been exceeded. Please check for proxy loops. via: ${String(via)}`, 'loop');
        return;
      }
      headers['via'] = via + ', ' + VIA;
    } else {
      headers['via'] = VIA;
    }

    // Request-local dtab: l5d-ctx-dtab ++ l5d-dtab (later wins), removed and re-sent as one l5d-ctx-dtab.
    let local = this.emptyDtab;
    if (server.clearContext) {
      clearL5dHeaders(headers);
    } else {
      const ctx = headers['l5d-ctx-dtab'];
      const user = headers['l5d-dtab'];
      if (ctx !== undefined || user !== undefined) {
        const parsed = this.localDtab(ctx, user);
        if (parsed instanceof DtabSyntaxError) {
          this.reject(call, Status.INVALID_ARGUMENT, `bad l5d-dtab/l5d-ctx-dtab header: ${parsed.message}${parsed.excerpt ? ` at ${parsed.excerpt}` : ''}`, 'bad dtab');
          return;
        }
        local = parsed;
        delete headers['l5d-dtab'];
        if (local.isEmpty) delete headers['l5d-ctx-dtab'];
        else headers['l5d-ctx-dtab'] = local.show();
      }
    }

    const name = this.identifier.identify(headers);
    if (typeof name === 'string') {
      this.reject(call, Status.UNIMPLEMENTED, `cannot identify the request: ${name}`, 'unidentified');
      return;
    }
    call.service = name.show();

    let timeout = parseTimeout(headers['grpc-timeout']);
    const total = this.config.service.totalTimeoutMs;
    if (total !== undefined && total > 0 && (timeout === undefined || total < timeout)) {
      // The router's own deadline is shorter: the endpoint is told so.
      timeout = total;
      headers['grpc-timeout'] = encodeTimeout(total);
    }
    if (timeout !== undefined) {
      call.setDeadline(timeout);
      if (call.closed || call.status >= 0) return;
    }

    const binding = this.bindings.get(name, local);
    const state = binding.sample;
    if (state.status === 'pending') {
      const ms = this.config.bindingTimeoutMs;
      new PendingWait(
        this,
        call,
        binding,
        isPendingState,
        (s) => this.dispatch(call, name, local, s),
        ms,
        `Exceeded ${ms} ms binding timeout while resolving name: ${name.show()}`,
      );
      return;
    }
    this.dispatch(call, name, local, state);
  }

  /** @internal Route a call whose binding is known. */
  dispatch(call: ProxyCall, name: Path, local: Dtab, state: ActivityState<BoundTree>, waited = false): void {
    if (call.closed) return;
    if (state.status === 'failed') {
      this.reject(call, Status.UNAVAILABLE, `binding ${name.show()} failed: ${state.error.message}; dtab: ${this.dtabText(local)}`, 'binding failed');
      return;
    }
    if (state.status === 'pending') return;
    const bound = pickLeaf(state.value);
    if (bound === undefined) {
      this.reject(call, Status.UNAVAILABLE, `no route to ${name.show()}: it binds to ${describe(state.value)} through dtab ${this.dtabText(local)}`, 'no route');
      return;
    }
    const record = this.clientFor(bound, local.isEmpty);
    if (record === undefined) {
      const max = this.config.bindingCache.clients;
      this.reject(call, Status.RESOURCE_EXHAUSTED, `router ${this.label} has ${max} bound clients with streams in flight (bindingCache.clients); cannot bind ${bound.id.show()} for ${name.show()}`, 'too many clients');
      return;
    }
    const client = record.client;
    if (client.endpoints.length === 0) {
      const a = bound.addr.sample;
      if (a.type === 'pending' && !waited) {
        // Discovery has not answered yet: wait for it within what is left of the binding timeout.
        const left = this.config.bindingTimeoutMs - (performance.now() - call.startedAt);
        if (left > 0) {
          // Let the client apply the new set (it observes the same Var) before routing.
          new PendingWait(
            this,
            call,
            bound.addr,
            isPendingAddr,
            () => queueMicrotask(() => this.dispatch(call, name, local, state, true)),
            left,
            `Exceeded binding timeout while connecting to ${name.show()}: discovery has not answered`,
          );
          return;
        }
      }
      const why = a.type === 'failed' ? `discovery failed: ${a.cause}` : a.type === 'neg' ? 'the name does not exist' : a.type === 'pending' ? 'discovery has not answered yet' : 'the endpoint set is empty';
      this.reject(call, Status.UNAVAILABLE, `no endpoints for ${client.id} (service ${name.show()}): ${why}`, 'no endpoints');
      return;
    }
    const headers = call.headers;
    headers['l5d-dst-service'] = call.service;
    headers['l5d-dst-client'] = client.id;
    if (!bound.residual.isEmpty) headers['l5d-dst-residual'] = bound.residual.show();
    call.stats = this.statsFor(record, call.service);
    record.lastUsed = this.tick;
    call.dispatch(client);
  }

  /** @internal */ reject(call: ProxyCall, status: number, message: string, reason: Reason): void {
    this.errors[reason].inc();
    if (reason === 'no route' || reason === 'no endpoints' || reason === 'binding timeout') this.deps.log.debug('router error', { router: this.label, reason, message });
    call.fail(status, message, reason);
  }

  private localDtab(ctx: string | string[] | undefined, user: string | string[] | undefined): Dtab | DtabSyntaxError {
    const key = `${joinHeader(ctx)}\n${joinHeader(user)}`;
    const hit = this.localDtabs.get(key);
    if (hit !== undefined) return hit;
    let out: Dtab | DtabSyntaxError = this.emptyDtab;
    try {
      for (const v of [...asList(ctx), ...asList(user)]) out = out.concat(parseDtab(v));
    } catch (e) {
      if (!(e instanceof DtabSyntaxError)) throw e;
      out = e;
    }
    return this.localDtabs.set(key, out);
  }

  /**
   * The client of a bound id, made on first use; `lasting` when the stream came without a
   * request-local dtab. Undefined when the table is full of clients with streams in flight.
   */
  private clientFor(bound: BoundName, lasting: boolean): ClientRecord | undefined {
    const id = bound.id.show();
    let record = this.clients.get(id);
    if (record === undefined) {
      if (this.clients.size >= this.config.bindingCache.clients) {
        this.clientsFull.inc();
        if (!this.evictIdlestClient()) return undefined;
      }
      const label = this.clientLabels.acquire(id);
      const client = new Client(bound, this.config.client, this.deps.metrics, this.label, label);
      record = { client, last: bound, followed: new WeakSet([bound]), byService: new Map(), label, transient: !lasting, lastUsed: this.tick };
      this.clients.set(id, record);
      return record;
    }
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

  /** The stats of (service, client): its own series while the route-series budget lasts, else the client's overflow stats. */
  private statsFor(record: ClientRecord, service: string): RouteStats {
    const byService = record.byService;
    let s = byService.get(service);
    if (s === undefined) {
      const shared = record.label === OVERFLOW_LABEL || this.routeLabels.acquire(`${service}\n${record.label}`) === OVERFLOW_LABEL;
      const key = shared ? OVERFLOW_LABEL : service;
      s = byService.get(key);
      if (s === undefined) byService.set(key, (s = new RouteStats(this.deps.metrics, this.label, shared ? OVERFLOW_LABEL : service, record.label, record.client.bytes)));
    }
    s.lastUsed = this.tick;
    return s;
  }

  /**
   * Close clients idle past their TTL (a dtab change moved traffic away; an override's name is no
   * longer sent), with their connections and series; and drop per-service stats idle as long.
   */
  private sweepClients(): void {
    this.tick++;
    const [lasting, transient] = this.idleSweeps;
    for (const [id, record] of this.clients) {
      if (record.client.inFlight === 0 && this.tick - record.lastUsed > (record.transient ? transient : lasting)) {
        this.closeClient(id, record);
        continue;
      }
      for (const [service, stats] of record.byService) {
        if (this.tick - stats.lastUsed > lasting) this.closeStats(record, service, stats);
      }
    }
  }

  /**
   * Make room for one client: close the oldest transient one with nothing in flight, else the oldest
   * with nothing in flight (the table is in creation order, so a flood's clients are found first).
   */
  private evictIdlestClient(): boolean {
    let idle: [string, ClientRecord] | undefined;
    for (const entry of this.clients) {
      if (entry[1].client.inFlight > 0) continue;
      if (entry[1].transient) {
        idle = entry;
        break;
      }
      idle ??= entry;
    }
    if (idle === undefined) return false;
    this.closeClient(...idle);
    return true;
  }

  private closeClient(id: string, record: ClientRecord): void {
    this.clients.delete(id);
    for (const [service, stats] of record.byService) this.closeStats(record, service, stats);
    record.client.close();
    this.clientLabels.release(record.label);
  }

  private closeStats(record: ClientRecord, service: string, stats: RouteStats): void {
    record.byService.delete(service);
    stats.release();
    if (service !== OVERFLOW_LABEL) this.routeLabels.release(`${service}\n${record.label}`);
  }

  private dtabText(local: Dtab): string {
    const base = this.deps.dtab.sample.show();
    const l = local.show();
    return `'${base}${base && l ? ';' : ''}${l}'`;
  }

  /** @internal */ finished(call: ProxyCall): void {
    this.live.delete(call);
    const durationMs = performance.now() - call.startedAt;
    const stats = call.stats as RouteStats | undefined;
    if (stats !== undefined) stats.finished(call.status, durationMs, call.bytesIn, call.bytesOut);
    if (this.accessLog !== undefined) {
      this.accessLog.write({
        remote: call.remote,
        authority: call.authority,
        path: call.path,
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
      clients: [...this.clients.values()].map((r) => r.client.snapshot()),
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
    for (const call of [...this.live]) call.fail(Status.UNAVAILABLE, `router ${this.label} is shutting down`, undefined);
    // Give the last answers a moment to be written before sockets close.
    await new Promise((r) => setTimeout(r, 20));
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    clearInterval(this.sweeper);
    for (const [id, r] of this.clients) this.closeClient(id, r);
    this.bindings.close();
    for (const unwatch of this.unwatchTables) unwatch();
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
 * `timeoutMessage` when the binding timeout runs out first.
 */
class PendingWait<T> {
  private readonly timer: NodeJS.Timeout;
  private observation: Closable | undefined;
  private settled = false;

  constructor(
    private readonly router: Router,
    private readonly call: ProxyCall,
    source: Var<T>,
    isPending: (value: T) => boolean,
    onAnswer: (value: T) => void,
    timeoutMs: number,
    private readonly timeoutMessage: string,
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
    this.router.reject(this.call, Status.UNAVAILABLE, this.timeoutMessage, 'binding timeout');
  }
}

function isPendingState(s: ActivityState<BoundTree>): boolean {
  return s.status === 'pending';
}

function isPendingAddr(a: Addr): boolean {
  return a.type === 'pending';
}

function countHops(s: string): number {
  let n = 1;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 44) n++;
  return n;
}

function clearL5dHeaders(headers: HeaderMap): void {
  for (const k of Object.keys(headers)) if (k.startsWith('l5d-')) delete headers[k];
}

function asList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
}
function joinHeader(v: string | string[] | undefined): string {
  return v === undefined ? '' : typeof v === 'string' ? v : v.join('\n');
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
